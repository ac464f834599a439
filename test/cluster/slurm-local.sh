#!/usr/bin/env bash
# A copy of the workplace's shared/tools/slurm-local.sh, kept with the tests so that a clean clone runs them.
# Starts a one-node Slurm cluster on this machine for tests: munge + slurmctld + slurmd from Debian's packages
# (installed on first use, about a minute; needs root). Prints the SLURM_CONF path to export. A cluster already
# answering is reused. `slurm-local.sh stop` stops the daemons this script started.
set -u
D="${SLURM_LOCAL_DIR:-${TMPDIR:-/tmp}/slurm-local}"; CONF="$D/slurm.conf"
if [ "${1:-}" = stop ]; then
  for f in "$D/slurmd.pid" "$D/slurmctld.pid"; do [ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null; done
  exit 0
fi
mkdir -p "$D/spool-d" "$D/state"
if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null || ! command -v sbatch >/dev/null; then
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurmctld slurmd slurm-client munge) \
    > "$D/install.log" 2>&1 || { echo "slurm-local: install failed (see $D/install.log)" >&2; exit 1; }
fi
H=$(hostname -s)
cat > "$CONF" <<CONF
ClusterName=local
SlurmctldHost=$H
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
SlurmctldPidFile=$D/slurmctld.pid
SlurmdPidFile=$D/slurmd.pid
SlurmdSpoolDir=$D/spool-d
StateSaveLocation=$D/state
SlurmUser=root
SlurmctldLogFile=$D/slurmctld.log
SlurmdLogFile=$D/slurmd.log
JobCompType=jobcomp/none
JobAcctGatherType=jobacct_gather/none
MpiDefault=none
NodeName=$H CPUs=$(nproc) RealMemory=4000 State=UNKNOWN
PartitionName=main Nodes=$H Default=YES MaxTime=INFINITE State=UP
CONF
export SLURM_CONF="$CONF"
if ! sinfo -h >/dev/null 2>&1; then
  mkdir -p /run/munge && chown munge:munge /run/munge 2>/dev/null
  munge -n >/dev/null 2>&1 || su -s /bin/sh munge -c /usr/sbin/munged >/dev/null 2>&1 || /usr/sbin/munged --force
  /usr/sbin/slurmctld -f "$CONF" && /usr/sbin/slurmd -f "$CONF"
  for _ in $(seq 1 30); do sinfo -h -o %t 2>/dev/null | grep -q idle && break; sleep 1; done
fi
sinfo -h -o %t 2>/dev/null | grep -q 'idle\|mix\|alloc' || { echo "slurm-local: the cluster did not come up (see $D/slurmctld.log)" >&2; exit 1; }
echo "$CONF"
