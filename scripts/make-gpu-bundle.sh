#!/usr/bin/env bash
# Builds kforge with the CUDA backend into a self-contained folder for a machine that has the NVIDIA driver,
# nvcc and a host compiler but none of kforge's Debian packages (the device machine's stock CUDA image).
# Usage: scripts/make-gpu-bundle.sh BUILD_DIR OUT_DIR
# The folder must stay under 56 MiB (what travels to a lent GPU machine is capped at 64 MiB); it says its size.
# Layout: bin/ (kforge, kforge-runner, kforge_gpu_tests; RPATH $ORIGIN/../lib), lib/ (every library those load
# that a stock machine lacks), lib/fallback/ (libstdc++ and libgcc_s, used only where the machine's are older
# than kforge needs: gpu-bundle-runtime.sh), include/, share/kforge/ (the suite and the GPU test kernels),
# cache.tar.xz (every GPU kernel compiled for sm_90: a warm compile cache for a machine with the same CUDA),
# gpu-check.sh and gpu-bundle-runtime.sh.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="$1"
out="$2"
case "$out" in /*) ;; *) out="$root/$out" ;; esac
# shellcheck source=gpu-bundle-runtime.sh
source "$root/scripts/gpu-bundle-runtime.sh"

launcher=()
if command -v ccache >/dev/null; then launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache); fi
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DKFORGE_WITH_CUDA=ON -DKFORGE_WITH_HIP=OFF \
  -DCMAKE_INSTALL_PREFIX="$out" -DCMAKE_INSTALL_RPATH='$ORIGIN/../lib' "${launcher[@]}" \
  -DCMAKE_EXE_LINKER_FLAGS=-Wl,--disable-new-dtags -DCMAKE_SHARED_LINKER_FLAGS=-Wl,--disable-new-dtags >/dev/null
cmake --build "$build" --target kforge kforge-runner kforge_gpu_tests
rm -rf "$out"
cmake --install "$build" >/dev/null
cmake --install "$build" --component gpu-tests >/dev/null
# Release binaries need no symbols on the GPU machine; stripped, the bundle is a third smaller.
strip --strip-unneeded "$out"/bin/* 2>/dev/null || true

# What kernels include besides kforge's headers: DLPack, a Debian package the CUDA image lacks.
cp -r /usr/include/dlpack "$out/include/"
# The GPU exploit and failure kernels the tests evaluate, beside the suite.
mkdir -p "$out/share/kforge/tests/kernels" "$out/share/kforge/tests/exploits"
cp -r "$root/tests/kernels/gpu" "$out/share/kforge/tests/kernels/"
cp -r "$root/tests/exploits/gpu" "$out/share/kforge/tests/exploits/"
cp "$root/scripts/gpu-check.sh" "$root/scripts/gpu-bundle-runtime.sh" "$out/"

# Every shared library the binaries load, except the C library itself (glibc must come from the machine); the C++
# runtime goes to lib/fallback, with the version tags kforge needs of it.
mapfile -t libraries < <(for binary in "$out"/bin/*; do ldd "$binary" | awk '/=> \// {print $3}'; done | sort -u)
kforge_place_libraries "$out" "${libraries[@]}"

# A warm compile cache: every GPU kernel the check compiles, built here for sm_90 through kforge's own cache (the
# key holds nvcc's release, its library folder, the target, the flags and the ABI header, so it hits on a machine
# with the same CUDA and is ignored elsewhere). CPU kernels are left out: -march=native ties them to this CPU. Each
# kernel carries its own static CUDA runtime (1 MB), so the cache travels as one xz archive (80 MB -> 4 MB); it is
# kept in BUILD_DIR/bundle-cache, where a second bundle finds it warm.
cache="$build/bundle-cache"
if command -v nvcc >/dev/null || [ -x /usr/local/cuda/bin/nvcc ]; then
  export PATH="$PATH:/usr/local/cuda/bin"
  find "$root/reference_kernels" "$out/share/kforge/tests" -name '*.cu' -print0 |
    XDG_CACHE_HOME="$cache" xargs -0 -P "$(nproc)" -n 1 "$out/bin/kforge" compile --backend cuda --arch sm_90 \
      >"$build/bundle-cache.log" 2>&1 || echo "bundle: some kernels did not compile (see $build/bundle-cache.log)"
  find "$cache" -name '*.tmp-*' -delete
  tar -C "$cache" -cf - kforge | xz -T0 -6 >"$out/cache.tar.xz"
fi

mapfile -t cached < <(find "$cache" -name '*.so' 2>/dev/null)
kforge_required_tags "$out"/bin/* "$out"/lib/*.so* "${cached[@]}" >"$out/lib/fallback/requires"
size=$(du -sb "$out" | cut -f1)
echo "bundle: $out ($((size / 1048576)) MiB, $size bytes); on the GPU machine run: $(basename "$out")/gpu-check.sh"
if [ "$size" -ge $((56 * 1048576)) ]; then
  echo "bundle: over the 56 MiB budget (a lent GPU machine takes 64 MiB in all)" >&2
  exit 1
fi
