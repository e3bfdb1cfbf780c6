#!/usr/bin/env python3
"""A soak of kforge serve (issue 31's acceptance): --requests requests at --concurrency, mixing good, wrong,
crashing, hanging, forking, memory-filling and output-flooding kernels, C++ and Python. Every answer must be the
verdict the kernel earns; afterwards the server must be alive with no process, descriptor or temporary-folder
leak, and its memory within 10% of what it was after the first 100 requests.

    python3 bench/serve_soak.py --kforge build/ci/kforge --requests 1000 --concurrency 4

Exits 0 when every check holds, 1 otherwise; prints the counts per kernel and the resources at each checkpoint.
"""
import argparse
import collections
import concurrent.futures
import os
import shutil
import sys
import tempfile
import time

from serve_client import Server, read

PYTHON_HANG = "import torch\n\n\ndef kforge_run(inputs, outputs, params):\n    while True:\n        pass\n"
PYTHON_FORK = "import os\nimport torch\n\n\ndef kforge_run(inputs, outputs, params):\n    os.fork()\n"

# (name, task, source, the status it earns, request options, weight in the mix)
KERNELS = [
    ("good C++", "softmax", read("tests/kernels/softmax_loop.cpp"), "ok", {}, 6),
    ("good C++, new source", "softmax", None, "ok", {}, 2),
    ("good .py", "softmax", read("tests/kernels/python/softmax.py"), "ok", {}, 6),
    ("wrong C++", "relu", read("tests/exploits/writes_zeros.cpp"), "incorrect", {}, 2),
    ("wrong .py", "softmax", read("tests/kernels/python/softmax_wrong_dim.py"), "incorrect", {}, 2),
    ("segfaults", "relu", read("tests/kernels/segfault.cpp"), "runtime_error", {}, 1),
    ("raises .py", "relu", read("tests/kernels/python/raises.py"), "runtime_error", {}, 1),
    ("deep recursion", "relu", read("tests/exploits/deep_recursion.cpp"), "runtime_error", {}, 1),
    ("hangs", "relu", read("tests/kernels/infinite_loop.cpp"), "timeout", {"timeout": 1}, 1),
    ("hangs .py", "relu", PYTHON_HANG, "timeout", {"timeout": 3}, 1),
    ("forks (scan)", "relu", read("tests/exploits/forks.cpp"), "invalid", {}, 1),
    ("forks .py (scan)", "relu", PYTHON_FORK, "invalid", {}, 1),
    ("forks a daemon", "vector_add", read("tests/exploits/leaves_daemon.cpp"), "incorrect", {}, 1),
    ("fills memory", "relu", read("tests/exploits/allocates_64gib.cpp"), "runtime_error", {}, 1),
    ("floods output", "relu", read("tests/exploits/prints_gigabytes.cpp"), "runtime_error", {}, 1),
]


def descendants(pid):
    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    parents[int(entry)] = int(f.read().rsplit(")", 1)[1].split()[1])
            except OSError:
                pass
    found, frontier = [], [pid]
    while frontier:
        parent = frontier.pop()
        children = [p for p, pp in parents.items() if pp == parent]
        found += children
        frontier += children
    return found


def memory_kib(pid):
    """VmRSS and its anonymous and file-backed parts, in KiB."""
    found = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key = line.split(":")[0]
            if key in ("VmRSS", "RssAnon", "RssFile"):
                found[key] = int(line.split()[1])
    return found


def resources(server, tmp):
    """The server's state once idle: its memory, descriptors, descendant processes (the zygote's among them),
    temporary folders (the zygote's among them)."""
    for _ in range(600):
        health = server.health()
        if health["running"] == 0 and health["queued"] == 0:
            break
        time.sleep(0.1)
    time.sleep(0.5)  # runners reaped after the answer
    health = server.health()
    pid = server.process.pid
    # A descriptor leak grows with requests; a connection still closing comes and goes: the fewest of a few looks.
    fds = len(os.listdir(f"/proc/{pid}/fd"))
    for _ in range(4):
        time.sleep(0.1)
        fds = min(fds, len(os.listdir(f"/proc/{pid}/fd")))
    memory = memory_kib(pid)
    heap = health.get("heap", {})
    return {"rss_kib": memory.get("VmRSS", 0), "anon_kib": memory.get("RssAnon", 0),
            "file_kib": memory.get("RssFile", 0), "heap_in_use_kib": heap.get("in_use_bytes", 0) // 1024,
            "heap_free_kib": heap.get("free_bytes", 0) // 1024, "sqlite_kib": heap.get("sqlite_bytes", 0) // 1024,
            "fds": fds,
            "processes": len(descendants(pid)), "temp_dirs": len(os.listdir(tmp))}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kforge", default=os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                                         "build", "ci", "kforge"))
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args()

    scratch = tempfile.mkdtemp(prefix="kforge-soak-")
    tmp = os.path.join(scratch, "tmp")
    os.makedirs(tmp)
    env = dict(os.environ, XDG_CACHE_HOME=os.path.join(scratch, "cache"), TMPDIR=tmp)
    mix = [kernel for kernel in KERNELS for _ in range(kernel[5])]
    server = Server(args.kforge, ["--db", os.path.join(scratch, "soak.db")], env=env)
    counts = collections.Counter()
    wrong = []
    seconds = collections.defaultdict(list)

    def one(i):
        name, task, source, expected, options, _ = mix[i % len(mix)]
        if source is None:  # compiled afresh
            source = KERNELS[0][2] + f"\n// request {i}\n"
        status, answer, elapsed = server.verify(task, source, **options)
        got = answer.get("status") if status == 200 else f"HTTP {status}: {answer.get('error')}"
        return i, name, expected, got, elapsed, answer

    def soak(indices):
        with concurrent.futures.ThreadPoolExecutor(args.concurrency) as pool:
            for i, name, expected, got, elapsed, answer in pool.map(one, indices):
                counts[name] += 1
                seconds[name].append(elapsed)
                if got != expected:
                    wrong.append(f"request {i} ({name}): expected {expected}, got {got}: "
                                 f"{str(answer.get('message', ''))[:300]}")

    started = time.perf_counter()
    checkpoints = {}
    try:
        checkpoints["start"] = resources(server, tmp)
        first = min(100, args.requests)
        soak(range(first))
        checkpoints["after 100"] = resources(server, tmp)
        soak(range(first, args.requests))
        checkpoints[f"after {args.requests}"] = resources(server, tmp)
        health = server.health()
        alive = server.process.poll() is None and health["status"] == "ok"
    finally:
        code = server.stop()
        left_behind = os.listdir(tmp)  # the zygotes' folders go with the server
        shutil.rmtree(scratch, ignore_errors=True)
    elapsed = time.perf_counter() - started

    print(f"{args.requests} requests at concurrency {args.concurrency} in {elapsed:.0f} s "
          f"({args.requests / elapsed:.1f}/s); server {health['workers']} workers, "
          f"{health['runners_forked']} runners forked")
    print(f"{'kernel':24} {'requests':>8} {'median s':>9}")
    for name, n in counts.items():
        values = sorted(seconds[name])
        print(f"{name:24} {n:8} {values[len(values) // 2]:9.3f}")
    print(f"{'checkpoint':12} {'rss MiB':>8} {'anon':>6} {'file':>6} {'heap use':>8} {'heap free':>9} {'sqlite':>6} {'fds':>5} "
          f"{'processes':>9} {'temp dirs':>9}")
    for name, r in checkpoints.items():
        print(f"{name:12} {r['rss_kib'] / 1024:8.1f} {r['anon_kib'] / 1024:6.1f} {r['file_kib'] / 1024:6.1f} "
              f"{r['heap_in_use_kib'] / 1024:8.1f} {r['heap_free_kib'] / 1024:9.1f} {r['sqlite_kib'] / 1024:6.1f} {r['fds']:5} {r['processes']:9} "
              f"{r['temp_dirs']:9}")
    after_100, end = checkpoints["after 100"], checkpoints[f"after {args.requests}"]
    failures = list(wrong)
    if not alive:
        failures.append("the server is not alive after the soak")
    if code != 0:
        failures.append(f"the server exited {code} on SIGTERM")
    for key in ("fds", "processes", "temp_dirs"):
        if end[key] > after_100[key]:
            failures.append(f"{key}: {after_100[key]} after 100 requests, {end[key]} at the end")
    if left_behind:
        failures.append(f"left in TMPDIR after the server stopped: {left_behind}")
    growth = end["rss_kib"] / after_100["rss_kib"] - 1
    print(f"memory growth from 100 requests to the end: {growth * 100:+.1f}%")
    if growth > 0.10:
        failures.append(f"memory grew {growth * 100:.1f}% after the first 100 requests")
    for failure in failures[:50]:
        print("FAIL", failure)
    print("soak: " + ("ok" if not failures else f"{len(failures)} failure(s)"))
    return 0 if not failures else 1


if __name__ == "__main__":
    sys.exit(main())
