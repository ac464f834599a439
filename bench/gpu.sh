#!/usr/bin/env bash
# GPU benchmark: run by hand on a machine with an NVIDIA GPU, never by CI. Takes under 8 minutes:
# install (~1 min), generate a 1.5B-parameter model (~1 min), 12 scoring runs (~3 min on one H200).
set -euo pipefail
cd "$(dirname "$0")/.."
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || echo "no nvidia-smi: is this a GPU machine?"
npm install --no-audit --no-fund
node bin/nemoreward.js score fixtures/conversations.jsonl -m fixtures/models/tiny-reward.gguf --gpu cuda --gpu-layers max 2>&1 >/dev/null | head -1
node dist/bench/gpuBench.js
