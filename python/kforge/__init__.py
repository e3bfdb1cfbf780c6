"""kforge's Python side: the static scan of a Python kernel (scan.py, run as a script by the kernel's own
interpreter: docs/python.md) and the importer of KernelBench and MultiKernelBench problems (importer/:
docs/importing.md)."""
