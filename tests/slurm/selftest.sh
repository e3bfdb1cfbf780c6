#!/usr/bin/env bash
# Self-test for slurm-cluster.sh: N start/stop cycles (default 2), each running a
# 4-task sbatch array and checking that nothing of the cluster survives stop.
# Exit 0 pass, 77 skip (cluster could not start), 1 fail.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
CYCLES=${1:-2}

now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }
fail() { echo "selftest: FAIL: $*" >&2; exit 1; }

# Live (non-zombie) processes whose command line or environment names $1.
leftovers() {
  local p st
  for p in /proc/[0-9]*; do
    { st=$(<"$p/stat"); } 2>/dev/null || continue
    st=${st##*) }; [[ ${st:0:1} == Z ]] && continue
    if tr '\0' '\n' 2>/dev/null <"$p/cmdline" | grep -F "$1" >/dev/null ||
       tr '\0' '\n' 2>/dev/null <"$p/environ" | grep -xF "SLURM_CONF=$1/etc/slurm.conf" >/dev/null; then
      [[ ${p#/proc/} == "$$" || ${p#/proc/} == "$BASHPID" ]] && continue
      echo "${p#/proc/} $(tr '\0' ' ' 2>/dev/null <"$p/cmdline")"
    fi
  done
}

run_cycle() {
  local state work t0 t1 t2 t3 env jobid running=0 n i
  state=$(mktemp -d /tmp/kfslurm.XXXXXX); work=$(mktemp -d /tmp/kfjob.XXXXXX)
  t0=$(now)
  env=$("$HERE/slurm-cluster.sh" start "$state") || { rc=$?; rm -rf "$state" "$work"; exit "$rc"; }
  t1=$(now)
  eval "$(tail -n 1 <<<"$env")"
  cat >"$work/job.sh" <<'EOF'
#!/bin/bash
date +%s.%N >"$WORK/start.$SLURM_ARRAY_TASK_ID"
sleep 2
echo "$SLURM_ARRAY_TASK_ID" >"$WORK/task.$SLURM_ARRAY_TASK_ID"
date +%s.%N >"$WORK/end.$SLURM_ARRAY_TASK_ID"
EOF
  # squeue while the array runs: must answer and show running tasks.
  ( for i in $(seq 1 20); do
      n=$(squeue -h -t R -o %i 2>/dev/null | wc -l)
      (( n > running )) && running=$n && echo "$n" >"$work/max_running"
      sleep 0.25
    done ) &
  jobid=$(WORK=$work sbatch --parsable --array=1-4 --cpus-per-task=1 \
          -o "$work/slurm-%A_%a.out" --wait "$work/job.sh") || fail "sbatch --wait failed"
  t2=$(now)
  wait
  for i in 1 2 3 4; do
    [[ $(cat "$work/task.$i" 2>/dev/null) == "$i" ]] || fail "array task $i wrote no file"
  done
  # Concurrency: some task started before another one ended.
  local overlap=0 a b
  for a in 1 2 3 4; do for b in 1 2 3 4; do
    [[ $a != "$b" ]] && awk -v s="$(<"$work/start.$b")" -v e="$(<"$work/end.$a")" \
        -v s0="$(<"$work/start.$a")" 'BEGIN { exit !(s >= s0 && s < e) }' && overlap=1
  done; done
  "$HERE/slurm-cluster.sh" stop "$state" || fail "stop returned $?"
  t3=$(now)
  unset SLURM_CONF  # else our own children would look like cluster leftovers
  [[ -z $(leftovers "$state") ]] || { leftovers "$state" >&2; fail "processes survived stop"; }
  "$HERE/slurm-cluster.sh" stop "$state" || fail "second stop returned $?"
  echo "cycle: job=$jobid start=$(secs "$t0" "$t1")s array=$(secs "$t1" "$t2")s" \
       "stop=$(secs "$t2" "$t3")s squeue_max_running=$(cat "$work/max_running" 2>/dev/null || echo 0)" \
       "overlap=$overlap cpus=$(nproc)"
  rm -rf "$state" "$work"
}

for _ in $(seq 1 "$CYCLES"); do run_cycle; done
echo "selftest: PASS ($CYCLES cycles)"
