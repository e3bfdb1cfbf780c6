"""kforge's importer of KernelBench and MultiKernelBench problem files (docs/importing.md), run by
`kforge import` as `python -I .../kforge/importer/__main__.py` (cli.py says what it takes and prints).

A module per concern: discover (finding the problems, their names, categories and levels), children (a forked
child per problem, its JSON line), task (the Importer: one problem made a task), probe (running the problem on
meta tensors for its shapes), fit (size variables and axes as expressions over them), inputs (which tensors are
inputs, their inits), sizes (check, bench and held-out sizes), tolerance (calibration against the float64 oracle),
write (the generated kernels and the files), serve (the oracles for kforge's guard) and common (what they share).
"""
