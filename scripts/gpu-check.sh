#!/usr/bin/env bash
# The GPU check, in one call on a machine with an NVIDIA GPU (about 5 minutes on an H100):
#   1. kforge devices: what the backend reads off the device;
#   2. the GPU tests: every GPU reference against the CPU oracle on the check sizes (conformance), the GPU
#      exploit kernels (writes nothing, own stream, caches outputs, skips work while timed, illegal address),
#      and cold timing with events and flushes;
#   3. a bench of 8 tasks (references and the cuBLAS baselines) into a SQLite file;
# then prints a compact table last. Run it from an unpacked `make gpu-bundle` folder (it lives at its root),
# or from a source tree whose build/bundle holds the same binaries. Logs and the database go to $OUT (or ./gpu-check-out).
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
if [ -x "$here/bin/kforge" ]; then
  bin="$here/bin"
  share="$here/share/kforge"
else
  echo "gpu-check: no bin/kforge beside this script; run it from a 'make gpu-bundle' folder" >&2
  exit 2
fi
out="${OUT:-$PWD/gpu-check-out}"
mkdir -p "$out"
export XDG_CACHE_HOME="$out/cache"
export KFORGE_TEST_SOURCE_DIR="$share"
export KFORGE_TEST_CACHE_DIR="$out/test-cache"
export PATH="$PATH:/usr/local/cuda/bin"
# The bundle's libraries for what they load in turn (the binaries find their own through RPATH).
export LD_LIBRARY_PATH="$here/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
start=$(date +%s)

nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm,temperature.gpu,power.draw --format=csv \
  >"$out/nvidia-smi.csv" 2>&1 || true
"$bin/kforge" devices >"$out/devices.txt" 2>&1
cat "$out/devices.txt"

timeout 300 "$bin/kforge_gpu_tests" --gtest_output="json:$out/gpu-tests.json" >"$out/gpu-tests.log" 2>&1
tests_rc=$?
tail -n 30 "$out/gpu-tests.log"

tasks=vector_add,softmax,layer_norm,gelu,sum_rows,matmul,conv2d,attention
timeout 240 "$bin/kforge" bench --backend cuda --tasks "$tasks" --tasks-dir "$share/tasks" --db "$out/kforge-gpu.db" \
  --max-time 1 >"$out/bench.log" 2>&1
bench_rc=$?

echo
echo "===== kforge GPU check ($(( $(date +%s) - start )) s) ====="
head -n 2 "$out/nvidia-smi.csv"
grep -E '^\[==========\]|^\[  PASSED  \]|^\[  FAILED  \]|SKIPPED' "$out/gpu-tests.log" | tail -n 12
echo "gpu tests exit code: $tests_rc"
sed -n '/^TASK /,$p' "$out/bench.log" | tail -n 30
echo "bench exit code: $bench_rc"
[ "$tests_rc" = 0 ] && [ "$bench_rc" = 0 ]
