#!/usr/bin/env bash
# Builds kforge with the CUDA backend into a self-contained folder for a machine that has the NVIDIA driver,
# nvcc and a host compiler but none of kforge's Debian packages (the device machine's stock CUDA image).
# Usage: scripts/make-gpu-bundle.sh BUILD_DIR OUT_DIR
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="$1"
out="$2"
case "$out" in /*) ;; *) out="$root/$out" ;; esac

cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DKFORGE_WITH_CUDA=ON -DKFORGE_WITH_HIP=OFF \
  -DCMAKE_INSTALL_PREFIX="$out" -DCMAKE_INSTALL_RPATH='$ORIGIN/../lib' \
  -DCMAKE_EXE_LINKER_FLAGS=-Wl,--disable-new-dtags -DCMAKE_SHARED_LINKER_FLAGS=-Wl,--disable-new-dtags >/dev/null
cmake --build "$build" --target kforge kforge-runner kforge_gpu_tests
rm -rf "$out"
cmake --install "$build" >/dev/null
cmake --install "$build" --component gpu-tests >/dev/null

# What kernels include besides kforge's headers: DLPack, a Debian package the CUDA image lacks.
cp -r /usr/include/dlpack "$out/include/"
# The GPU exploit and failure kernels the tests evaluate, beside the suite.
mkdir -p "$out/share/kforge/tests/kernels" "$out/share/kforge/tests/exploits"
cp -r "$root/tests/kernels/gpu" "$out/share/kforge/tests/kernels/"
cp -r "$root/tests/exploits/gpu" "$out/share/kforge/tests/exploits/"
cp "$root/scripts/gpu-check.sh" "$out/"

# Every shared library the binaries load, except the C library itself (glibc must come from the machine).
mkdir -p "$out/lib"
for binary in "$out"/bin/*; do
  ldd "$binary" | awk '/=> \// {print $3}'
done | sort -u | while read -r library; do
  case "$(basename "$library")" in
    libc.so.* | libm.so.* | libpthread.so.* | libdl.so.* | librt.so.* | ld-linux*.so.* | libresolv.so.*) ;;
    *) cp -L "$library" "$out/lib/" ;;
  esac
done
echo "bundle: $out ($(du -sh "$out" | cut -f1)); on the GPU machine run: $(basename "$out")/gpu-check.sh"
