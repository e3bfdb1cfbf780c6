#!/usr/bin/env python3
"""A KernelBench-style evaluation of one ModelNew solution, on the CPU: the path kforge serve is compared with.

What KernelBench's own evaluation does for a sample, in one fresh process: import torch, execute the problem file
(Model, get_inputs, get_init_inputs) and the solution file (ModelNew; a load_inline one compiles its extension
into a build folder of its own, empty, as each sample gets), build both from the same seed, check the outputs on 5
trials of fresh inputs (atol = rtol = 1e-2), then time 100 calls of ModelNew after 3 warm-up calls. On the CPU the
timer is time.perf_counter (KernelBench uses CUDA events on a GPU). This is the project's own rendering of that
procedure, not KernelBench's code.

    .venv/bin/python bench/kernelbench_style_eval.py bench/kernelbench_style/softmax_problem.py \\
        bench/kernelbench_style/softmax_modelnew.py

Prints one JSON object (correct, trials, mean_ms, seconds) and exits 0 when correct, 1 when not.
"""
import argparse
import json
import os
import sys
import tempfile
import time


def load(path, name):
    namespace = {"__name__": name, "__file__": path}
    with open(path) as f:
        exec(compile(f.read(), path, "exec"), namespace)
    return namespace


def main():
    started = time.perf_counter()
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("problem")
    parser.add_argument("solution")
    parser.add_argument("--trials", type=int, default=5)
    parser.add_argument("--timed", type=int, default=100)
    parser.add_argument("--warmup", type=int, default=3)
    args = parser.parse_args()

    build = tempfile.mkdtemp(prefix="kb-style-build-")
    os.environ["TORCH_EXTENSIONS_DIR"] = build  # an empty extension cache, as each sample gets

    import torch

    problem = load(args.problem, "kb_problem")
    solution = load(args.solution, "kb_solution")
    init = problem["get_init_inputs"]()
    torch.manual_seed(42)
    reference = problem["Model"](*init)
    torch.manual_seed(42)
    candidate = solution["ModelNew"](*init)

    correct = True
    generator = torch.Generator().manual_seed(42)
    seeds = [int(torch.randint(0, 2**31 - 1, (1,), generator=generator)) for _ in range(args.trials)]
    with torch.no_grad():
        for seed in seeds:
            torch.manual_seed(seed)
            inputs = problem["get_inputs"]()
            expected = reference(*inputs)
            got = candidate(*inputs)
            if got.shape != expected.shape or not torch.allclose(got, expected, atol=1e-2, rtol=1e-2):
                correct = False
                break
        times = []
        if correct:
            torch.manual_seed(seeds[0])
            inputs = problem["get_inputs"]()
            for _ in range(args.warmup):
                candidate(*inputs)
            for _ in range(args.timed):
                start = time.perf_counter()
                candidate(*inputs)
                times.append((time.perf_counter() - start) * 1e3)
    print(json.dumps({"correct": correct, "trials": args.trials,
                      "mean_ms": sum(times) / len(times) if times else None,
                      "seconds": time.perf_counter() - started}))
    return 0 if correct else 1


if __name__ == "__main__":
    sys.exit(main())
