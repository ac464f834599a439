import { execFileSync, spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { cli, dataset, newDir, repoRoot, tinyModel, uninterruptedOutput } from "../helpers.js";
import { readmeBlock } from "./readme.js";

/**
 * A real Slurm (munge, slurmctld, slurmd from Debian's packages, one node, started by slurm-local.sh: about a minute
 * to install on a fresh machine, as root). The README's array script is submitted as it is (but for its GPU request:
 * this node has none), one task is requeued with `scontrol requeue` while it writes, the README's merge runs after
 * the array with `--dependency=afterok`, and the merged file is compared with one unsharded run byte for byte.
 */
let env: NodeJS.ProcessEnv;
/** Slurm can be installed (as root, from Debian's packages; CI runs as root) or is there already; else skipped, visibly. */
const canRun = process.getuid?.() === 0 || spawnSync("sh", ["-c", "command -v sbatch && command -v slurmctld"]).status === 0;
const slurm = (command: string, args: string[], cwd?: string) => execFileSync(command, args, { env, cwd, encoding: "utf8" }).trim();
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

beforeAll(() => {
    if (!canRun) return;
    const started = spawnSync("bash", [join(repoRoot, "test/cluster/slurm-local.sh")], { encoding: "utf8" });
    if (started.status !== 0) throw new Error(`slurm-local.sh could not start a Slurm cluster: ${started.stderr}`);
    env = { ...process.env, SLURM_CONF: started.stdout.trim() };
}, 600_000);

describe.runIf(canRun)("on a real Slurm (as root, or with Slurm installed)", () => {
    it("the README's array (ids from 1), a task requeued mid-run, the README's merge after it: byte for byte one run", { timeout: 600_000 }, async () => {
        const folder = newDir("slurm");
        const rows = 2400;
        writeFileSync(join(folder, "input.jsonl"), dataset(rows));
        // `nemoreward` on the jobs' PATH is this checkout's CLI; the model comes from NEMOREWARD_MODEL, as in a real job
        mkdirSync(join(folder, "bin"));
        writeFileSync(join(folder, "bin", "nemoreward"), `#!/bin/sh\nexec "${process.execPath}" "${cli}" "$@"\n`);
        chmodSync(join(folder, "bin", "nemoreward"), 0o755);
        env = { ...env, PATH: `${join(folder, "bin")}:${process.env["PATH"]}`, NEMOREWARD_MODEL: tinyModel, NEMOREWARD_THREADS: "1" };

        const script = readmeBlock("slurm-array");
        expect(script).toMatch(/^#SBATCH --array=1-(\d+)$/m);
        const tasks = Number(/^#SBATCH --array=1-(\d+)$/m.exec(script)![1]);
        writeFileSync(join(folder, "score.sbatch"), script.replace(/^#SBATCH --gres=.*\n/m, ""));
        // the README's merge step, which submits the array itself; its job ids are printed for the test
        const submitted = slurm("bash", ["-c", `${readmeBlock("slurm-merge").trim()}\necho "$job"`], folder).split("\n");
        const job = submitted.at(-1)!;
        expect(job).toMatch(/^\d+$/);
        const merge = /Submitted batch job (\d+)/.exec(submitted.join("\n"))![1]!;

        // requeue the first task seen running with some of its rows written, and not all
        const share = rows / tasks;
        let requeued: number | undefined;
        for (let tries = 0; requeued === undefined && tries < 2400; tries++) {
            const running = slurm("squeue", ["-h", "-r", "-j", job, "-t", "R", "-o", "%K"]).split("\n").filter(Boolean).map(Number);
            for (const id of running) {
                const part = join(folder, "out", `part-${id - 1}-of-${tasks}.jsonl`);
                const written = existsSync(part) ? readFileSync(part, "utf8").split("\n").length - 1 : 0;
                if (written > 0 && written < share - 50) {
                    slurm("scontrol", ["requeue", `${job}_${id}`]);
                    requeued = id;
                    break;
                }
            }
            await pause(50);
        }
        expect(requeued, "a task seen writing").toBeDefined();
        // Slurm holds a requeued task back for a while (about two minutes here): made eligible at once, as an
        // administrator may, so that the test waits for nemoreward rather than for that delay
        for (let tries = 0; tries < 200; tries++) {
            if (slurm("squeue", ["-h", "-r", "-j", job, "-t", "PD", "-o", "%K"]).split("\n").includes(String(requeued))) {
                slurm("scontrol", ["update", `JobId=${job}_${requeued}`, "StartTime=now"]);
                break;
            }
            await pause(100);
        }

        // every job ends (the merge runs once the array succeeded)
        const pending = () => slurm("squeue", ["-h", "-o", "%i"]).split("\n").some((id) => id.startsWith(`${job}_`) || id === job || id === merge);
        for (let tries = 0; tries < 2400 && pending(); tries++) await pause(250);
        const logs = readdirSync(join(folder, "logs")).map((name) => `${name}:\n${readFileSync(join(folder, "logs", name), "utf8")}`).join("\n");
        expect(existsSync(join(folder, "scored.jsonl")), logs).toBe(true);
        // the requeued task ran twice, the second time continuing its part
        expect(readFileSync(join(folder, "logs", `score-${job}_${requeued}.log`), "utf8")).toMatch(/resuming after the \d+ rows? already in/);
        expect(readFileSync(join(folder, "scored.jsonl"), "utf8")).toBe(await uninterruptedOutput(join(folder, "input.jsonl"))());
    });
});
