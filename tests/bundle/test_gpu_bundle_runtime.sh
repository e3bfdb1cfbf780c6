#!/usr/bin/env bash
# Tests of scripts/gpu-bundle-runtime.sh with made-up libraries (text files holding version tags, which is all
# the functions read): where the bundle puts each library, and whose C++ runtime the GPU check picks.
# Usage: test_gpu_bundle_runtime.sh [SCRIPTS_DIR]
set -uo pipefail
scripts="${1:-$(cd "$(dirname "$0")/../../scripts" && pwd)}"
# shellcheck source=../../scripts/gpu-bundle-runtime.sh disable=SC1091
source "$scripts/gpu-bundle-runtime.sh"
dir="$(mktemp -d)"
trap 'rm -rf "$dir"' EXIT
failures=0
check() {  # check DESCRIPTION COMMAND...: the command must succeed
  if "${@:2}"; then echo "ok   $1"; else echo "FAIL $1"; failures=$((failures + 1)); fi
}
# A made-up libstdc++ that defines GLIBCXX_3.4 .. GLIBCXX_3.4.N and CXXABI_1.3 .. CXXABI_1.3.M.
fake_libstdcxx() {
  mkdir -p "$(dirname "$1")"
  { for i in $(seq 0 "$2"); do [ "$i" = 0 ] && echo GLIBCXX_3.4 || echo "GLIBCXX_3.4.$i"; done
    for i in $(seq 0 "$3"); do [ "$i" = 0 ] && echo CXXABI_1.3 || echo "CXXABI_1.3.$i"; done; } >"$1"
}
fake_libgcc() { mkdir -p "$(dirname "$1")"; printf 'GCC_3.0\nGCC_4.2.0\nGCC_7.0.0\n' >"$1"; }

# The layout: glibc stays out, the C++ runtime goes to lib/fallback, the rest to lib.
mkdir -p "$dir/system"
for name in libc.so.6 libm.so.6 ld-linux-x86-64.so.2 libsqlite3.so.0 libcurl.so.4; do echo x >"$dir/system/$name"; done
fake_libstdcxx "$dir/system/libstdc++.so.6" 30 13
fake_libgcc "$dir/system/libgcc_s.so.1"
kforge_place_libraries "$dir/bundle" "$dir"/system/*
check "other libraries go to lib/" test -f "$dir/bundle/lib/libsqlite3.so.0" -a -f "$dir/bundle/lib/libcurl.so.4"
check "libstdc++ and libgcc_s go to lib/fallback/" \
  test -f "$dir/bundle/lib/fallback/libstdc++.so.6" -a -f "$dir/bundle/lib/fallback/libgcc_s.so.1"
check "nothing of the C++ runtime in lib/ itself" test ! -e "$dir/bundle/lib/libstdc++.so.6" -a ! -e "$dir/bundle/lib/libgcc_s.so.1"
check "glibc is never bundled" test ! -e "$dir/bundle/lib/libc.so.6" -a ! -e "$dir/bundle/lib/libm.so.6" \
  -a ! -e "$dir/bundle/lib/ld-linux-x86-64.so.2"

# The decision on tag sets.
need=$'GLIBCXX_3.4.30\nCXXABI_1.3.13'
check "a newer libstdc++ serves" test -z "$(kforge_missing_tags "$need" "$(printf 'GLIBCXX_3.4.%s\n' 29 30 31 32; echo CXXABI_1.3.13)")"
check "an older one lacks GLIBCXX_3.4.30" test "$(kforge_missing_tags "$need" $'GLIBCXX_3.4.29\nCXXABI_1.3.13')" = GLIBCXX_3.4.30
check "a missing library lacks every tag" test "$(kforge_missing_tags "$need" "" | wc -l)" = 2
check "tags compare whole, not as prefixes" test -n "$(kforge_missing_tags GLIBCXX_3.4.3 GLIBCXX_3.4.30)"

# What the bundle's files require, as objdump -p reads it off a real binary: this shell's own libc tags are not
# listed, and a C++ program's are.
if command -v objdump >/dev/null && command -v c++ >/dev/null; then
  printf '#include <string>\n#include <iostream>\nint main(){std::string s="x";std::cout<<s<<std::endl;}\n' >"$dir/p.cpp"
  if c++ -O1 "$dir/p.cpp" -o "$dir/p" 2>/dev/null; then
    required="$(kforge_required_tags "$dir/p")"
    check "a C++ program requires GLIBCXX tags of libstdc++.so.6" grep -q '^libstdc++.so.6 GLIBCXX_3\.4' <<<"$required"
    check "glibc's tags are not listed" test -z "$(grep -v -e '^libstdc++.so.6 ' -e '^libgcc_s.so.1 ' <<<"$required")"
  fi
fi

# The choice on a machine: the bundle needs GLIBCXX_3.4.30 (g++ 12).
printf 'libstdc++.so.6 GLIBCXX_3.4.30\nlibstdc++.so.6 CXXABI_1.3.13\nlibgcc_s.so.1 GCC_4.2.0\n' \
  >"$dir/bundle/lib/fallback/requires"
fake_libstdcxx "$dir/newer/libstdc++.so.6" 32 15  # g++ 13's
fake_libgcc "$dir/newer/libgcc_s.so.1"
said="$(kforge_choose_runtime "$dir/bundle" "$dir/newer")"
check "a newer machine's libstdc++ is used" test ! -e "$dir/bundle/lib/libstdc++.so.6"
check "and said so" grep -q "^libstdc++.so.6: the machine's ($dir/newer/libstdc++.so.6)" <<<"$said"
check "libgcc_s likewise" test ! -e "$dir/bundle/lib/libgcc_s.so.1"

fake_libstdcxx "$dir/older/libstdc++.so.6" 29 13  # g++ 11's
fake_libgcc "$dir/older/libgcc_s.so.1"
said="$(kforge_choose_runtime "$dir/bundle" "$dir/older")"
check "an older machine gets the bundle's libstdc++" test "$(readlink "$dir/bundle/lib/libstdc++.so.6")" = fallback/libstdc++.so.6
check "and is told which tag its own lacks" grep -q "^libstdc++.so.6: the bundle's (.* lacks GLIBCXX_3.4.30)" <<<"$said"
check "its libgcc_s serves still" test ! -e "$dir/bundle/lib/libgcc_s.so.1"

said="$(kforge_choose_runtime "$dir/bundle" "$dir/newer")"
check "a rerun on a newer machine removes the link" test ! -e "$dir/bundle/lib/libstdc++.so.6" -a ! -L "$dir/bundle/lib/libstdc++.so.6"

said="$(kforge_choose_runtime "$dir/bundle" "$dir/empty")"
check "a machine without libstdc++ gets the bundle's" test -L "$dir/bundle/lib/libstdc++.so.6"
check "and is told" grep -q "^libstdc++.so.6: the bundle's (the machine has none)" <<<"$said"

[ "$failures" = 0 ] && echo "all passed" || echo "$failures failed"
exit $((failures > 0))
