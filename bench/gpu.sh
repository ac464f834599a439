#!/usr/bin/env bash
# GPU benchmark: run by hand on a machine with an NVIDIA GPU, never by CI. Installs, generates a 1.5B-parameter
# model (~1 min) and prints tokens/s for --parallel 1/4/16 and for node-llama-cpp alone (~3 min on one H200).
# With internet: `npm install` fetches node-llama-cpp's prebuilt CUDA backend (~1 min).
# Without: run bash bench/offline-pack.sh on a connected machine first and bring .offline/ along; the CUDA
# backend is then built here from node-llama-cpp's llama.cpp source with the local CUDA toolkit (nvcc, cmake).
# GPU_BENCH_SMOKE=1 runs a tiny version that also passes without a GPU; BENCH_BUILD_GPU=false builds the CPU
# backend instead of CUDA (both only to check this script on a machine without a GPU).
set -euo pipefail
cd "$(dirname "$0")/.."
step() { printf '== %s (at %d s)\n' "$1" "$SECONDS" >&2; }
smoke=${GPU_BENCH_SMOKE:-0}
build_gpu=${BENCH_BUILD_GPU:-cuda}
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader >&2 || echo "no nvidia-smi: is this a GPU machine?" >&2
[ -d /usr/local/cuda/bin ] && export PATH="$PATH:/usr/local/cuda/bin" LD_LIBRARY_PATH="${LD_LIBRARY_PATH:+$LD_LIBRARY_PATH:}/usr/local/cuda/lib64"

if [ -d .offline ]; then
    step "unpacking .offline"
    node_home=/tmp/nemoreward-node
    mkdir -p "$node_home" && tar xJf .offline/node.tar.xz -C "$node_home"
    export PATH="$node_home/bin:$PATH" npm_config_nodedir="$node_home"
    [ -d node_modules/node-llama-cpp/llama/llama.cpp ] || tar xJf .offline/app.tar.xz
    probe='import { getLlama } from "node-llama-cpp";
        const llama = await getLlama({ gpu: process.argv[1] === "false" ? false : process.argv[1], build: "never", progressLogs: false });
        console.error(`backend ready: ${llama.gpu || "cpu"}`);'
    if ! node --input-type=module -e "$probe" "$build_gpu" 2>/dev/null; then
        step "building node-llama-cpp's $build_gpu backend from source"
        node node_modules/node-llama-cpp/dist/cli/cli.js source build --gpu "$build_gpu" --noUsageExample >&2
        node --input-type=module -e "$probe" "$build_gpu"
    fi
else
    step "npm install"
    npm install --no-audit --no-fund
fi

step "checking that CUDA starts"
if ! warning=$(node bin/nemoreward.js score fixtures/conversations.jsonl -m fixtures/models/tiny-reward.gguf \
        --gpu cuda --gpu-layers max 2>&1 >/dev/null | grep -i "falling back"); then
    echo "CUDA started" >&2
elif [ "$smoke" = 1 ]; then
    echo "$warning (smoke run: going on with the CPU)" >&2
else
    echo "$warning: stopping, this would measure the CPU" >&2
    exit 1
fi

step "benchmark"
node dist/bench/gpuBench.js
step "done"
