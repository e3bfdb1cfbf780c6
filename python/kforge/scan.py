"""kforge's static scan of a Python kernel (docs/python.md): the source is parsed, never grepped. A script on its
own (it imports nothing of kforge's), run by the kernel's own interpreter (harness/compile_cache.cpp):

    python -I kforge/scan.py KERNEL.py [--gpu] [--pytorch EXPRESSION] [--operators NAME,NAME]

prints one JSON object: {"findings": [{"forbidden", "rule", "line", "token", "message"}], "calls_library",
"library_call", "triton"}. EXPRESSION is the task's `pytorch` field and NAMEs are more operators of the task's
work (an imported single-op problem's): calling one of them (or one of LIBRARY_OPS) outside a @triton.jit
function is having PyTorch do the work (`calls_library`). A forbidden finding makes the kernel `invalid`. Like the C++ scan it is a first gate, not the
defence: the runner's seccomp filter and jail stop what a scan is fooled past, and the cascade's fresh
inputs and checked timed calls catch a kernel that remembers answers. A file that does not parse gives no
findings: compiling it reports the syntax error.
"""
import ast
import json
import sys

# What a kernel may import; anything else (os, sys, time, ctypes, gc, threading, importlib, ...) is refused.
ALLOWED_MODULES = {"torch", "triton", "math", "typing", "functools", "itertools", "operator", "dataclasses",
                   "enum", "numbers", "__future__"}

# Parts of torch and triton that reach what a kernel must not: (rule, why). A prefix matches its members.
FORBIDDEN = {
    "torch.utils.cpp_extension": ("process", "compiles and loads native code"),
    "torch.multiprocessing": ("process", "starts processes"),
    "torch.distributed": ("network", "opens connections"),
    "torch.hub": ("network", "downloads code"),
    "torch.load": ("file", "reads a file"),
    "torch.save": ("file", "writes a file"),
    "torch.from_file": ("file", "reads a file"),
    "torch.ops.load_library": ("import", "loads native code"),
    "torch.classes.load_library": ("import", "loads native code"),
    "torch.library": ("patch", "registers or overrides operators"),
    "torch._C": ("patch", "reaches torch's internals"),
    "torch._dynamo": ("patch", "reconfigures the compiler"),
    "torch.overrides": ("patch", "intercepts torch functions"),
    "torch.utils._python_dispatch": ("patch", "intercepts torch operators"),
    "torch.jit": ("import", "compiles code (TorchScript, from strings too) and runs work off the call (fork)"),
    "torch.fx": ("import", "generates and executes code"),
    "torch.package": ("import", "loads code from archives"),
    "torch.futures": ("thread", "runs work off the call"),
    "torch.compile": ("process", "compiles code with a compiler process"),
    "operator.attrgetter": ("introspection", "reaches attributes by strings the scan cannot read"),
    "operator.methodcaller": ("introspection", "calls methods by strings the scan cannot read"),
    "typing.get_type_hints": ("import", "evaluates strings as code"),
    "typing.ForwardRef": ("import", "evaluates strings as code"),
    "torch.profiler": ("clock", "reads clocks and profiles"),
    "torch.autograd.profiler": ("clock", "reads clocks and profiles"),
    "torch.cuda.Event": ("clock", "times work with events"),
    "torch.cuda._sleep": ("clock", "spins the device for a while"),
    "torch.set_num_threads": ("thread", "changes the thread count kforge gave the kernel"),
    "torch.set_num_interop_threads": ("thread", "changes the thread count kforge gave the kernel"),
    "torch.cuda.set_sync_debug_mode": ("patch", "changes how the runtime synchronises"),
    "triton.testing": ("clock", "times work"),
    "triton.runtime.driver": ("patch", "reaches the launcher's driver"),
    # On a GPU Triton's runners may start processes (its compiler runs cc and ptxas): what builds native code or
    # runs tools, and what reconfigures them, stays Triton's own.
    "triton.runtime.build": ("process", "compiles and loads native code"),
    "triton.runtime.cache": ("file", "reads and writes Triton's cache"),
    "triton.backends": ("process", "reaches Triton's compilers and drivers, which run tools"),
    "triton.compiler": ("process", "runs Triton's compiler and its tools directly"),
    "triton.knobs": ("patch", "reconfigures Triton's compiler and the tools it runs"),
}
# On a GPU, work belongs on kforge's stream (the current one): another stream races the harness's copy.
FORBIDDEN_GPU = {
    "torch.cuda.Stream": ("stream", "creates another stream"),
    "torch.cuda.ExternalStream": ("stream", "uses another stream"),
    "torch.cuda.stream": ("stream", "switches to another stream"),
    "torch.cuda.set_stream": ("stream", "switches to another stream"),
    "torch.cuda.default_stream": ("stream", "uses the default stream instead of kforge's"),
}

# torch's operator namespaces: published solutions call operators there (torch._C._nn.leaky_relu_).
OPERATOR_NAMESPACES = ("torch._C._nn", "torch._C._VariableFunctions", "torch._C._fft", "torch._C._linalg",
                       "torch._C._special", "torch._C._nested", "torch._C._sparse")
INLINE_EXTENSION = {"torch.utils.cpp_extension", "torch.utils.cpp_extension.load_inline"}

# Modules a kernel must not reach, also as attributes of the ones it may import (torch.ctypes, torch.os,
# triton.language.core.builtins): the allow-list of imports is not the only door to them.
REACHABLE_MODULES = {"ctypes", "_ctypes", "os", "posix", "sys", "subprocess", "gc", "inspect", "importlib", "builtins",
                     "threading", "_thread", "multiprocessing", "concurrent", "socket", "io", "pathlib", "shutil",
                     "tempfile", "pickle", "marshal", "mmap", "resource", "platform", "weakref", "types", "code",
                     "codeop", "runpy", "ast", "dis", "traceback", "linecache", "atexit", "faulthandler", "time",
                     "pty", "fcntl", "sysconfig", "site", "zipimport", "pkgutil", "signal", "ctypeslib", "cffi",
                     "asyncio", "select", "selectors", "queue", "sched", "timeit", "datetime", "glob", "fnmatch"}

BUILTINS = {"open": "file", "exec": "import", "eval": "import", "compile": "import", "__import__": "import",
            "globals": "introspection", "locals": "introspection", "vars": "introspection",
            "getattr": "introspection", "setattr": "patch", "delattr": "patch", "breakpoint": "process",
            "input": "file", "exit": "exit", "quit": "exit", "help": "file", "memoryview": "introspection"}
# Frame, code and generator attributes lead from any object to every other (globals of other modules, the
# harness's objects, the garbage collector's view).
FRAME_ATTRIBUTES = {"f_back", "f_globals", "f_locals", "f_builtins", "f_code", "gi_frame", "gi_code", "cr_frame",
                    "cr_code", "ag_frame", "tb_frame", "tb_next", "co_code", "co_consts"}
ALLOWED_DUNDERS = {"__init__", "__name__", "__doc__", "__len__", "__call__", "__future__"}

# PyTorch operators that are a whole kernel by themselves (vendor GEMMs and convolutions, fused attention,
# normalisations, the losses): a kernel calling one has PyTorch do the work. Elementwise operators and plain
# reductions are building blocks, unless the task's own `pytorch` expression is that operator (its names are
# added per task: torch.sum is the work on sum_rows).
LIBRARY_OPS = {"matmul", "mm", "bmm", "mv", "dot", "vdot", "addmm", "addbmm", "baddbmm", "addmv", "linear", "bilinear",
               "einsum", "convolution", "scaled_dot_product", "fused_rms_norm", "grid_sampler", "cdist",
               "binary_cross_entropy", "huber_loss",
               "tensordot", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "softmax",
               "log_softmax", "scaled_dot_product_attention", "multi_head_attention_forward", "layer_norm",
               "group_norm", "batch_norm", "instance_norm", "rms_norm", "cross_entropy", "nll_loss", "kl_div",
               "mse_loss", "smooth_l1_loss", "embedding", "interpolate", "upsample", "grid_sample", "max_pool1d",
               "max_pool2d", "avg_pool1d", "avg_pool2d", "adaptive_avg_pool2d", "adaptive_max_pool2d",
               "pixel_shuffle", "cumsum", "sort", "topk", "index_add", "index_add_", "scatter_add", "gather"}


def operators_of(expression):
    """The operator names a `pytorch` expression calls (torch.softmax(x) -> softmax; a @ b -> matmul)."""
    try:
        tree = ast.parse(expression or "", mode="eval")
    except SyntaxError:
        return set()
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            names.add(func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", ""))
        elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.MatMult):
            names.add("matmul")
    return names - {"", "reshape", "flatten", "float", "half", "bfloat16", "eye", "zeros", "step"}


def dotted(node):
    """'a.b.c' for a Name/Attribute chain, else None."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return None


class Scan(ast.NodeVisitor):
    def __init__(self, gpu, bound, library, modelnew=False):
        self.gpu = gpu
        self.modelnew = modelnew  # the file defines KernelBench's class ModelNew
        self.library = library  # operator names whose call means PyTorch does the work
        self.bound = bound  # every name the kernel binds: an argument called `input` is not the builtin
        self.findings = []
        self.seen = set()
        self.aliases = {}  # local name -> the dotted module path it stands for
        self.jit_depth = 0
        self.triton = False
        self.library_call = None  # the first such call, for the message

    def add(self, node, rule, token, message, forbidden=True):
        line = getattr(node, "lineno", 0)
        if (line, rule) in self.seen:  # `torch.hub.load` and the `torch.hub` inside it: one finding
            return
        self.seen.add((line, rule))
        self.findings.append({"forbidden": forbidden, "rule": rule, "line": line, "token": token,
                              "message": message})

    def resolve(self, node):
        name = dotted(node)
        if name is None:
            return None
        head, _, rest = name.partition(".")
        if head in self.aliases:
            return self.aliases[head] + ("." + rest if rest else "")
        return name

    def check_path(self, node, path):
        # Operators by their internal names compute like any other (the dispatcher records them, and the whole-kernel
        # ones make the kernel calls_library); the rest of torch._C reaches the interpreter's and the harness's state.
        for namespace in OPERATOR_NAMESPACES:
            if path == namespace:
                return
            if path.startswith(namespace + "."):
                # The operator by its public name: torch._C._VariableFunctions.from_file is torch.from_file.
                return self.check_path(node, "torch." + path[len(namespace) + 1:])
        # A ModelNew file may compile C++ or CUDA with load_inline: kforge compiles those sources itself, in a trusted
        # stage, scanned like a kernel of that language; the runner only loads what was built.
        if self.modelnew and path in INLINE_EXTENSION:
            return
        parts = path.split(".")
        if parts[0] in ALLOWED_MODULES:
            for part in parts[1:]:
                if part in REACHABLE_MODULES:
                    self.add(node, "import", path, path + " reaches the module " + part +
                             " through " + parts[0] + ": not allowed in a kernel")
                    return
        for table in (FORBIDDEN, FORBIDDEN_GPU if self.gpu else {}):
            for prefix, (rule, why) in table.items():
                if path == prefix or path.startswith(prefix + "."):
                    self.add(node, rule, path, path + " " + why + ": not allowed in a kernel")
                    return

    def check_module(self, node, module):
        root = module.split(".")[0]
        if root not in ALLOWED_MODULES:
            self.add(node, "import", module, "import of " + module + ": a kernel may import only " +
                     ", ".join(sorted(ALLOWED_MODULES - {"__future__"})))
            return
        self.check_path(node, module)

    def visit_Import(self, node):
        for alias in node.names:
            self.check_module(node, alias.name)
            local = alias.asname or alias.name.split(".")[0]
            self.aliases[local] = alias.name if alias.asname else local

    def visit_ImportFrom(self, node):
        if node.level or not node.module:
            self.add(node, "import", "." * node.level + (node.module or ""),
                     "a relative import: a kernel is one file and imports only installed modules")
            return
        self.check_module(node, node.module)
        for alias in node.names:
            path = node.module + "." + alias.name
            if alias.name == "*":
                self.add(node, "import", path, "from " + node.module + " import *: name what the kernel uses")
                continue
            self.check_path(node, path)
            self.aliases[alias.asname or alias.name] = path

    def visit_Assign(self, node):
        for target in node.targets:
            self.check_target(target)
        # `t = torch.cuda` makes t stand for torch.cuda in what follows.
        if len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            path = self.resolve(node.value)
            if path is not None and path.split(".")[0] in ALLOWED_MODULES:
                self.aliases[node.targets[0].id] = path
                self.check_path(node, path)
        self.generic_visit(node)

    def visit_AugAssign(self, node):
        self.check_target(node.target)
        if self.jit_depth == 0 and isinstance(node.op, ast.MatMult) and self.library_call is None:
            self.library_call = "matmul"
        self.generic_visit(node)

    def visit_AnnAssign(self, node):
        self.check_target(node.target)
        self.generic_visit(node)

    def visit_Delete(self, node):
        for target in node.targets:
            self.check_target(target)
        self.generic_visit(node)

    def check_target(self, target):
        if isinstance(target, (ast.Tuple, ast.List)):
            for element in target.elts:
                self.check_target(element)
            return
        if isinstance(target, ast.Attribute):
            path = self.resolve(target)
            root = path.split(".")[0] if path else None
            if root in ALLOWED_MODULES or root == "__builtins__":
                self.add(target, "patch", path, "assigns " + path + ": a kernel must not patch torch, triton or "
                         "other modules (the harness and the reference share them)")

    def visit_Attribute(self, node):
        if node.attr in FRAME_ATTRIBUTES or (node.attr.startswith("__") and node.attr.endswith("__") and
                                             node.attr not in ALLOWED_DUNDERS):
            self.add(node, "introspection", node.attr, "." + node.attr + " reaches the interpreter's internals")
        path = self.resolve(node)
        if path is not None and path.split(".")[0] in ALLOWED_MODULES and isinstance(node.ctx, ast.Load):
            self.check_path(node, path)
            if any(path.startswith(namespace + ".") for namespace in OPERATOR_NAMESPACES):
                return  # torch._C below an operator's internal name is part of the name, not a reach
        self.generic_visit(node)

    def visit_Name(self, node):
        if node.id in ("__builtins__", "__loader__", "__spec__", "__import__"):
            self.add(node, "introspection", node.id, node.id + " reaches the interpreter's internals")
        elif node.id in BUILTINS and node.id not in self.bound and isinstance(node.ctx, ast.Load):
            self.add(node, BUILTINS[node.id], node.id, node.id + "() is not allowed in a kernel")

    def visit_Call(self, node):
        if self.jit_depth == 0 and self.library_call is None:
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            if name in self.library:
                self.library_call = name
        self.generic_visit(node)

    def visit_BinOp(self, node):
        if self.jit_depth == 0 and isinstance(node.op, ast.MatMult) and self.library_call is None:
            self.library_call = "matmul"
        self.generic_visit(node)

    def visit_FunctionDef(self, node):
        jit = any((self.resolve(d.func if isinstance(d, ast.Call) else d) or "").startswith(
            ("triton.jit", "triton.autotune", "triton.heuristics")) for d in node.decorator_list)
        for decorator in node.decorator_list:
            self.visit(decorator)
        self.triton = self.triton or jit
        self.jit_depth += jit
        for child in node.body:
            self.visit(child)
        self.visit(node.args)
        self.jit_depth -= jit

    visit_AsyncFunctionDef = visit_FunctionDef


def scan(source, gpu, pytorch="", operators=()):
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return {"findings": [], "calls_library": False, "library_call": "", "triton": False,
                "work_operators": sorted(LIBRARY_OPS | operators_of(pytorch) | set(operators))}
    bound = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and not isinstance(n.ctx, ast.Load)}
    bound |= {n.arg for n in ast.walk(tree) if isinstance(n, ast.arg)}
    bound |= {n.name for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))}
    bound |= {(a.asname or a.name).split(".")[0] for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom))
              for a in n.names}
    work = LIBRARY_OPS | operators_of(pytorch) | set(operators)
    modelnew = defines_modelnew(tree)
    visitor = Scan(gpu, bound, work, modelnew)
    for node, name in rebound_imports(tree):
        visitor.add(node, "patch", name, "rebinds " + name + ", a name its import binds: the scan resolves names "
                    "by their imports (a local def jit is not triton.jit)")
    visitor.visit(tree)
    report = {"findings": visitor.findings, "calls_library": visitor.library_call is not None,
              "library_call": visitor.library_call or "", "triton": visitor.triton, "work_operators": sorted(work),
              "format": "modelnew" if modelnew else "kforge"}
    if modelnew:
        report["inline_extensions"], problem = inline_extensions(tree)
        if problem:
            visitor.add(problem[0], "process", "load_inline", problem[1])
    return report


def defines_modelnew(tree):
    """Whether the file is a KernelBench solution: it defines class ModelNew and no kforge_run of its own."""
    names = {n.name for n in tree.body if isinstance(n, (ast.ClassDef, ast.FunctionDef))}
    return "ModelNew" in names and "kforge_run" not in names


LOAD_INLINE_FIELDS = ("name", "cpp_sources", "cuda_sources", "functions", "extra_cflags", "extra_cuda_cflags",
                      "extra_ldflags", "extra_include_paths", "with_cuda")


def inline_extensions(tree):
    """Every load_inline call's arguments, evaluated without running the file: string literals, names bound once at
    module level to them, concatenations, lists and tuples of them. kforge compiles these sources itself; a call
    whose sources it cannot read this way is refused: ([extension, ...], (node, message) or None)."""
    constants = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            constants.setdefault(node.targets[0].id, []).append(node.value)

    def value(node):
        if isinstance(node, ast.Constant) and isinstance(node.value, (str, bool)) or (
                isinstance(node, ast.Constant) and node.value is None):
            return node.value
        if isinstance(node, (ast.List, ast.Tuple)):
            return [value(element) for element in node.elts]
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
            left, right = value(node.left), value(node.right)
            if isinstance(left, type(right)):
                return left + right
        if isinstance(node, ast.JoinedStr) and all(isinstance(v, ast.Constant) for v in node.values):
            return "".join(v.value for v in node.values)
        if isinstance(node, ast.Name) and len(constants.get(node.id, [])) == 1:
            return value(constants[node.id][0])
        raise ValueError(ast.dump(node)[:80])

    imports_cpp_load = any(isinstance(n, ast.ImportFrom) and (n.module or "").endswith("cpp_extension") and
                           any(a.name == "load" for a in n.names) for n in ast.walk(tree))
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        if (dotted(func) or "").endswith("cpp_extension.load") or (name == "load" and imports_cpp_load):
            return found, (node, "load() of extension files: a ModelNew's native code must be load_inline sources "
                                 "kforge can read and compile itself")
        if name != "load_inline":
            continue
        fields = dict(zip(LOAD_INLINE_FIELDS, node.args))
        fields.update({k.arg: k.value for k in node.keywords if k.arg in LOAD_INLINE_FIELDS})
        try:
            extension = {key: value(fields[key]) for key in fields}
        except ValueError:
            return found, (node, "load_inline's arguments must be string literals (or names bound to them) kforge "
                                 "can read without running the file")
        for key in ("cpp_sources", "cuda_sources", "functions", "extra_cflags", "extra_cuda_cflags",
                    "extra_ldflags", "extra_include_paths"):
            if isinstance(extension.get(key), str):
                extension[key] = [extension[key]]
            extension.setdefault(key, [])
        extension.setdefault("with_cuda", None)
        if not isinstance(extension.get("name"), str):
            return found, (node, "load_inline needs a name")
        found.append(extension)
    return found, None


def rebound_imports(tree):
    """(node, name) for every binding of a name that an import also binds: a def, class, assignment, argument,
    loop, with, except or global of it. The scan trusts what an imported name stands for; a file that rebinds one
    (a local `def jit` shadowing `triton.jit`) is not read as it runs."""
    imported = {(a.asname or a.name).split(".")[0] for n in ast.walk(tree)
                if isinstance(n, (ast.Import, ast.ImportFrom)) for a in n.names}
    found = []
    for node in ast.walk(tree):
        names = []
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names = [node.name]
        elif isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            names = [node.id]
        elif isinstance(node, ast.arg):
            names = [node.arg]
        elif isinstance(node, ast.ExceptHandler) and node.name:
            names = [node.name]
        elif isinstance(node, (ast.Global, ast.Nonlocal)):
            names = list(node.names)
        elif isinstance(node, ast.MatchAs) and node.name:
            names = [node.name]
        found += [(node, name) for name in names if name in imported]
    return found


def main(argv):
    args = argv[1:]
    gpu = "--gpu" in args
    values = {}
    for option in ("--pytorch", "--operators"):
        if option in args:
            at = args.index(option)
            values[option] = args[at + 1] if at + 1 < len(args) else ""
            del args[at:at + 2]
    args = [a for a in args if a != "--gpu"]
    if len(args) != 1:
        print("usage: scan.py KERNEL.py [--gpu] [--pytorch EXPRESSION] [--operators NAME,NAME]", file=sys.stderr)
        return 2
    with open(args[0], "rb") as source:
        text = source.read()
    operators = [name for name in values.get("--operators", "").split(",") if name]
    print(json.dumps(scan(text, gpu, values.get("--pytorch", ""), operators)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
