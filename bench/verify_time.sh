#!/usr/bin/env bash
# What a change costs `kforge verify` on the CPU: two kforge builds, each run from its own checkout (its own
# suite), verify the references of a few level-1 tasks, alternating, 5 rounds after one warm-up (compile caches
# warm); prints the median wall time of each and their ratio. Compare only ratios from one run: shared machines
# are noisy. VERIFY_ARGS adds options to every verify: VERIFY_ARGS='--time --max-time 2' measures what timing costs.
#   bench/verify_time.sh OLD_CHECKOUT OLD_KFORGE NEW_CHECKOUT NEW_KFORGE [TASK...]
set -euo pipefail
if [ $# -lt 4 ]; then
  echo "usage: $0 OLD_CHECKOUT OLD_KFORGE NEW_CHECKOUT NEW_KFORGE [TASK...]" >&2
  exit 2
fi
old_root=$1 old_kforge=$2 new_root=$3 new_kforge=$4
shift 4
tasks=("$@")
[ ${#tasks[@]} -gt 0 ] || tasks=(softmax gelu layer_norm vector_add matmul)
rounds=5

verify_seconds() {  # ROOT KFORGE TASK: wall seconds of one verify of TASK's reference
  local start end
  start=$(date +%s.%N)
  # shellcheck disable=SC2086 # VERIFY_ARGS is a list of options
  (cd "$1" && "$2" verify ${VERIFY_ARGS:-} --task "$3" "reference_kernels/$3/cpu.cpp" >/dev/null) || {
    echo "$2: the $3 reference did not verify" >&2
    exit 1
  }
  end=$(date +%s.%N)
  awk -v a="$start" -v b="$end" 'BEGIN { print b - a }' 
}

median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

printf '%-12s %9s %9s %9s\n' task old_s new_s new/old
for task in "${tasks[@]}"; do
  verify_seconds "$old_root" "$old_kforge" "$task" >/dev/null
  verify_seconds "$new_root" "$new_kforge" "$task" >/dev/null
  old=() new=()
  for _ in $(seq "$rounds"); do
    old+=("$(verify_seconds "$old_root" "$old_kforge" "$task")")
    new+=("$(verify_seconds "$new_root" "$new_kforge" "$task")")
  done
  o=$(printf '%s\n' "${old[@]}" | median)
  n=$(printf '%s\n' "${new[@]}" | median)
  printf '%-12s %9.3f %9.3f %9.3f\n' "$task" "$o" "$n" "$(awk -v a="$n" -v b="$o" 'BEGIN { print a / b }')"
done
