"""kforge's importer of the field's problem sets (docs/importing.md): KernelBench and MultiKernelBench problem files
made kforge tasks by running them, never by parsing them.

    python -I kforge/importer/__main__.py kernelbench|multikernelbench PATH --out DIR [--jobs N] [--only GLOB]
                                         [--timeout S] [--list]
    python -I kforge/importer/__main__.py --serve REQUEST_FD REPLY_FD    (the oracles for kforge's guard: serve.py)
    python -m kforge.importer ...                                         (the same, with python/ on the path)

PATH is the user's checkout of the suite's problem folder (KernelBench's `KernelBench/` with level1..level4,
MultiKernelBench's `reference/` with a folder per category), one level or category folder, or one file. Each
problem is a module with `Model(nn.Module)`, `get_inputs()` and `get_init_inputs()`; it is imported in a child
process of its own (a crash, a hang or a broken file refuses that problem only) and becomes:

    DIR/tasks/<category>/<name>.json          the task (docs/task-format.md; `source` says where it came from)
    DIR/reference_kernels/<name>/reference.py the oracle: the problem's own code and module, run in float64
    DIR/reference_kernels/<name>/torch.py     the eager baseline: the same module in the problem's own dtypes

Both kernels are the problem file, unchanged, followed by a generated kforge_run that builds the problem's Model
for the size it is given and calls it on kforge's tensors. The kernel's inputs are the forward arguments, then
the module's parameters, then its buffers and tensor attributes that are drawn at random (those a module computes
from its configuration, such as a causal mask, stay inside it), in that order.

Prints one JSON object per problem and line: {"file", "name", "status", "reason", "notes", "seconds", "task"}.
status is "imported" (new), "updated" (the file changed: the task's version goes up), "unchanged" (nothing was
written) or "refused" (reason says why). kforge's own degenerate-task guard runs after this, in `kforge import`.
"""
import argparse
import fnmatch
import json
import os
import sys

from .children import run_children
from .discover import discover, suite_root
from .serve import serve


def main(argv):
    """The command: `argv` is what follows the program's name. Returns the exit status."""
    if len(argv) == 3 and argv[0] == "--serve":
        return serve(int(argv[1]), int(argv[2]))
    parser = argparse.ArgumentParser(prog="kforge.importer", description=__doc__.split("\n\n")[0])
    parser.add_argument("suite", choices=["kernelbench", "multikernelbench"])
    parser.add_argument("path")
    parser.add_argument("--out", required=True)
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--only", default="", help="comma-separated globs over task names")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds one problem's import may take")
    parser.add_argument("--list", action="store_true", help="print the problems found, import nothing")
    args = parser.parse_args(argv)
    if not os.path.exists(args.path):
        print("kforge.importer: %s: no such file or folder" % args.path, file=sys.stderr)
        return 2
    items = discover(args.suite, args.path)
    if args.only:
        globs = [g for g in args.only.split(",") if g]
        items = [i for i in items if any(fnmatch.fnmatchcase(i[2], g) for g in globs)]
    root = suite_root(args.suite, args.path)
    if args.list:
        for file, group, name in items:
            print(json.dumps({"file": os.path.relpath(file, root), "name": name, "group": group}))
        return 0
    os.makedirs(args.out, exist_ok=True)
    run_children(args.suite, items, root, os.path.abspath(args.out), max(1, args.jobs), args.timeout)
    return 0
