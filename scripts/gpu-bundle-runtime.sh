# shellcheck shell=bash
# Functions the GPU bundle's two scripts share (sourced, not run): make-gpu-bundle.sh sorts the libraries it copies
# and records what kforge needs of the C++ runtime; gpu-check.sh, on the GPU machine, decides whose C++ runtime
# kforge uses there. The bundle's libstdc++ and libgcc_s are a fallback only: a kernel that the machine's newer g++
# builds needs the machine's newer libstdc++, and once the bundle's older one is loaded into a runner, that kernel
# no longer loads. So the bundle's copy is used only when the machine's lacks a version tag kforge needs.

# The libraries that are a fallback, not a default.
kforge_fallback_libraries="libstdc++.so.6 libgcc_s.so.1"

# The symbol-version tags of the family each fallback library defines: GLIBCXX_ and CXXABI_ for libstdc++, GCC_
# for libgcc_s.
kforge_tag_pattern() {
  case "$1" in
    libstdc++.so.*) echo '(GLIBCXX|CXXABI)_[0-9][0-9.]*' ;;
    libgcc_s.so.*) echo 'GCC_[0-9][0-9.]*' ;;
    *) return 1 ;;
  esac
}

# kforge_place_libraries OUT LIBRARY...: copies each shared library into OUT/lib, the C++ runtime into
# OUT/lib/fallback, and glibc's own libraries nowhere (they must be the machine's, matching its loader).
kforge_place_libraries() {
  local out="$1"
  shift
  mkdir -p "$out/lib/fallback"
  local library name
  for library in "$@"; do
    name="$(basename "$library")"
    case "$name" in
      libc.so.* | libm.so.* | libpthread.so.* | libdl.so.* | librt.so.* | ld-linux*.so.* | libresolv.so.*) ;;
      libstdc++.so.* | libgcc_s.so.*) cp -L "$library" "$out/lib/fallback/$name" ;;
      *) cp -L "$library" "$out/lib/$name" ;;
    esac
  done
}

# kforge_required_tags FILE...: "LIBRARY TAG" for each version tag the files require of a fallback library, as
# objdump -p lists them under "required from LIBRARY:".
kforge_required_tags() {
  local file
  for file in "$@"; do
    objdump -p "$file" 2>/dev/null
  done | awk -v libs=" $kforge_fallback_libraries " '
    /required from / { lib = $3; sub(":$", "", lib); keep = index(libs, " " lib " ") > 0; next }
    /^ *0x/ && keep { print lib, $NF; next }
    { keep = 0 }' | sort -u
}

# kforge_defined_tags LIBRARY_FILE NAME: the version tags of NAME's family that the file defines (its strings).
kforge_defined_tags() {
  local pattern
  pattern="$(kforge_tag_pattern "$2")" || return 0
  [ -r "$1" ] || return 0
  grep -aoE "$pattern" "$1" | sort -u
}

# kforge_missing_tags REQUIRED PROVIDED: the required tags (newline-separated) the provided set lacks; empty when
# the provided library serves. A missing library (PROVIDED empty) lacks every tag.
kforge_missing_tags() {
  local tag
  while read -r tag; do
    [ -n "$tag" ] || continue
    printf '%s\n' "$2" | grep -qxF "$tag" || echo "$tag"
  done <<<"$1"
}

# kforge_machine_library NAME [DIR...]: the machine's own copy of NAME: the first DIR holding it where DIRs are
# given (tests), else what ld.so.cache lists for x86-64, else the usual system folders.
kforge_machine_library() {
  local name="$1" dir found=""
  shift
  if [ $# -eq 0 ]; then
    found="$({ ldconfig -p 2>/dev/null || /sbin/ldconfig -p 2>/dev/null; } |
      awk -v n="$name" '$1 == n && /x86-64/ { print $NF; exit }')"
    [ -n "$found" ] && [ -r "$found" ] && { echo "$found"; return 0; }
    set -- /usr/lib/x86_64-linux-gnu /lib/x86_64-linux-gnu /usr/lib64 /lib64 /usr/lib
  fi
  for dir in "$@"; do
    [ -r "$dir/$name" ] && { echo "$dir/$name"; return 0; }
  done
  return 1
}

# kforge_choose_runtime BUNDLE [DIR...]: for each fallback library, links BUNDLE/lib/NAME to the bundle's copy
# when the machine's lacks a tag kforge needs (BUNDLE/lib/fallback/requires), else removes that link so that the
# binaries' RPATH misses and the loader takes the machine's. Prints one line per library saying whose and why.
kforge_choose_runtime() {
  local bundle="$1" name required machine missing
  shift
  for name in $kforge_fallback_libraries; do
    [ -e "$bundle/lib/fallback/$name" ] || continue
    required="$(awk -v n="$name" '$1 == n { print $2 }' "$bundle/lib/fallback/requires" 2>/dev/null)"
    machine="$(kforge_machine_library "$name" "$@")" || machine=""
    missing="$(kforge_missing_tags "$required" "$(kforge_defined_tags "$machine" "$name")")"
    rm -f "$bundle/lib/$name"
    if [ -z "$machine" ]; then
      ln -s "fallback/$name" "$bundle/lib/$name"
      echo "$name: the bundle's (the machine has none)"
    elif [ -n "$missing" ]; then
      ln -s "fallback/$name" "$bundle/lib/$name"
      echo "$name: the bundle's ($machine lacks $(echo "$missing" | tr '\n' ' ' | sed 's/ $//'))"
    else
      echo "$name: the machine's ($machine)"
    fi
  done
}
