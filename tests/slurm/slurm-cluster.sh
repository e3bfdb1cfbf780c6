#!/usr/bin/env bash
# Start/stop a private single-node Slurm cluster (munged + slurmctld + slurmd)
# whose every file lives under STATE_DIR, so tests can submit real sbatch jobs.
#
#   slurm-cluster.sh start STATE_DIR   -> 0 running (last stdout line: export ...)
#                                         77 skip (one-line reason on stderr)
#   slurm-cluster.sh stop  STATE_DIR   -> 0 always (idempotent)
#   anything else                      -> 2 usage error; other codes are bugs
#
# Never touches /etc/slurm, /etc/munge, /run/munge or systemd; clients find the
# cluster through SLURM_CONF, which points slurm at our munge socket (AuthInfo).
set -euo pipefail

readonly SKIP=77
STARTED=0       # set to 1 once start() succeeded; the EXIT trap cleans up otherwise
S=""            # absolute STATE_DIR

skip() { echo "slurm-cluster: skip: $*" >&2; exit "$SKIP"; }
log()  { echo "slurm-cluster: $*" >&2; }

# --- prerequisites -----------------------------------------------------------
have_tools() {
  local b
  for b in slurmctld slurmd munged sbatch squeue sinfo scancel; do
    command -v "$b" >/dev/null 2>&1 || return 1
  done
}

ensure_packages() {
  have_tools && return 0
  [[ $(id -u) == 0 ]] || skip "slurm-wlm/munge not installed and not root to install them"
  command -v apt-get >/dev/null 2>&1 || skip "slurm-wlm/munge not installed and no apt-get"
  log "installing slurm-wlm and munge with apt-get"
  # Stop the packages' postinst from starting system munged/slurmd services:
  # a temporary policy-rc.d (exit 101 = "action forbidden"), only if none exists.
  local policy=/usr/sbin/policy-rc.d own_policy=0 rc=0
  if [[ ! -e $policy ]]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 0755 "$policy" && own_policy=1
  fi
  { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y slurm-wlm munge; } \
      >"$S/apt.log" 2>&1 || rc=$?
  [[ $own_policy == 0 ]] || rm -f "$policy"
  [[ $rc == 0 ]] || skip "apt-get install slurm-wlm munge failed (see $S/apt.log)"
  have_tools || skip "slurm-wlm/munge installed but some daemon or client is still missing"
}

# A TCP port nobody uses, judged from /proc/net/tcp{,6} (no python/ss needed), below
# the kernel's ephemeral range (32768+). Racy until the daemon binds it, but a
# lost race only makes start() fail cleanly.
port_in_use() {
  local f hex; hex=$(printf '%04X' "$1")
  for f in /proc/net/tcp /proc/net/tcp6; do   # tcp6 is absent without IPv6
    [[ -r $f ]] && awk -v h=":$hex" '$2 ~ h"$" {f=1} END {exit !f}' "$f" && return 0
  done
  return 1
}
pick_port() {
  local p i
  for i in $(seq 1 200); do
    p=$(( 10000 + (RANDOM * 32768 + RANDOM + i) % 22000 ))
    [[ $p == "${1:-0}" ]] && continue
    port_in_use "$p" || { echo "$p"; return 0; }
  done
  skip "no free TCP port found"
}

# --- pid handling ------------------------------------------------------------
bin() { readlink -f "$(command -v "$1" || echo "/usr/sbin/$1")"; }  # canonical path
read_pid() { if [[ -f $1 ]]; then tr -dc '0-9' <"$1" || true; fi; }
# True only if PID is alive, runs the expected binary, and its command line names
# our STATE_DIR: a recycled pid or a system daemon is never signalled.
pid_is_ours() {
  local pid=$1 want_exe=$2 exe cmd
  [[ $pid =~ ^[0-9]+$ ]] && [[ -d /proc/$pid ]] || return 1
  exe=$(readlink -f "/proc/$pid/exe" 2>/dev/null) || return 1
  [[ $exe == "$want_exe" ]] || return 1
  cmd=$(tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline") || return 1
  [[ $cmd == *"$S/"* ]]
}

# stop_pid PIDFILE EXE: SIGTERM, wait up to 10 s, then SIGKILL.
stop_pid() {
  local pidfile=$1 exe=$2 pid i
  pid=$(read_pid "$pidfile")
  if pid_is_ours "$pid" "$exe"; then
    kill -TERM "$pid" 2>/dev/null || true
    for i in $(seq 1 100); do pid_is_ours "$pid" "$exe" || break; sleep 0.1; done
    if pid_is_ours "$pid" "$exe"; then log "SIGKILL $exe ($pid)"; kill -KILL "$pid" 2>/dev/null || true; fi
  fi
  rm -f "$pidfile"
}

# Wait until FILE holds the pid of a live EXE of ours (daemons write it after forking).
wait_pidfile() {
  local pidfile=$1 exe=$2 i
  for i in $(seq 1 100); do pid_is_ours "$(read_pid "$pidfile")" "$exe" && return 0; sleep 0.1; done
  return 1
}

fail_start() {  # print log tails; skip() exits and on_exit stops what was started
  tail -n 20 "$S"/log/*.log >&2 2>/dev/null || true
  skip "$*"
}

# --- configuration -----------------------------------------------------------
write_config() {
  local node=$1 ctld_port=$2 slurmd_port=$3 hw mem_hw mem_avail mem
  # slurmd -C reports the hardware as slurmd will see it; keep its topology so the
  # node is not drained for "Low socket*core*thread count".
  hw=$(slurmd -C 2>/dev/null | head -n 1) || true
  [[ $hw == NodeName=* ]] || hw="NodeName=$node CPUs=$(nproc) RealMemory=1024"
  mem_hw=$(sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p' <<<"$hw")
  mem_hw=${mem_hw:-1024}
  mem_avail=$(awk '/^MemAvailable:/ {print int($2/1024)}' /proc/meminfo)
  mem=$(( (mem_hw < mem_avail ? mem_hw : mem_avail) / 2 ))
  (( mem >= 1 )) || mem=1
  # Config must not exceed what slurmd finds, else the node is drained.
  hw=$(sed -e "s/^NodeName=[^ ]*/NodeName=$node/" -e 's/ *RealMemory=[0-9]*//' \
            -e 's/ *UpTime=.*//' <<<"$hw")

  cat >"$S/etc/slurm.conf" <<EOF
# Generated by tests/slurm/slurm-cluster.sh; private test cluster.
ClusterName=kforge${ctld_port}
SlurmctldHost=${node}(127.0.0.1)
SlurmctldPort=${ctld_port}
SlurmdPort=${slurmd_port}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=${S}/munge/munge.socket
StateSaveLocation=${S}/ctld
SlurmdSpoolDir=${S}/spool
SlurmctldPidFile=${S}/run/slurmctld.pid
SlurmdPidFile=${S}/run/slurmd.pid
SlurmctldLogFile=${S}/log/slurmctld.log
SlurmdLogFile=${S}/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
PlugStackConfig=${S}/etc/plugstack.conf
# No cgroups: containers often cannot delegate them.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
MailProg=/bin/true
# CR_CPU: every CPU (thread) is schedulable, so 1-CPU array tasks run side by side.
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/builtin
SchedulerParameters=sched_interval=2
ReturnToService=2
# Short timeouts keep a test quick and make scancel/shutdown prompt.
MessageTimeout=10
TCPTimeout=2
KillWait=2
InactiveLimit=0
SlurmctldTimeout=30
SlurmdTimeout=30
# sbatch --wait polls at 2, 10, 42 s... unless 2 >= MinJobAge/2, then every 2 s.
# Finished jobs stay visible to squeue/scontrol for 5-60 s only.
MinJobAge=5
${hw} NodeAddr=127.0.0.1 NodeHostname=${node} RealMemory=${mem} State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
  : >"$S/etc/plugstack.conf"
}

# --- start / stop ------------------------------------------------------------
start_cluster() {
  mkdir -p "$S"
  ensure_packages
  # slurmctld only serves if SlurmctldHost is this host's short name.
  local node ctld_port slurmd_port i state
  node=$(uname -n); node=${node%%.*}
  # slurm.conf cannot quote paths, and munged/slurmstepd put AF_UNIX sockets
  # (108-byte limit) under STATE_DIR, e.g. spool/<node>_<job>.<step>.
  [[ $S =~ ^[A-Za-z0-9._/-]+$ ]] || skip "STATE_DIR path has characters slurm.conf cannot hold: $S"
  (( ${#S} + ${#node} + 30 <= 107 )) || skip "STATE_DIR path too long for unix sockets: $S"
  stop_cluster  # a previous run in the same STATE_DIR must not linger

  ctld_port=$(pick_port); slurmd_port=$(pick_port "$ctld_port")
  rm -rf "${S:?}/munge" "${S:?}/ctld" "${S:?}/spool" "${S:?}/run" "${S:?}/log" "${S:?}/etc"
  mkdir -p "$S/munge" "$S/ctld" "$S/spool" "$S/run" "$S/log" "$S/etc"
  # munged refuses a key/socket directory writable by others, and warns unless
  # it is searchable by all (clients of any uid must reach the socket).
  chmod 0755 "$S/munge"
  write_config "$node" "$ctld_port" "$slurmd_port"
  export SLURM_CONF="$S/etc/slurm.conf"

  # Fresh random key, owned by the user munged runs as (us), readable only by it.
  dd if=/dev/urandom of="$S/munge/munge.key" bs=1024 count=1 status=none
  chmod 0400 "$S/munge/munge.key"
  # --force: mktemp -d makes STATE_DIR 0700, which munged rejects ("execute
  # permissions for all required") although only root uses this socket.
  munged --force --socket="$S/munge/munge.socket" --key-file="$S/munge/munge.key" \
         --pid-file="$S/run/munged.pid" --log-file="$S/log/munged.log" \
         --seed-file="$S/munge/munged.seed" >>"$S/log/munged.log" 2>&1 \
    || fail_start "munged failed to start"
  wait_pidfile "$S/run/munged.pid" "$(bin munged)" || fail_start "munged did not come up"

  # -i: ignore any unreadable state; the state dir is fresh anyway.
  slurmctld -i -f "$SLURM_CONF" >>"$S/log/slurmctld.log" 2>&1 || fail_start "slurmctld failed to start"
  wait_pidfile "$S/run/slurmctld.pid" "$(bin slurmctld)" || fail_start "slurmctld did not come up"
  slurmd -f "$SLURM_CONF" -N "$node" >>"$S/log/slurmd.log" 2>&1 || fail_start "slurmd failed to start"
  wait_pidfile "$S/run/slurmd.pid" "$(bin slurmd)" || fail_start "slurmd did not come up"

  for i in $(seq 1 120); do
    state=$(timeout 5 sinfo -h -n "$node" -o %T 2>/dev/null || true)
    [[ $state == idle ]] && break   # not "idle*" (= not responding)
    sleep 0.5
  done
  [[ $state == idle ]] || fail_start "node $node not idle after 60 s (state: '${state:-none}')"

  printf 'export SLURM_CONF=%q\n' "$SLURM_CONF" >"$S/env.sh"
  STARTED=1
  cat "$S/env.sh"
}

# Pids of all descendants of $1, from /proc/*/stat (no procps needed).
descendants() {
  local f st ppid pairs=""
  for f in /proc/[0-9]*/stat; do
    { st=$(<"$f"); } 2>/dev/null || continue   # the process may be gone already
    read -r _ ppid _ <<<"${st##*) }"          # skip "pid (comm) ": comm may hold spaces
    pairs+="${f//[^0-9]/} $ppid"$'\n'
  done
  awk -v root="$1" '{ kid[$2] = kid[$2] " " $1 }
    END { n = split(kid[root], q, " "); for (i = 1; i <= n; i++) { print q[i];
          m = split(kid[q[i]], c, " "); for (j = 1; j <= m; j++) q[++n] = c[j] } }' <<<"$pairs"
}

# After a crash, processes our daemons left behind (slurmctld's slurmscriptd child,
# orphaned slurmstepd and the job processes under them): same binaries, and their
# environment names our SLURM_CONF, which start() exported to the daemons.
sweep_leftovers() {
  local p pid exe conf="$S/etc/slurm.conf" bins
  bins="$(bin slurmctld) $(bin slurmd) $(bin slurmstepd)"
  for p in /proc/[0-9]*; do
    exe=$(readlink -f "$p/exe" 2>/dev/null) || continue
    [[ " $bins " == *" $exe "* ]] || continue
    # grep without -q: an early exit could SIGPIPE tr, and pipefail would call that a miss.
    tr '\0' '\n' 2>/dev/null <"$p/environ" | grep -xF "SLURM_CONF=$conf" >/dev/null || continue
    pid=${p#/proc/}
    log "killing leftover $exe ($pid) and its descendants"
    # Job tasks first: with proctrack/linuxproc the stepd's process tree is the job.
    # shellcheck disable=SC2046  # one argument per pid
    kill -KILL $(descendants "$pid") "$pid" 2>/dev/null || true
  done
}

stop_cluster() {
  [[ -d $S ]] || return 0
  local conf="$S/etc/slurm.conf" ids i
  if [[ -f $conf ]] && pid_is_ours "$(read_pid "$S/run/slurmctld.pid")" "$(bin slurmctld)"; then
    # Cancel leftovers so slurmstepd and job processes exit; slurmd does not kill them.
    ids=$(SLURM_CONF=$conf timeout 10 squeue -h -o %A 2>/dev/null || true)
    if [[ -n $ids ]]; then
      # shellcheck disable=SC2086  # one argument per job id
      SLURM_CONF=$conf timeout 10 scancel $ids 2>/dev/null || true
      for i in $(seq 1 50); do
        [[ -z $(SLURM_CONF=$conf timeout 5 squeue -h -o %A 2>/dev/null) ]] && break
        sleep 0.2
      done
    fi
  fi
  stop_pid "$S/run/slurmd.pid" "$(bin slurmd)"
  stop_pid "$S/run/slurmctld.pid" "$(bin slurmctld)"
  sweep_leftovers
  stop_pid "$S/run/munged.pid" "$(bin munged)"  # last: the others need munge to exit cleanly
  rm -f "$S/env.sh"
}

on_exit() {
  local rc=$?
  if [[ ${CMD:-} == start && $STARTED == 0 && -n $S ]]; then
    stop_cluster >/dev/null 2>&1 || true
  fi
  exit "$rc"
}

main() {
  export PATH="$PATH:/usr/sbin:/sbin"
  CMD=${1:-}
  [[ $# == 2 && ( $CMD == start || $CMD == stop ) ]] || {
    echo "usage: $0 start|stop STATE_DIR" >&2; exit 2; }
  [[ $2 == /* ]] && S=$2 || S="$PWD/$2"
  S=${S%/}
  trap on_exit EXIT
  trap 'exit 130' INT; trap 'exit 143' TERM  # so that on_exit cleans up then too
  # The caller may itself run inside a Slurm job or have client defaults set;
  # none of that may leak into our daemons or our scancel/squeue calls.
  local v
  for v in $(compgen -e); do
    [[ $v =~ ^(SLURM|SBATCH|SQUEUE|SINFO|SCANCEL|SRUN|SALLOC)_ ]] && unset "$v"
  done
  if [[ $CMD == start ]]; then
    [[ $(id -u) == 0 ]] || skip "needs root (slurmd must run as root to launch jobs)"
    start_cluster
  else
    stop_cluster
  fi
}

main "$@"
