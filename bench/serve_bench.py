#!/usr/bin/env python3
"""kforge serve against a KernelBench-style evaluation, side by side in one run (issue 31's acceptance).

For each of --runs rounds, alternating, the same softmax (bench/kernelbench_style/) is judged without timing:
  - by a warm `kforge serve` (started once, one request of each kind sent first), as a PyTorch `.py` kernel and as
    C++: the same source resent (its compile cached) and a new source each time (a comment that differs: compiled);
  - by bench/kernelbench_style_eval.py in a fresh process, as a ModelNew (PyTorch operators, then C++ through
    load_inline into an empty build folder): 5 correctness trials and 100 timed calls, as KernelBench evaluates;
  - by the cold CLI, `kforge verify --task softmax`, for reference.
Every figure is whole request or whole process wall time. Prints a table of medians and the ratios.

    python3 bench/serve_bench.py --kforge build/ci/kforge --python .venv/bin/python --runs 5
"""
import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

from serve_client import ROOT, Server, read

KB = os.path.join(ROOT, "bench", "kernelbench_style")


def timed_process(argv, env=None):
    start = time.perf_counter()
    result = subprocess.run(argv, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    seconds = time.perf_counter() - start
    return result.returncode, result.stdout, seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kforge", default=os.path.join(ROOT, "build", "ci", "kforge"))
    parser.add_argument("--python", default=os.path.join(ROOT, ".venv", "bin", "python"))
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--no-kernelbench-cpp", action="store_true", help="leave out the load_inline path (30 s each)")
    args = parser.parse_args()

    scratch = tempfile.mkdtemp(prefix="kforge-serve-bench-")
    env = dict(os.environ, XDG_CACHE_HOME=os.path.join(scratch, "cache"))  # an empty compile cache to start from
    python_source = read("tests/kernels/python/softmax.py")
    cpp_source = read("tests/kernels/softmax_loop.cpp")
    samples = {}

    def record(name, seconds, ok, detail=""):
        samples.setdefault(name, []).append(seconds)
        if not ok:
            sys.exit(f"{name}: not ok: {detail[-2000:]}")

    server = Server(args.kforge, ["--db", os.path.join(scratch, "serve.db")], env=env)
    try:
        for source in (python_source, cpp_source):  # the server's first requests start the zygote, fill the cache
            status, verdict, _ = server.verify("softmax", source)
            assert status == 200 and verdict["status"] == "ok", verdict
        for run in range(args.runs):
            for name, source in (("serve .py, resent", python_source), ("serve C++, resent", cpp_source)):
                status, verdict, seconds = server.verify("softmax", source)
                record(name, seconds, status == 200 and verdict["status"] == "ok", str(verdict))
            for name, source, comment in (("serve .py, new source", python_source, "#"),
                                          ("serve C++, new source", cpp_source, "//")):
                status, verdict, seconds = server.verify("softmax", f"{source}\n{comment} run {run} {time.time()}\n")
                record(name, seconds, status == 200 and verdict["status"] == "ok", str(verdict))
            code, out, seconds = timed_process([args.python, "bench/kernelbench_style_eval.py",
                                                f"{KB}/softmax_problem.py", f"{KB}/softmax_modelnew.py"])
            record("KernelBench-style .py (ModelNew)", seconds, code == 0, out)
            if not args.no_kernelbench_cpp:
                code, out, seconds = timed_process([args.python, "bench/kernelbench_style_eval.py",
                                                    f"{KB}/softmax_problem.py", f"{KB}/softmax_modelnew_cpp.py"])
                record("KernelBench-style C++ (load_inline)", seconds, code == 0, out)
            for name, file in (("cold CLI verify .py", "tests/kernels/python/softmax.py"),
                               ("cold CLI verify C++", "tests/kernels/softmax_loop.cpp")):
                code, out, seconds = timed_process([args.kforge, "verify", "--task", "softmax", file], env=env)
                record(name, seconds, code == 0, out)
        health = server.health()
    finally:
        server.stop()
        shutil.rmtree(scratch, ignore_errors=True)

    print(f"{args.runs} runs each, alternating; seconds end to end (median, min-max)")
    print(f"{'path':40} {'median':>8} {'min':>7} {'max':>7}")
    for name, values in samples.items():
        print(f"{name:40} {statistics.median(values):8.3f} {min(values):7.3f} {max(values):7.3f}")
    median = {name: statistics.median(values) for name, values in samples.items()}
    kb_py = median["KernelBench-style .py (ModelNew)"]
    print(f"KernelBench-style .py / serve .py, resent:     {kb_py / median['serve .py, resent']:.1f}x")
    print(f"KernelBench-style .py / serve .py, new source: {kb_py / median['serve .py, new source']:.1f}x")
    if not args.no_kernelbench_cpp:
        kb_cpp = median["KernelBench-style C++ (load_inline)"]
        print(f"KernelBench-style C++ / serve C++, resent:     {kb_cpp / median['serve C++, resent']:.1f}x")
        print(f"KernelBench-style C++ / serve C++, new source: {kb_cpp / median['serve C++, new source']:.1f}x")
    print(f"server: {health['zygotes']} zygote(s), {health['runners_forked']} runners forked, "
          f"{health['served']} served")


if __name__ == "__main__":
    main()
