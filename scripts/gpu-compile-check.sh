#!/usr/bin/env bash
# Compiles GPU references as CUDA (nvcc, sm_90) and as HIP (hipcc, gfx90a), with the flags the backends use.
# Usage: scripts/gpu-compile-check.sh [TASK...]   (no task: every reference_kernels/*/gpu.cu)
# The compilers: $NVCC, else nvcc on PATH; $HIPCC, else $ROCM_PATH/bin/hipcc, else hipcc on PATH (the ROCm kforge's
# CMake picks first). HIP_ARCH picks the AMD target (gfx942 needs ROCm 6.0, gfx950 ROCm 7.0).
set -uo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
tasks=("$@")
if [ ${#tasks[@]} -eq 0 ]; then
  for f in "$root"/reference_kernels/*/gpu.cu; do tasks+=("$(basename "$(dirname "$f")")"); done
fi
nvcc="${NVCC:-$(command -v nvcc || true)}"
hipcc="${HIPCC:-}"
[ -z "$hipcc" ] && [ -n "${ROCM_PATH:-}" ] && [ -x "$ROCM_PATH/bin/hipcc" ] && hipcc="$ROCM_PATH/bin/hipcc"
[ -z "$hipcc" ] && hipcc="$(command -v hipcc || true)"
hip_arch="${HIP_ARCH:-gfx90a}"
failed=0
for task in "${tasks[@]}"; do
  src="$root/reference_kernels/$task/gpu.cu"
  if [ ! -f "$src" ]; then echo "MISSING $task: $src"; failed=1; continue; fi
  if [ -n "$nvcc" ]; then
    if ! "$nvcc" -O3 -arch=sm_90 -Xcompiler -fPIC -shared -I"$root/include" "$src" -o "$out/$task.cuda.so" 2>"$out/log"; then
      echo "FAIL cuda $task"; cat "$out/log"; failed=1
    else echo "ok   cuda $task"; fi
  fi
  if [ -n "$hipcc" ]; then
    if ! "$hipcc" -x hip --offload-arch="$hip_arch" -O3 -fPIC -shared -I"$root/include" "$src" -o "$out/$task.hip.so" 2>"$out/log"; then
      echo "FAIL hip  $task"; cat "$out/log"; failed=1
    else echo "ok   hip  $task"; fi
  fi
done
exit $failed
