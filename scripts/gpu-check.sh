#!/usr/bin/env bash
# The GPU check, in one call on a machine with an NVIDIA GPU, within 8 minutes on one H200: a lent GPU machine gives
# 15 minutes in all, its start-up included. The steps run in order of value, each under its own limit (together
# 460 s), so a slow step costs only its own figures:
#   machine   30 s  nvidia-smi; whose C++ runtime kforge uses here (gpu-bundle-runtime.sh); kforge devices
#   compile  100 s  builds what the later steps run, in parallel on every core, into the compile cache they share:
#                   every GPU kernel for this GPU and every CPU oracle. The bundle's warm cache (sm_90) is unpacked
#                   first, so with the CUDA it was built with only the CPU oracles compile here
#   tests    100 s  the GPU tests but conformance: device facts, cold timing with events and flushes, the GPU
#                   exploit kernels, the cuBLAS baselines against the CPU oracle
#   bench     90 s  a bench of 4 tasks (references, cuBLAS and PyTorch eager baselines) into a SQLite file
#   conform  140 s  every GPU reference against the CPU oracle on the check sizes
# then prints a table last: step, status, seconds, key figures. Run it from an unpacked `make gpu-bundle` folder
# (it lives at its root). Logs, the table and the database go to $OUT (or ./gpu-check-out), 7 files; the compile
# cache to $KFORGE_CHECK_WORK (default $TMPDIR/kforge-gpu-check), which a rerun on the same machine reuses.
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
if [ ! -x "$here/bin/kforge" ]; then
  echo "gpu-check: no bin/kforge beside this script; run it from a 'make gpu-bundle' folder" >&2
  exit 2
fi
bin="$here/bin"
share="$here/share/kforge"
out="${OUT:-$PWD/gpu-check-out}"
work="${KFORGE_CHECK_WORK:-${TMPDIR:-/tmp}/kforge-gpu-check}"
mkdir -p "$out" "$work"
# shellcheck source=gpu-bundle-runtime.sh
source "$here/gpu-bundle-runtime.sh"

# One compile cache for kforge compile, the GPU tests and the bench; nothing of the bundle on LD_LIBRARY_PATH, which
# nvcc and g++ inherit (the binaries find the bundle's libraries through their RPATH).
export XDG_CACHE_HOME="$work/xdg"
export KFORGE_TEST_CACHE_DIR="$XDG_CACHE_HOME/kforge"
export KFORGE_TEST_SOURCE_DIR="$share"
export PATH="$PATH:/usr/local/cuda/bin"
mkdir -p "$KFORGE_TEST_CACHE_DIR"
# The bundle's warm cache; what a rerun compiled here already stays.
if [ -f "$here/cache.tar.xz" ]; then
  tar -C "$XDG_CACHE_HOME" --skip-old-files -xJf "$here/cache.tar.xz" 2>/dev/null ||
    echo "gpu-check: the bundle's compile cache did not unpack (no xz?): everything compiles here" >&2
fi

start=$(date +%s)
rows=()
overall=0
# run_step NAME LIMIT LOG COMMAND...: runs COMMAND under LIMIT seconds, its output appended to LOG; sets
# step_status and step_seconds.
run_step() {
  local name="$1" limit="$2" log="$3" begin rc
  shift 3
  begin=$(date +%s)
  echo "== $name (limit ${limit} s): $*" >>"$log"
  timeout -k 5 "$limit" "$@" >>"$log" 2>&1
  rc=$?
  step_seconds=$(($(date +%s) - begin))
  case "$rc" in
    0) step_status=ok ;;
    124 | 137) step_status=timeout ;;
    125) step_status=skipped ;;
    *) step_status="exit $rc" ;;
  esac
  [ "$rc" = 0 ] || overall=1
  echo "== $name: $step_status after $step_seconds s" >>"$log"
  echo "[$name] $step_status, $step_seconds s" >&2
}
# row STEP STATUS SECONDS FIGURES [LOG]: a table row; a step that did not succeed also shows its log's reason.
row() {
  local figures="$4" why=""
  if [ "$2" != ok ] && [ -n "${5:-}" ]; then
    why="$(grep -E '^(SKIPPED: |kforge: error: )' "$5" | tail -n 1 | cut -c1-160)"
  fi
  rows+=("$(printf '%-9s %-9s %7s  %s' "$1" "$2" "$3" "$figures${why:+ | $why}")")
}
# GoogleTest's counts from a log, also of a run that was stopped half-way.
gtest_figures() {
  printf '%s passed, %s failed, %s skipped' "$(grep -c '^\[       OK \]' "$1")" \
    "$(grep -c '^\[  FAILED  \] .*(' "$1")" "$(grep -c '^\[  SKIPPED \] .*(' "$1")"
}

# 1. The machine: the GPU, whose C++ runtime, what kforge reads off the device.
log="$out/machine.txt"
: >"$log"
nvidia-smi --query-gpu=name,driver_version,compute_cap,clocks.sm,clocks.max.sm,temperature.gpu,power.draw \
  --format=csv >>"$log" 2>&1 || echo "nvidia-smi failed" >>"$log"
kforge_choose_runtime "$here" >>"$log" 2>&1
run_step machine 30 "$log" "$bin/kforge" devices
gpu="$(nvidia-smi --query-gpu=name,driver_version,compute_cap --format=csv,noheader 2>/dev/null | head -n 1)"
runtime="$(grep -o '^libstdc++.so.6: the [a-z]*.s' "$log" | sed 's/^libstdc++.so.6: //')"
row machine "$step_status" "$step_seconds" "${gpu:-no GPU seen by nvidia-smi}; libstdc++: ${runtime:-?}" "$log"

# 2. Compile what the later steps run, every core at once.
log="$out/compile.log"
: >"$log"
list="$work/kernels.txt"
{
  find "$share/reference_kernels" "$share/tests" -name '*.cu' -printf 'cuda %p\n'
  find "$share/reference_kernels" -name 'cpu.cpp' -printf 'cpu %p\n'
} | sort >"$list"
run_step compile 100 "$log" xargs -a "$list" -P "$(nproc)" -L 1 "$bin/kforge" compile --backend
row compile "$step_status" "$step_seconds" "$(wc -l <"$list") kernels: $(grep -c '(cache hit' "$log") cache hits, \
$(grep -c '(built' "$log") built, $(grep -c ': compile_error for' "$log") compile errors" "$log"

# 3. The GPU tests but conformance.
log="$out/tests.log"
: >"$log"
run_step tests 100 "$log" "$bin/kforge_gpu_tests" '--gtest_filter=-AllTasks/GpuConformance.*'
row tests "$step_status" "$step_seconds" "$(gtest_figures "$log")" "$log"

# 4. A short bench: references, the cuBLAS baselines and the torch baselines (where PyTorch is found), timed cold.
log="$out/bench.log"
: >"$log"
rm -f "$out/kforge-gpu.db"
run_step bench 90 "$log" "$bin/kforge" bench --backend cuda --tasks vector_add,softmax,layer_norm,matmul \
  --tasks-dir "$share/tasks" --db "$out/kforge-gpu.db" --max-time 1
figures="$(grep -E '^[0-9]+ kernels, [0-9]+ not ok' "$log" | tail -n 1)"
cublas="$(grep -E '^matmul +[^ ]*cublas' "$log" | awk '{print "matmul cuBLAS " $4 ", " $NF " of speed of light"}')"
# The PyTorch eager baselines (the machine's own PyTorch), where bench found one: status and median per task.
torch="$(grep -E '^[a-z_0-9]+ +torch ' "$log" | awk '{print $1 " torch " ($3 == "ok" ? $4 " " $5 : $3)}' | paste -sd, -)"
no_torch="$(grep -m 1 'no torch baselines' "$log")"
row bench "$step_status" "$step_seconds" "${figures:-no summary}${cublas:+; $cublas}${torch:+; $torch}${no_torch:+; $no_torch}" "$log"

# 5. Every GPU reference against the CPU oracle.
log="$out/conformance.log"
: >"$log"
run_step conform 140 "$log" "$bin/kforge_gpu_tests" '--gtest_filter=AllTasks/GpuConformance.*'
row conform "$step_status" "$step_seconds" "$(gtest_figures "$log") of $(find "$share/tasks" -name '*.json' | wc -l) tasks" "$log"

{
  echo
  echo "===== kforge GPU check: $(($(date +%s) - start)) s (steps' limits: 460 s) ====="
  printf '%-9s %-9s %7s  %s\n' STEP STATUS SECONDS FIGURES
  printf '%s\n' "${rows[@]}"
  grep -h '^\[  FAILED  \] .*(' "$out/tests.log" "$out/conformance.log" | head -n 8
  echo "logs: $out"
} | tee "$out/summary.txt"
exit $overall
