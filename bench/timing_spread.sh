#!/usr/bin/env bash
# How repeatable kforge's timing is: benchmarks the same references in RUNS separate kforge processes (each
# with a fresh store) and prints, per task, every run's median and the spread (max - min) / mean of them.
#   bench/timing_spread.sh                      # matmul and softmax, 5 runs
#   TASKS=relu,conv2d RUNS=3 bench/timing_spread.sh
set -euo pipefail
cd "$(dirname "$0")/.."
KFORGE=${KFORGE:-build/ci/kforge}
RUNS=${RUNS:-5}
TASKS=${TASKS:-matmul,softmax}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
for i in $(seq 1 "$RUNS"); do
  "$KFORGE" bench --fresh --tasks "$TASKS" --db "$dir/run$i.db" > "$dir/run$i.log"
done
printf '%-12s %s\n' task "medians of $RUNS runs (ms), spread"
for task in ${TASKS//,/ }; do
  for i in $(seq 1 "$RUNS"); do
    sqlite3 "$dir/run$i.db" "SELECT e.time_median_ns FROM evaluations e JOIN tasks t ON t.id = e.task_id
                              WHERE t.name = '$task' AND e.status = 'ok'"
  done | awk -v task="$task" '
    { v[NR] = $1; sum += $1; if (NR == 1 || $1 < lo) lo = $1; if ($1 > hi) hi = $1 }
    END {
      line = sprintf("%-12s", task)
      for (i = 1; i <= NR; ++i) line = line sprintf(" %.3f", v[i] / 1e6)
      printf "%s  spread %.2f%%\n", line, 100 * (hi - lo) / (sum / NR)
    }'
done
