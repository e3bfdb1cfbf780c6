"""kforge's importer of the field's problem sets (spec section 13): KernelBench and MultiKernelBench problem files
made kforge tasks by running them, never by parsing them.

    python -I kforge_import.py kernelbench|multikernelbench PATH --out DIR [--jobs N] [--only GLOB] [--timeout S]
    python -I kforge_import.py --serve REQUEST_FD REPLY_FD    (the oracles for kforge's guard: see serve())

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
import contextlib
import fnmatch
import hashlib
import inspect
import itertools
import json
import math
import os
import re
import select
import signal
import sys
import time
import traceback
import types

IMPORTER_VERSION = 1

# The problem's dtypes as kforge names them; a problem with any other dtype is refused.
DTYPE_NAMES = {"float32": "f32", "float16": "f16", "bfloat16": "bf16", "float64": "f64", "int32": "i32",
               "int64": "i64", "uint8": "u8", "bool": "bool"}
# kforge's tolerance defaults per output dtype (core/task.cpp: default_tolerance).
DEFAULT_TOLERANCE = {"f32": (1e-5, 1e-4), "f64": (1e-10, 1e-8), "f16": (1e-2, 1e-2), "bf16": (1e-2, 1e-2)}
# How far past its defaults a tolerance may be widened so that PyTorch in the problem's dtype passes against
# the float64 oracle: KernelBench's own atol and rtol are 1e-2, kforge's f32 defaults 1e-5 and 1e-4.
TOLERANCE_STEPS = (1, 2, 5, 10, 20, 50, 100)

# Sizes the derived shapes aim at: the check shapes are answered by a float64 oracle in a Python runner on one
# core, several cases per evaluation; the CPU bench shape is timed, PyTorch eager taking 5 to 150 ms on one core.
CHECK_ELEMENTS, CHECK_FLOPS = 300_000, 2e8
SMALL_ELEMENTS, SMALL_FLOPS = 20_000, 2e7
BENCH_SECONDS, BENCH_LOW, BENCH_HIGH = 0.04, 0.005, 0.15
PROBE_SECONDS = 20  # one build-and-forward of the module; past it the problem is probed with real tensors
NATIVE_ORACLE_FLOPS = 5e8  # a check size costlier than this runs its oracle in the problem's dtypes, not float64
CHECK_LIMIT_ELEMENTS = 2e8  # a problem whose smallest size is larger cannot be checked on the CPU oracle
COSTLY_PROBE_SECONDS = 0.1  # a problem whose probe takes longer is probed sparingly (self.costly)
REAL_PROBE_ELEMENTS = 5e7  # probes with real tensors stop at sizes this large (a probe at them takes seconds)

# Operator names the scan's calls_library test counts as the task's work for a single-op (level 1) problem.
TRIVIAL_OPERATORS = {"view", "reshape", "size", "contiguous", "flatten", "unsqueeze", "squeeze", "permute",
                     "transpose", "expand", "to", "float", "double", "half", "bfloat16", "clone", "detach",
                     "dim", "numel", "shape", "type", "device", "dtype", "item", "tolist", "t", "__get__",
                     "__getitem__", "__setitem__", "__len__", "__iter__", "__format__", "__repr__", "chunk",
                     "split", "cat", "stack", "empty", "zeros", "ones", "empty_like", "zeros_like", "ones_like",
                     "new_zeros", "new_empty", "new_ones", "is_floating_point", "requires_grad_", "copy_"}


class Refused(Exception):
    """A problem kforge cannot import, with the reason in words."""


def slug(text):
    """The suite's file name made a task name part: lowercased, runs of other characters one '_', no '_' at
    either end (`1_Square_matrix_multiplication_` -> `1_square_matrix_multiplication`)."""
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")


# ---- finding the problems ------------------------------------------------------------------------------------

KB_FILE = re.compile(r"^(\d+)_.+\.py$")
KB_LEVEL = re.compile(r"^level(\d+)$")


def discover(suite, path):
    """(file, group, name) for every problem under `path`: group is the KernelBench level (an int) or the
    MultiKernelBench category (a string)."""
    path = os.path.abspath(path)
    found = []
    if suite == "kernelbench":
        def level_of(folder):
            match = KB_LEVEL.match(os.path.basename(folder))
            return int(match.group(1)) if match else None

        def add_level(folder, level):
            for entry in sorted(os.listdir(folder)):
                if KB_FILE.match(entry) and os.path.isfile(os.path.join(folder, entry)):
                    found.append((os.path.join(folder, entry), level, "kb%d_%s" % (level, slug(entry[:-3]))))

        if os.path.isfile(path):
            level = level_of(os.path.dirname(path))
            if level is None or not KB_FILE.match(os.path.basename(path)):
                raise SystemExit("%s: a KernelBench problem is levelN/<number>_<name>.py" % path)
            found.append((path, level, "kb%d_%s" % (level, slug(os.path.basename(path)[:-3]))))
        elif level_of(path) is not None:
            add_level(path, level_of(path))
        else:
            for entry in sorted(os.listdir(path)):
                if level_of(entry) is not None and os.path.isdir(os.path.join(path, entry)):
                    add_level(os.path.join(path, entry), level_of(entry))
            if not found:
                raise SystemExit("%s: no level1..level4 folders of KernelBench problems here" % path)
    else:
        def add_category(folder):
            category = os.path.basename(folder)
            for entry in sorted(os.listdir(folder)):
                if entry.endswith(".py") and not entry.startswith("_") and os.path.isfile(os.path.join(folder, entry)):
                    found.append((os.path.join(folder, entry), category,
                                  "mkb_%s_%s" % (slug(category), slug(entry[:-3]))))

        if os.path.isfile(path):
            category = os.path.basename(os.path.dirname(path))
            found.append((path, category, "mkb_%s_%s" % (slug(category), slug(os.path.basename(path)[:-3]))))
        elif any(e.endswith(".py") for e in os.listdir(path)):
            add_category(path)
        else:
            for entry in sorted(os.listdir(path)):
                if os.path.isdir(os.path.join(path, entry)) and not entry.startswith((".", "_")):
                    add_category(os.path.join(path, entry))
            if not found:
                raise SystemExit("%s: no category folders of MultiKernelBench problems here" % path)
    return found


def suite_root(suite, path):
    """The folder a problem's recorded file name is relative to (KernelBench/, reference/)."""
    path = os.path.abspath(path)
    if os.path.isfile(path):
        path = os.path.dirname(path)
    if suite == "kernelbench":
        return os.path.dirname(path) if KB_LEVEL.match(os.path.basename(path)) else path
    return path if not any(e.endswith(".py") for e in os.listdir(path)) else os.path.dirname(path)


# kforge's categories (core/task.cpp), chosen from a KernelBench file name; MultiKernelBench names its own.
CATEGORY_WORDS = [
    ("attention", r"attention|attn|gpt|transformer|selfattn"),
    ("loss", r"loss|entropy|kldiv|hinge|huber"),
    ("convolution", r"conv"),
    ("pooling", r"pool"),
    ("normalization", r"norm"),
    ("matmul", r"matmul|matrix_mul|gemm|bmm|matvec|linear|matrix_vector|einsum"),
    ("activation", r"softmax|relu|gelu|sigmoid|tanh|swish|selu|elu|softplus|softsign|mish|silu|hardswish"),
    ("reduce", r"reduction|argmax|argmin|cumsum|cumprod|sum_|mean_|max_|min_|_sum|_mean|prod"),
    ("broadcast", r"scalar|broadcast|bias_add"),
    ("resize", r"upsample|interpolate|resize|pixel_shuffle"),
    ("index", r"gather|scatter|index|embedding|mask"),
]
KFORGE_CATEGORIES = {"activation", "attention", "broadcast", "convolution", "fuse", "index", "loss", "math",
                     "matmul", "normalization", "optimizer", "pooling", "reduce", "resize"}


def category_for(suite, group, name):
    if suite == "multikernelbench":
        return group if group in KFORGE_CATEGORIES else "fuse"  # arch: a whole network
    words = name.split("_", 2)[-1]
    if group >= 2:
        return "attention" if re.search(CATEGORY_WORDS[0][1], words) else "fuse"
    for category, pattern in CATEGORY_WORDS:
        if re.search(pattern, words):
            return category
    return "math"


def level_for(suite, group):
    """kforge's level (1 a single op, 2 fused ops, 3 a block of a model)."""
    if suite == "kernelbench":
        return min(group, 3)
    return {"arch": 3, "fuse": 2}.get(group, 1)


# ---- running one problem ---------------------------------------------------------------------------------------

def torch_module():
    import torch  # noqa: imported late: the parent process forks children with it already loaded
    return torch


def dtype_name(dtype):
    name = str(dtype).replace("torch.", "")
    if name not in DTYPE_NAMES:
        raise Refused("uses dtype %s, which kforge's kernels do not take (%s)" % (name, ", ".join(DTYPE_NAMES)))
    return DTYPE_NAMES[name]


class Deadline(Exception):
    pass


@contextlib.contextmanager
def time_limit(seconds):
    def expire(signum, frame):
        raise Deadline()
    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def flatten_outputs(value, where="the forward's result"):
    torch = torch_module()
    if isinstance(value, torch.Tensor):
        return [value]
    if isinstance(value, (tuple, list)):
        out = []
        for item in value:
            out.extend(flatten_outputs(item, where))
        return out
    raise Refused("%s holds a %s, not only tensors" % (where, type(value).__name__))


def state_tensors(model):
    """Every tensor a module holds: (path, kind, tensor) with kind parameter, buffer or attribute (a plain tensor
    attribute, such as an RNN's initial hidden state)."""
    torch = torch_module()
    found = []
    for path, tensor in model.named_parameters():
        found.append((path, "parameter", tensor))
    for path, tensor in model.named_buffers():
        found.append((path, "buffer", tensor))
    for prefix, module in model.named_modules():
        for key, value in vars(module).items():
            if isinstance(value, torch.Tensor) and not isinstance(value, torch.nn.Parameter) and not key.startswith("_"):
                found.append(((prefix + "." + key).lstrip("."), "attribute", value))
    return found


class Shapes:
    """What one build and forward of the problem at some constants gave: every tensor's shape and dtype."""

    def __init__(self, args, state, outputs, flops):
        self.args = args        # per forward argument: (shape, dtype) or ("scalar", value)
        self.state = state      # {path: (kind, shape, dtype)}
        self.outputs = outputs  # [(shape, dtype)]
        self.flops = flops


class Problem:
    """One problem file, executed in a namespace of its own; its module-level ints are its constants."""

    def __init__(self, path, source):
        self.path = path
        self.source = source
        self.module = types.ModuleType("kforge_problem")
        self.module.__file__ = path
        try:
            exec(compile(source, os.path.basename(path), "exec"), self.module.__dict__)
        except SyntaxError as error:
            raise Refused("does not parse: %s (line %s)" % (error.msg, error.lineno))
        except ImportError as error:
            raise Refused("fails to import: %s" % error)
        except Exception as error:  # the problem's own code failed
            raise Refused("fails when run: %s: %s" % (type(error).__name__, error))
        for needed in ("Model", "get_inputs", "get_init_inputs"):
            if not callable(getattr(self.module, needed, None)):
                raise Refused("defines no %s(): not a KernelBench-style problem" % needed)
        # The constants: module-level positive ints, and each element of a module-level tuple of them (as
        # input_shape_0 for input_shape = (4096,)), which problems splat into their inputs' shapes.
        self.base = {}
        self.tuple_members = {}  # key -> (tuple's name, index)
        for name, value in vars(self.module).items():
            if name.startswith("_") or not name.isidentifier():
                continue
            if type(value) is int and value > 0:
                self.base[name] = value
            elif type(value) is tuple and value and all(type(v) is int and v > 0 for v in value):
                for index, element in enumerate(value):
                    key = "%s_%d" % (name, index)
                    if key not in vars(self.module):
                        self.base[key] = element
                        self.tuple_members[key] = (name, index)
        self.tuples = {name: getattr(self.module, name) for name, _ in self.tuple_members.values()}
        self.module_reads_constants = None  # whether the problem's own classes read a size constant (build_meta)
        self.meta_models = {}
        self.mentions_cuda = "cuda" in source  # puts tensors on the GPU itself: DeviceRedirect in every build
        self.mode = "meta"  # how probes run: meta tensors, or real ones on the CPU where meta cannot or is slow

    def bind(self, values):
        tuples = {name: list(value) for name, value in self.tuples.items()}
        for key, value in values.items():
            if key in self.tuple_members:
                name, index = self.tuple_members[key]
                tuples[name][index] = value
            else:
                setattr(self.module, key, value)
        for name, value in tuples.items():
            setattr(self.module, name, tuple(value))

    def build(self, values, device, seed=0):
        torch = torch_module()
        self.bind(values)
        torch.manual_seed(seed)
        with torch.device(device), (DeviceRedirect(device) if self.mentions_cuda else contextlib.nullcontext()):
            model = self.module.Model(*list(self.module.get_init_inputs()))
            args = list(self.module.get_inputs())
        return model, args

    def build_meta(self, values):
        """build() on meta tensors, reusing a module already built from the same get_init_inputs() when the
        problem's classes read no size constant themselves (a ResNet is built once for all its batch sizes and
        resolutions: its construction, not its meta forward, is what a probe of it costs)."""
        torch = torch_module()
        if self.module_reads_constants is None:
            names = set()

            def collect(code):
                names.update(code.co_names)
                for const in code.co_consts:
                    if isinstance(const, types.CodeType):
                        collect(const)
            for name, value in vars(self.module).items():
                if name in ("get_inputs", "get_init_inputs"):
                    continue
                if isinstance(value, types.FunctionType):
                    collect(value.__code__)
                elif isinstance(value, type) and getattr(value, "__module__", "") == self.module.__name__:
                    for member in vars(value).values():
                        function = getattr(member, "__func__", member)
                        if isinstance(function, types.FunctionType):
                            collect(function.__code__)
            constants = set(self.base) | set(self.tuples)
            self.module_reads_constants = bool(names & constants)
        if self.module_reads_constants:
            return self.build(values, "meta")
        self.bind(values)
        with torch.device("meta"), (DeviceRedirect("meta") if self.mentions_cuda else contextlib.nullcontext()):
            init = list(self.module.get_init_inputs())
            key = repr(init)
            model = self.meta_models.get(key)
            if model is None:
                model = self.meta_models[key] = self.module.Model(*init)
            args = list(self.module.get_inputs())
        return model, args

    def probe(self, values, operators=None):
        """Builds the problem at `values` and runs its forward on meta tensors (or small real ones): the shapes
        of everything, or the exception. The FLOPs are PyTorch's count of its matrix products and convolutions."""
        torch = torch_module()
        from torch.utils.flop_counter import FlopCounterMode
        device = "meta" if self.mode == "meta" else "cpu"
        model, args = self.build_meta(values) if device == "meta" else self.build(values, device)
        for i, arg in enumerate(args):
            if isinstance(arg, torch.Tensor) and arg.device.type != device:
                args[i] = arg.to(device)
        counter = FlopCounterMode(display=False)
        # The modes that cost a Python call per operator only where they are needed.
        modes = [counter]
        if self.mentions_cuda:
            modes.append(DeviceRedirect(device))
        shortcut = (torch.nn.RNNBase, torch.nn.modules.batchnorm._NormBase, torch.nn.GroupNorm, torch.nn.LayerNorm)
        if device == "meta" and any(isinstance(m, shortcut) for m in model.modules()):
            modes.append(MetaRecurrence())
        if operators is not None:
            modes.append(operators)
        with torch.no_grad(), contextlib.ExitStack() as stack:
            if device == "meta":
                stack.enter_context(torch.device("meta"))
            for mode in modes:
                stack.enter_context(mode)
            result = model(*args)
        outputs = [(tuple(t.shape), t.dtype) for t in flatten_outputs(result)]
        arg_shapes = [(tuple(a.shape), a.dtype) if isinstance(a, torch.Tensor) else ("scalar", a) for a in args]
        state = {path: (kind, tuple(t.shape), t.dtype) for path, kind, t in state_tensors(model)}
        return Shapes(arg_shapes, state, outputs, float(counter.get_total_flops()))


class DeviceRedirect:
    """Makes a problem that puts its tensors on 'cuda' (get_inputs(..., device='cuda'), .cuda()) build on the
    device kforge probes with: the importer runs on machines without a GPU."""

    def __new__(cls, device):
        torch = torch_module()

        class Redirect(torch.overrides.TorchFunctionMode):
            def __torch_function__(self, func, types_, args=(), kwargs=None):
                kwargs = dict(kwargs or {})
                if str(kwargs.get("device", "")).startswith("cuda"):
                    kwargs["device"] = device
                if func in (torch.Tensor.cuda,):
                    return args[0].to(device)
                if func is torch.Tensor.to:
                    args = tuple(device if str(a).startswith("cuda") else a for a in args)
                return func(*args, **kwargs)

        return Redirect()


class MetaRecurrence:
    """Shapes of PyTorch's fused recurrent layers and normalisations on meta tensors, computed directly: their
    meta forward runs a Python decomposition, a recurrent one op by op, time step by time step (half a minute for
    a 6-layer GRU over 512 steps)."""

    def __new__(cls):
        torch = torch_module()
        fused = {torch.lstm: "lstm", torch.gru: "gru", torch.rnn_tanh: "rnn", torch.rnn_relu: "rnn"}
        # Normalisations keep their input's shape; their meta forward runs a Python decomposition (three
        # quarters of a DenseNet's meta forward).
        functional = torch.nn.functional
        norms = {functional.batch_norm, functional.group_norm, functional.layer_norm, functional.instance_norm}

        def check_norm(func, x, args, kwargs):
            """The errors the real normalisations raise about shapes, which the shortcut must not hide."""
            def arg(index, name, default=None):
                return kwargs.get(name, args[index] if len(args) > index else default)
            per_channel = math.prod(x.shape) // max(1, x.shape[1]) if x.dim() > 1 else 1
            if func is functional.batch_norm and arg(5, "training", False) and per_channel <= 1:
                raise ValueError("Expected more than 1 value per channel when training, got input size %s" %
                                 (tuple(x.shape),))
            if func is functional.instance_norm and math.prod(x.shape[2:]) <= 1:
                raise ValueError("Expected more than 1 spatial element when training, got input size %s" %
                                 (tuple(x.shape),))
            if func is functional.group_norm and (x.dim() < 2 or x.shape[1] % arg(1, "num_groups")):
                raise RuntimeError("Expected number of channels in input to be divisible by num_groups")
            if func is functional.layer_norm:
                normalized = tuple(arg(1, "normalized_shape"))
                if tuple(x.shape[x.dim() - len(normalized):]) != normalized:
                    raise RuntimeError("layer_norm: the input's trailing shape is not %s" % (normalized,))
            for index, name in ((3, "weight"), (4, "bias")) if func is functional.batch_norm else ():
                tensor = arg(index, name)
                if tensor is not None and tensor.numel() != x.shape[1]:
                    raise RuntimeError("batch_norm: %s has %d elements for %d channels" % (name, tensor.numel(),
                                                                                       x.shape[1]))

        class Shortcut(torch.overrides.TorchFunctionMode):
            def __torch_function__(self, func, types_, args=(), kwargs=None):
                if func in norms and args and isinstance(args[0], torch.Tensor) and args[0].device.type == "meta":
                    check_norm(func, args[0], args, kwargs or {})
                    return args[0].new_empty(args[0].shape)
                kind = fused.get(func)
                if kind is None or kwargs or len(args) != 9 or not isinstance(args[0], torch.Tensor) or \
                        args[0].device.type != "meta":
                    return func(*args, **(kwargs or {}))
                data, hidden, bidirectional, batch_first = args[0], args[1], args[7], args[8]
                h = hidden[0] if kind == "lstm" else hidden
                directions = 2 if bidirectional else 1
                steps, batch = (data.shape[1], data.shape[0]) if batch_first else (data.shape[0], data.shape[1])
                shape = (batch, steps) if batch_first else (steps, batch)
                output = data.new_empty(shape + (h.shape[-1] * directions,)) if data.dim() == 3 else \
                    data.new_empty((steps, h.shape[-1] * directions))
                if kind == "lstm":
                    return output, hidden[0].new_empty(hidden[0].shape), hidden[1].new_empty(hidden[1].shape)
                return output, hidden.new_empty(hidden.shape)

        return Shortcut()


class OperatorLog:
    """The names of the torch functions a forward calls."""

    def __new__(cls):
        torch = torch_module()

        class Log(torch.overrides.TorchFunctionMode):
            def __init__(self):
                super().__init__()
                self.names = set()

            def __torch_function__(self, func, types_, args=(), kwargs=None):
                self.names.add(getattr(func, "__name__", ""))
                return func(*args, **(kwargs or {}))

        return Log()


# ---- fitting tensor sizes to the problem's constants ------------------------------------------------------------

def fit_axis(samples, variables):
    """An expression over `variables` that gives every sample's value (samples are (values dict, axis size)): a
    constant; floor((p*v + q) / s) in one variable (a convolution's output: (H + 2*pad - K) // stride + 1, a
    transposed one's stride*H + q); floor((sum of p_v*v + q) / s) in two or three; or k * a product (a
    flatten: C*H*W). The simplest that fits, or None."""
    values = [a for _, a in samples]
    if len(set(values)) == 1:
        return str(values[0])
    used = [v for v in variables if len({s[v] for s, _ in samples}) > 1]

    def solve_q(coefficients, divisor):
        low, high = -10**18, 10**18
        for point, a in samples:
            linear = sum(c * point[v] for v, c in coefficients.items())
            low = max(low, divisor * a - linear)
            high = min(high, divisor * a + divisor - 1 - linear)
            if low > high:
                return None
        return low

    def render(coefficients, q, divisor):
        text = " + ".join(v if c == 1 else "%d*%s" % (c, v) for v, c in coefficients.items())
        if q:
            text += (" + %d" % q) if q > 0 else (" - %d" % -q)
        if divisor == 1:
            return text
        return ("(%s) // %d" if re.search(r"[ *]", text) else "%s // %d") % (text, divisor)

    for size in range(1, min(len(used), 3) + 1):
        candidates = []
        for subset in itertools.combinations(used, size):
            for divisor in range(1, 65 if size == 1 else 9):
                for multipliers in itertools.product(range(1, 9 if size == 1 else 5), repeat=size):
                    coefficients = dict(zip(subset, multipliers))
                    q = solve_q(coefficients, divisor)
                    if q is not None:
                        candidates.append((divisor, sum(multipliers), render(coefficients, q, divisor)))
        if candidates:
            return min(candidates)[2]
    # A multiple of a floor: m * ((v + q) // s) + r, as a pooling followed by a stride-2 transposed convolution.
    for variable in used:
        for m in range(2, 9):
            for r in range(m):
                if all((a - r) % m == 0 for _, a in samples):
                    inner = fit_axis([(point, (a - r) // m) for point, a in samples], [variable])
                    if inner is not None and "*" not in inner:
                        text = ("%d*(%s)" % (m, inner) if re.search(r"[ /]", inner) else "%d*%s" % (m, inner)) + \
                            (" + %d" % r if r else "")
                        if all(eval_expr(text, point) == a for point, a in samples):
                            return text
    for size in range(2, min(len(used), 4) + 1):
        for subset in itertools.combinations(used, size):
            point, a = samples[0]
            product = math.prod(point[v] for v in subset)
            g = math.gcd(a, product)
            numerator, denominator = a // g, product // g
            text = "*".join(subset)
            if numerator != 1:
                text = "%d*%s" % (numerator, text)
            if denominator != 1:
                text = "(%s) // %d" % (text, denominator)
            if all(eval_expr(text, point) == a for point, a in samples):
                return text
    return None


def eval_expr(text, values):
    """Evaluates one of the fitted expressions (integers, + - * //, names) as kforge does."""
    return eval(text, {"__builtins__": {}}, dict(values))


# ---- choosing the inputs' distributions ---------------------------------------------------------------------------

def round_sig(x, digits=4):
    return 0.0 if x == 0 else float("%.*g" % (digits, x))


CONSTANT_NOTE = "where the problem sets a tensor to one value ("


def infer_init(samples, name, kind, notes):
    """kforge's init for a tensor from values the problem itself produced (several draws pooled)."""
    torch = torch_module()
    # A strided subset of a large tensor says as much about its distribution and costs far less.
    flat = torch.cat([s.reshape(-1)[::max(1, s.numel() // 100_000)] for s in samples])
    if flat.numel() == 0:
        return {"dist": "normal", "mean": 0, "std": 1}
    if flat.dtype == torch.bool:
        p = float(flat.double().mean())
        return {"dist": "bernoulli", "p": round_sig(min(max(p, 0.05), 0.95), 3)}
    if not flat.is_floating_point():
        low, high = int(flat.min()), int(flat.max())
        return {"dist": "randint", "low": low, "high": high + 1}
    x = flat.double()
    low, high = float(x.min()), float(x.max())
    if not (math.isfinite(low) and math.isfinite(high)):
        raise Refused("%s %s holds values that are not finite" % (kind, name))
    if high - low <= 1e-12 * max(1.0, abs(low)):
        width = 0.1 * max(1.0, abs(low))
        constants = [n for n in notes if n.startswith(CONSTANT_NOTE)]
        entry = "%s = %g" % (name, low)
        if constants:
            notes[notes.index(constants[0])] = constants[0].replace(") ", ", %s) " % entry, 1)
        else:
            notes.append(CONSTANT_NOTE + "%s) kforge draws within 10%% of the value (0.1 of 0) so that a kernel "
                         "must read it" % entry)
        return {"dist": "uniform", "low": round_sig(low - width), "high": round_sig(low + width)}
    distinct = torch.unique(x)
    if distinct.numel() <= 4 and x.numel() >= 16:
        notes.append("%s %s: the problem draws it from the values {%s}; kforge draws it from an interval around "
                     "them, which the problem's formula also defines" % (kind, name, ", ".join("%g" % v for v in
                                                                                          distinct.tolist())))
    mean, std = float(x.mean()), float(x.std())
    n = x.numel()
    kurtosis = float(((x - mean) ** 4).mean()) / std ** 4 if std > 0 else 3.0
    if n >= 16 and kurtosis < 2.2:  # flat: uniform (1.8), not normal (3)
        pad = (high - low) / max(n - 1, 1)
        low, high = low - pad, high + pad
        if 0 <= low + pad and high - pad <= 1 and low + pad < 0.05 and high - pad > 0.95:
            low, high = 0.0, 1.0  # torch.rand
        elif abs(low + high) < 0.05 * (high - low):
            bound = round_sig(max(abs(low), abs(high)))
            low, high = -bound, bound
        return {"dist": "uniform", "low": round_sig(low), "high": round_sig(high)}
    if abs(mean) < 0.05 * std:
        mean = 0.0
    if abs(std - 1) < 0.05:
        std = 1.0
    return {"dist": "normal", "mean": round_sig(mean), "std": round_sig(std)}


def draw(init, shape, dtype, generator):
    """A tensor from a kforge init, as kforge draws one: in float64, then rounded to the dtype."""
    torch = torch_module()
    if init["dist"] == "normal":
        x = torch.randn(shape, dtype=torch.float64, generator=generator) * init["std"] + init["mean"]
    elif init["dist"] == "uniform":
        x = torch.rand(shape, dtype=torch.float64, generator=generator) * (init["high"] - init["low"]) + init["low"]
    elif init["dist"] == "randint":
        x = torch.randint(int(init["low"]), int(init["high"]), shape, generator=generator, dtype=torch.int64)
    else:
        x = (torch.rand(shape, dtype=torch.float64, generator=generator) < init["p"])
    return x.to(dtype)


# ---- the generated kernels -----------------------------------------------------------------------------------

GLUE = '''

# ---- kforge ----------------------------------------------------------------------------------------------------
# Everything above is the problem file as kforge imported it, unchanged. What follows is generated by
# `kforge import` (importer {importer}): the kforge kernel that runs the problem's Model on kforge's tensors.
# {what}
import torch as _kforge_torch

_KFORGE_ORACLE = {oracle}


def _kforge_dims(inputs):
    # The problem's size constants, read off the inputs: the module is built for the size it is given.
{dims}


def _kforge_cast(tensor, copy):
    if _KFORGE_ORACLE and tensor.is_floating_point():
        return tensor.to(_kforge_torch.float64)
    return tensor.clone() if copy else tensor


def _kforge_outputs(value, into):
    if isinstance(value, _kforge_torch.Tensor):
        into.append(value)
    elif isinstance(value, (tuple, list)):
        for item in value:
            _kforge_outputs(item, into)
    return into


def kforge_setup(inputs, outputs, params):
    return {{}}


def kforge_run(inputs, outputs, params, state):
    _kforge_dims(inputs)
    model = state.get("model")
    if model is None:
        # Built once per size on the evaluation's device, from a fixed seed: what the module computes from its
        # configuration (masks, tables) is the same in every process; what it draws at random comes from inputs.
        rng = _kforge_torch.get_rng_state()
        _kforge_torch.manual_seed(0)
        with _kforge_torch.device(outputs[0].device):
            model = Model(*get_init_inputs())
        _kforge_torch.set_rng_state(rng)
        if _KFORGE_ORACLE:
            model = model.to(_kforge_torch.float64)
        state["model"] = model
    default_dtype = _kforge_torch.get_default_dtype()
    if _KFORGE_ORACLE:
        _kforge_torch.set_default_dtype(_kforge_torch.float64)
    try:
        with _kforge_torch.no_grad():
{attributes}            result = _kforge_torch.func.functional_call(model, {{{tensors}}}, ({args}))
    finally:
        _kforge_torch.set_default_dtype(default_dtype)
    results = _kforge_outputs(result, [])
    if len(results) != len(outputs):
        raise RuntimeError("the problem's forward returned %d tensors, the task has %d outputs" % (len(results), len(outputs)))
    for output, value in zip(outputs, results):
        if tuple(output.shape) != tuple(value.shape):
            raise RuntimeError("the problem's forward returned shape %s where the task says %s" %
                               (tuple(value.shape), tuple(output.shape)))
        output.copy_(value)
'''


def glue(oracle, dims, forward, state_inputs, attributes):
    """The kforge kernel appended to the problem file. dims: the body of _kforge_dims; forward: per forward
    argument, ("input", index) or ("param", name) or ("value", repr); state_inputs: [(path, index, kind)];
    attributes: [(path, index)], the tensor attributes set before each call."""
    body = dims
    args = []
    for how, what in forward:
        if how == "input":
            args.append("_kforge_cast(inputs[%d], False)" % what)
        elif how == "param":
            args.append("params[%r]" % what)
        else:
            args.append(what)
    tensors = ", ".join("%r: _kforge_cast(inputs[%d], %s)" % (path, index, kind != "parameter")
                        for path, index, kind in state_inputs if kind != "attribute")
    lines = []
    for path, index in attributes:
        owner, _, attribute = path.rpartition(".")
        target = "model.get_submodule(%r)" % owner if owner else "model"
        lines.append("            %s.%s = _kforge_cast(inputs[%d], True)" % (target, attribute, index))
    what = ("The oracle: the module in float64 (inputs, parameters and its own floating tensors) on the "
            "evaluation's device, the result rounded to the task's output dtypes." if oracle else
            "The eager baseline: the module as the problem runs it, in its own dtypes (PyTorch eager).")
    return GLUE.format(importer=IMPORTER_VERSION, what=what, oracle="True" if oracle else "False",
                       dims=body.rstrip("\n"), attributes="\n".join(lines + [""]),
                       tensors=tensors, args=", ".join(args) + ("," if len(args) == 1 else ""))


def load_kernel(text, name):
    """A generated kernel, executed as kforge's adapter does (a module namespace of its own)."""
    module = types.ModuleType("kforge_kernel_" + name)
    exec(compile(text, name, "exec"), module.__dict__)
    return module


def call_kernel(kernel, inputs, outputs, params):
    torch = torch_module()
    state = kernel.kforge_setup([t.to("meta") for t in inputs], [t.to("meta") for t in outputs], params)
    kernel.kforge_run(inputs, outputs, params, state)
    return state


# ---- one problem -------------------------------------------------------------------------------------------------

class Importer:
    def __init__(self, suite, file, group, name, root, out_dir):
        self.suite, self.file, self.group, self.name = suite, file, group, name
        self.relative = os.path.relpath(file, root)
        self.out_dir = out_dir
        self.notes = []

    # -- idempotence
    def existing_task(self):
        tasks = os.path.join(self.out_dir, "tasks")
        if not os.path.isdir(tasks):
            return None, None
        for folder in sorted(os.listdir(tasks)):
            candidate = os.path.join(tasks, folder, self.name + ".json")
            if os.path.isfile(candidate):
                with open(candidate) as handle:
                    try:
                        return candidate, json.load(handle)
                    except ValueError:
                        return candidate, None
        return None, None

    def run(self):
        with open(self.file, "rb") as handle:
            data = handle.read()
        digest = hashlib.sha256(data).hexdigest()
        old_file, old = self.existing_task()
        version = 1
        if old is not None:
            source = old.get("source", {})
            reference = os.path.join(self.out_dir, "reference_kernels", self.name)
            complete = all(os.path.isfile(os.path.join(reference, f)) for f in ("reference.py", "torch.py"))
            if source.get("sha256") == digest and source.get("importer") == IMPORTER_VERSION and complete:
                return {"status": "unchanged", "task": old_file, "version": old.get("version", 1)}
            version = int(old.get("version", 1)) + (0 if source.get("sha256") == digest else 1)
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise Refused("is not UTF-8 text")
        task, reference, eager = self.make_task(text, digest, version)
        category = task["category"]
        task_file = os.path.join(self.out_dir, "tasks", category, self.name + ".json")
        folder = os.path.join(self.out_dir, "reference_kernels", self.name)
        os.makedirs(os.path.dirname(task_file), exist_ok=True)
        os.makedirs(folder, exist_ok=True)
        write_atomic(os.path.join(folder, "reference.py"), reference)
        write_atomic(os.path.join(folder, "torch.py"), eager)
        write_atomic(task_file, json.dumps(task, indent=2) + "\n")
        if old_file is not None and os.path.abspath(old_file) != os.path.abspath(task_file):
            os.remove(old_file)
        return {"status": "imported" if old is None else "updated", "task": task_file, "version": version}

    def make_task(self, text, digest, version):
        torch = torch_module()
        problem = Problem(self.file, text)
        self.problem = problem
        # The problem's own sizes: the first probe decides how probes run (meta tensors cost nothing; a module
        # without meta kernels, or whose meta forward crawls, is probed with real tensors on the CPU).
        operators = OperatorLog()
        start = time.time()
        try:
            with time_limit(PROBE_SECONDS):
                base = problem.probe(problem.base, operators)
        except Refused:
            raise
        except Exception as error:
            problem.mode = "real"
            base = self.real_probe_or_refuse(error, operators)
        if problem.mode == "meta" and time.time() - start > 1.0:
            # An RNN's meta forward runs op by op; if a second probe is as slow, small real tensors are faster.
            start = time.time()
            problem.probe(problem.base)
            if time.time() - start > 1.0 and self.elements(base) < REAL_PROBE_ELEMENTS:
                problem.mode = "real"
        # A probe of a whole network costs a tenth of a second or more: such a problem gets fewer of them (one
        # check shape, fewer points to fit and draws to validate), which its fixed configuration makes enough.
        start = time.time()
        if problem.mode == "meta":
            problem.probe(problem.base)
        self.costly = problem.mode == "real" or time.time() - start > COSTLY_PROBE_SECONDS
        self.operators = sorted(n for n in operators.names if n and not n.startswith("_") and n not in TRIVIAL_OPERATORS)
        if not base.outputs:
            raise Refused("its forward returns no tensor")
        for shape, dtype in base.outputs:
            dtype_name(dtype)
        self.base_shapes = base
        self.forward_names = self.forward_argument_names(len(base.args))
        self.points = {self.key(problem.base): base}
        variables = self.size_variables(base)
        self.classify_state(variables)
        expressions, variables = self.fit_shapes(variables)
        self.predicting = False
        self.fit_flops(sorted(variables), {n: 1 for n in variables})  # the monomial measure() predicts with
        shapes, ranges = self.choose_shapes(variables, expressions)
        return self.assemble(text, digest, version, variables, expressions, shapes, ranges)

    def real_probe_or_refuse(self, meta_error, operators):
        problem = self.problem
        try:
            with time_limit(PROBE_SECONDS * 3):
                return problem.probe(problem.base, operators)
        except Refused:
            raise
        except Deadline:
            raise Refused("its module could not be built and run within %d s (on meta tensors: %s)" %
                          (PROBE_SECONDS * 3, describe_error(meta_error)))
        except Exception as error:
            raise Refused("its module fails to build or run: %s" % describe_error(error))

    def elements(self, shapes):
        return sum(math.prod(a[0]) for a in shapes.args if a[0] != "scalar") + sum(math.prod(o[0]) for o in shapes.outputs)

    def key(self, values):
        return tuple(sorted(values.items()))

    def probe(self, values):
        """The shapes at `values` (the problem's constants with some changed), or None when the module refuses
        them; cached."""
        key = self.key(values)
        if key not in self.points and self.problem.mode == "real" and self.too_big_for_real(values):
            return None
        if key not in self.points:
            try:
                with time_limit(PROBE_SECONDS):
                    self.points[key] = self.problem.probe(values)
            except (Exception, Deadline):
                self.points[key] = None
        return self.points[key]

    def too_big_for_real(self, values):
        """Whether a real probe at `values` would be large: the base's elements scaled by how far each constant
        grew (a bound good enough to keep real probes small)."""
        base = self.points.get(self.key(self.problem.base))
        if base is None:
            return False
        growth = math.prod(max(1.0, values[k] / v) for k, v in self.problem.base.items() if v > 0)
        return self.elements(base) * growth > REAL_PROBE_ELEMENTS

    def forward_argument_names(self, count):
        model_forward = self.problem.module.Model.forward
        names = []
        try:
            parameters = list(inspect.signature(model_forward).parameters.values())[1:]
        except (TypeError, ValueError):
            parameters = []
        for i in range(count):
            if i < len(parameters) and parameters[i].kind in (parameters[i].POSITIONAL_ONLY,
                                                              parameters[i].POSITIONAL_OR_KEYWORD):
                names.append(parameters[i].name)
            else:
                names.append("arg%d" % i)
        return names

    def set_var(self, values, name, value):
        """`values` with the size variable `name` (and every constant tied to it) at `value`."""
        changed = dict(values)
        for key in self.groups.get(name, [name]):
            changed[key] = value
        return changed

    def size_variables(self, base):
        """The constants that size the data: changing one changes a forward argument's shape and the module
        still builds. A constant that only configures the module (kernel size, out_channels) stays as the problem
        sets it. Constants that must move together become one variable: two that share a value where neither
        moves alone (batch_size and input_shape = (32768,), which broadcast against each other), and a constant
        that bounds an integer input's values (num_classes for the labels) with the size it equals."""
        problem = self.problem
        variables = {}  # name -> (forward argument, axis) where its value is read
        self.groups = {}
        self.integer_bound_variables = set()  # variables that also bound an integer input's values

        def try_variable(name, members):
            self.groups[name] = members
            value = problem.base[name]
            for trial in (value // 2, value * 2, value + 1):
                if trial < 1 or trial == value:
                    continue
                shapes = self.probe(self.set_var(problem.base, name, trial))
                if shapes is None or len(shapes.args) != len(base.args) or len(shapes.outputs) != len(base.outputs):
                    continue
                # Where the variable can be read: a forward argument's axis that is the variable itself.
                for i, (arg, new) in enumerate(zip(base.args, shapes.args)):
                    if arg[0] == "scalar" or new[0] == "scalar" or len(arg[0]) != len(new[0]):
                        continue
                    for axis, (a, b) in enumerate(zip(arg[0], new[0])):
                        if a == value and b == trial:
                            variables[name] = (i, axis)
                            return True
            del self.groups[name]
            return False

        for name in problem.base:
            try_variable(name, [name])
        alone = [n for n in problem.base if n not in variables]
        taken = set()
        for name in alone:
            twins = [k for k in alone if k != name and k not in taken and problem.base[k] == problem.base[name]]
            if name not in taken and twins and try_variable(name, [name] + twins):
                taken.update([name] + twins)
        for name in self.integer_bounds([n for n in alone if n not in taken], variables):
            for variable in variables:
                if problem.base[variable] == problem.base[name]:
                    self.groups[variable].append(name)
                    self.integer_bound_variables.add(variable)
                    break
        return variables

    def integer_bounds(self, names, variables):
        """Which of `names` bound the values of an integer forward argument (a label's class count): halving
        one lowers the largest value drawn. Real draws at a small size."""
        torch = torch_module()
        problem = self.problem
        small = dict(problem.base)
        for variable in variables:
            small = self.set_var(small, variable, min(8, problem.base[variable]))
        small_shapes = self.probe(small)

        def largest(values):
            problem.bind(values)
            top = []
            with DeviceRedirect("cpu"):
                for seed in range(8):
                    torch.manual_seed(seed)
                    args = problem.module.get_inputs()
                    top.append([int(a.max()) if isinstance(a, torch.Tensor) and a.numel() and not
                                a.is_floating_point() and a.dtype != torch.bool else None for a in args])
            return [max((t[i] for t in top if t[i] is not None), default=None) for i in range(len(top[0]))]

        try:
            with time_limit(PROBE_SECONDS):
                if small_shapes is None or self.elements(small_shapes) > 1e7:
                    return []  # too large to draw for real even at a small size; nothing is tied
                if not any(a[0] != "scalar" and not a[1].is_floating_point and a[1] != torch.bool
                           for a in self.base_shapes.args):
                    return []
                before = largest(small)
                bounds = []
                for name in names:
                    after = largest(dict(small, **{name: max(1, problem.base[name] // 2)}))
                    if any(b is not None and a is not None and a < b // 1.5 for a, b in zip(after, before)):
                        bounds.append(name)
                problem.bind(problem.base)
                return bounds
        except (Exception, Deadline):
            problem.bind(problem.base)
            return []

    def classify_state(self, variables):
        """Which of the module's tensors are kernel inputs: every parameter, and the buffers and tensor
        attributes it draws at random (two builds from different seeds differ). Also samples every input's values
        for its init: built for real at a small size."""
        torch = torch_module()
        problem = self.problem
        small = self.small_point(variables)
        small_shapes = self.probe(small)
        if small_shapes is not None:
            elements = self.elements(small_shapes) + sum(math.prod(shape) for kind, shape, dtype in
                                                         small_shapes.state.values() if kind == "parameter")
            if elements > CHECK_LIMIT_ELEMENTS:
                raise Refused("even at the smallest size kforge finds, its tensors (parameters included) hold %d "
                              "elements: too large for kforge's float64 CPU oracle to check" % elements)
        builds = []
        try:
            with time_limit(PROBE_SECONDS * 3):
                for seed in (1, 2):
                    builds.append(problem.build(small, "cpu", seed))
        except Deadline:
            raise Refused("building its module for real took over %d s" % (PROBE_SECONDS * 3))
        except Exception as error:
            raise Refused("its module fails to build on the CPU: %s" % describe_error(error))
        self.sample_args = [args for _, args in builds]
        # More draws of the forward arguments where they are small: an integer input's range (class labels)
        # needs them.
        elements = sum(a.numel() for a in self.sample_args[0] if isinstance(a, torch.Tensor))
        if elements <= 1e5:
            with DeviceRedirect("cpu"):
                for seed in range(4, 4 + min(100, max(20, 20_000 // max(elements, 1)))):
                    torch.manual_seed(seed)
                    self.sample_args.append(list(problem.module.get_inputs()))
        states = [{path: (kind, t) for path, kind, t in state_tensors(model)} for model, _ in builds]
        self.state_inputs = []  # (path, kind)
        self.state_samples = {}
        for path, (kind, tensor) in states[0].items():
            if kind != "parameter":
                other = states[1].get(path)
                if other is not None and other[1].shape == tensor.shape and torch.equal(other[1], tensor):
                    continue  # computed from the configuration: stays inside the module
            self.state_inputs.append((path, kind))
            self.state_samples[path] = [s[path][1].detach() for s in states if path in s]

    def small_point(self, variables):
        """A small size the module takes: each size variable in turn at the smallest of 8, 16, 32, ... and its own
        value halved again and again that the module still builds with (checked on probes)."""
        problem = self.problem
        values = dict(problem.base)
        for name in sorted(variables, key=lambda n: -problem.base[n]):
            base = problem.base[name]
            candidates = {c for c in (8, 16, 32, 64, 128, 256, 512, 1024, 4096) if c < base}
            candidates |= {base // 2 ** k for k in range(1, 20) if base // 2 ** k >= 1}
            candidates |= {base // 3, base // 5}
            for candidate in sorted(c for c in candidates if c >= min(8, base)):
                trial = self.set_var(values, name, candidate)
                if self.probe(trial) is not None:
                    values = trial
                    break
        return values

    def tensor_list(self, shapes):
        """Every kernel tensor at one probe, in task order: (role, key, shape, dtype)."""
        out = []
        for i, arg in enumerate(shapes.args):
            if arg[0] != "scalar":
                out.append(("forward", i, arg[0], arg[1]))
        for path, kind in self.state_inputs:
            entry = shapes.state.get(path)
            if entry is None:
                raise Refused("its module holds %s %s only at some sizes" % (kind, path))
            out.append((kind, path, entry[1], entry[2]))
        for i, (shape, dtype) in enumerate(shapes.outputs):
            out.append(("output", i, shape, dtype))
        return out

    def fit_shapes(self, variables):
        """Each axis of each kernel tensor as an expression over the size variables, fitted to every probe;
        a variable an axis cannot be fitted to is fixed at the problem's value, and the fit starts again."""
        problem = self.problem
        while True:
            names = sorted(variables)
            # Probes: the problem's sizes, and each variable moved alone to a few values.
            for name in names:
                value = problem.base[name]
                trials = {value // 2, max(1, value // 4 + 1), value // 3 * 2 + 1}
                if not self.costly:
                    trials |= {value * 2, value + 1}  # free on meta tensors; real ones pay for every element
                for trial in sorted(trials):
                    if trial >= 1 and trial != value:
                        self.probe(self.set_var(problem.base, name, trial))
            samples = []  # (values of the variables, shapes, the kernel tensors at them)
            for key, shapes in self.points.items():
                values = dict(key)
                members = {k for n in variables for k in self.groups[n]}
                if shapes is None or any(values[k] != problem.base[k] for k in values if k not in members):
                    continue
                if len(shapes.args) != len(self.base_shapes.args) or len(shapes.outputs) != len(self.base_shapes.outputs):
                    continue
                try:
                    tensors = self.tensor_list(shapes)
                except Refused:
                    continue
                samples.append(({n: values[n] for n in names}, shapes, tensors))
            reference = self.tensor_list(self.base_shapes)
            base_values = {n: problem.base[n] for n in names}
            expressions = {}
            unfit = set()
            for index, (role, key, shape, dtype) in enumerate(reference):
                axes = []
                for axis in range(len(shape)):
                    data = [(values, tensors[index][2][axis]) for values, _, tensors in samples
                            if len(tensors[index][2]) == len(shape)]
                    fitted = fit_axis(data, names)
                    if fitted is None:
                        # The variables this axis moves with (alone) cannot stay variables.
                        for name in names:
                            alone = [a for v, a in data if all((v[n] != base_values[n]) == (n == name) for n in names)]
                            if any(a != shape[axis] for a in alone):
                                unfit.add(name)
                        unfit = unfit or set(names)
                        break
                    axes.append(fitted)
                if unfit:
                    break
                expressions[(role, key)] = axes
            if not unfit:
                return expressions, variables
            for name in unfit:
                variables.pop(name, None)
            self.notes.append("fixed %s at the problem's own value: a tensor's size depends on it in a way kforge "
                              "could not express" % ", ".join(sorted(unfit)))

    def fit_flops(self, names, floor):
        """FLOPs as k * a product of powers of the size variables: each power from moving that variable alone
        (rounded down), k the smallest ratio over the probes no smaller than `floor` (the timed sizes). A bound
        from below, which is what the speed-of-light check needs; the count is PyTorch's (matrix products,
        convolutions, attention), elementwise work not included."""
        base_values = self.problem.base
        self.flops_model = (0.0, {})
        samples = []
        for key, shapes in self.points.items():
            values = dict(key)
            if shapes is not None and shapes.flops > 0 and all(values[k] == base_values[k] for k in values
                                                                  if k not in names):
                samples.append((values, shapes.flops))
        base = self.points[self.key(base_values)].flops
        if base <= 0 or not samples:
            return "0"
        powers = {}
        for name in names:
            ratios = [math.log(f / base) / math.log(v[name] / base_values[name]) for v, f in samples
                      if [n for n in names if v[n] != base_values[n]] == [name]]
            powers[name] = max(0, min(4, math.floor(min(ratios) + 0.05))) if ratios else 0

        def monomial(values):
            return math.prod(values[n] ** powers[n] for n in names)
        timed = [(v, f) for v, f in samples if all(v[n] >= floor[n] for n in names)] or samples
        k = min(f / monomial(v) for v, f in timed) * (1 - 1e-9)
        # What measure() predicts with: the largest ratio, so that a shrink on predictions errs small.
        self.flops_model = (max(f / monomial(v) for v, f in samples), powers)
        k_text = ("%.6f" % k if k >= 1 else "%.12f" % k).rstrip("0").rstrip(".")
        return "*".join([k_text] + [n if powers[n] == 1 else "%s**%d" % (n, powers[n]) for n in names if powers[n]])

    # -- sizes
    def measure(self, values, expressions):
        """(elements of every kernel tensor, FLOPs) at `values`: the FLOPs probed, or predicted from the fitted
        monomial while self.predicting."""
        elements = 0
        for axes in expressions.values():
            elements += math.prod(eval_expr(a, values) for a in axes)
        if self.predicting:
            k, powers = self.flops_model
            return elements, k * math.prod(values[n] ** p for n, p in powers.items())
        shapes = self.probe(values)
        return elements, shapes.flops if shapes is not None else float("inf")

    def agrees(self, values, expressions):
        """The module builds at `values` and every tensor has the fitted size (while self.predicting: only that
        every fitted size is positive)."""
        if self.predicting:
            return all(eval_expr(a, values) >= 1 for axes in expressions.values() for a in axes)
        shapes = self.probe(values)
        if shapes is None:
            return False
        try:
            tensors = self.tensor_list(shapes)
        except Refused:
            return False
        for role, key, shape, dtype in tensors:
            if any(a < 1 for a in shape):
                return False  # an empty tensor: kforge's sizes are positive
            axes = expressions.get((role, key))
            if axes is None or len(axes) != len(shape):
                return False
            if any(eval_expr(a, values) != s for a, s in zip(axes, shape)):
                return False
        return True

    def shrink(self, start, variables, expressions, fits, floor=1):
        """Halves the largest variable, one at a time, while `fits` says the size is too large and the module
        still builds at the smaller size. Variables above `floor` (or their own smaller value) go first, so a
        bench shape keeps a problem's 16 channels and shrinks its 1024 pixels. A problem whose probes are costly
        is shrunk on predicted sizes and probed once at the end (and step by step only when that fails)."""
        if self.costly and not self.predicting:
            self.predicting = True
            try:
                guess = self.shrink(start, variables, expressions, fits, floor)
            finally:
                self.predicting = False
            if self.agrees(guess, expressions):
                return guess
        current = dict(start)
        stuck = set()
        for _ in range(200):
            if fits(current):
                break
            movable = [v for v in variables if v not in stuck and current[v] > 1]
            if not movable:
                break
            above = [v for v in movable if current[v] > min(floor, start[v])]
            name = max(above or movable, key=lambda v: current[v])
            trial = self.set_var(current, name, max(1, current[name] // 2))
            if not self.agrees(trial, expressions) or all(
                    after > 0.95 * before for after, before in zip(self.measure(trial, expressions),
                                                                   self.measure(current, expressions))):
                stuck.add(name)  # refused, or the fixed part of the problem dominates: smaller buys nothing
            else:
                current = trial
        return current

    def oddify(self, values, variables, expressions):
        """Odd sizes where the module takes them: an even size hides tails that a kernel must handle."""
        current = dict(values)
        for name in sorted(variables):
            if current[name] % 2 == 0:
                for trial in (current[name] + 1, current[name] - 1):
                    if trial >= 1 and self.agrees(self.set_var(current, name, trial), expressions):
                        current = self.set_var(current, name, trial)
                        break
        return current

    def choose_shapes(self, variables, expressions):
        problem = self.problem
        names = sorted(variables)
        base = dict(problem.base)

        def under(elements_limit, flops_limit):
            def fits(values):
                elements, flops = self.measure(values, expressions)
                return elements <= elements_limit and flops <= flops_limit
            return fits

        check = self.oddify(self.shrink(base, names, expressions, under(CHECK_ELEMENTS, CHECK_FLOPS)), names,
                            expressions)
        small = None
        if not self.costly:
            small = self.oddify(self.shrink(check, names, expressions, under(SMALL_ELEMENTS, SMALL_FLOPS)), names,
                                expressions)
            if small == check:
                small = None
        if names and self.measure(check, expressions)[0] > CHECK_ELEMENTS * 10:
            self.notes.append("its sizes could not be made small: the check shape has %d elements" %
                              self.measure(check, expressions)[0])
        if not names:
            self.notes.append("the problem fixes every size: its check, CPU bench and GPU bench shapes are its own")
        # Held-out ranges: from the smallest size the module takes to the check size, in steps the module takes.
        ranges = {}
        for name in names:
            top = check[name] if small is None else max(check[name], small[name])
            bottom = check[name] if small is None else min(check[name], small[name])
            low = bottom
            for trial in (1, 2, 3, max(1, bottom // 4), max(1, bottom // 2)):
                if trial < low and self.agrees(self.set_var(check, name, trial), expressions):
                    low = trial
                    break
            step = 1
            if not any(v % 2 for v in (check[name], bottom)):
                step = math.gcd(check[name], bottom)
            ranges[name] = {"min": low, "max": top, "multiple_of": step}
        self.drop_small = False
        ranges = self.validate_ranges(ranges, check, small, names, expressions)
        if self.drop_small:
            small = None
        bench_cpu = self.cpu_bench_shape(base, check, names, expressions)
        return {"check": check, "small": small, "bench_cpu": bench_cpu, "bench_gpu": base}, ranges

    def validate_ranges(self, ranges, check, small, names, expressions):
        """Draws a few sizes the way kforge's held-out draw does (any combination within the ranges) and probes
        them; a range the module refuses somewhere is narrowed to the listed check sizes."""
        import random
        generator = random.Random(hash(self.name) & 0xffff)
        for attempt in range(3):
            ok = True
            for _ in range(3 if self.costly else 6):
                values = dict(check)
                for name in names:
                    r = ranges[name]
                    choices = list(range(r["min"], r["max"] + 1, r["multiple_of"]))
                    choices = [c for c in choices if c % r["multiple_of"] == 0] or [check[name]]
                    values = self.set_var(values, name, generator.choice(choices))
                if not self.agrees(values, expressions):
                    ok = False
                    break
            if ok:
                return ranges
            for name in names:
                sizes = [check[name]] + ([small[name]] if small else [])
                if attempt == 0:
                    ranges[name]["min"] = min(sizes)
                else:
                    ranges[name]["multiple_of"] = max(1, math.gcd(*sizes)) if len(sizes) > 1 else check[name]
                    ranges[name]["min"] = min(sizes)
        self.notes.append("no held-out sizes: the module refuses sizes the check shape does not list, so the task "
                          "keeps that one check shape")
        self.drop_small = True
        return {name: {"min": check[name], "max": check[name], "multiple_of": 1} for name in names}

    def cpu_bench_shape(self, base, check, names, expressions):
        """The problem's sizes scaled so that PyTorch eager takes about 40 ms on one core (measured)."""
        if not names:
            return dict(base)
        # A first guess from the FLOPs and bytes, then up to three measured corrections.
        def estimate(values):
            elements, flops = self.measure(values, expressions)
            return flops / 2e10 + elements * 4 / 4e9
        target = BENCH_SECONDS
        chosen = None
        measured = []
        for attempt in range(2 if self.costly else 4):
            values = self.shrink(base, names, expressions, lambda v: estimate(v) <= target, floor=64)
            values = self.grow(values, base, names, expressions, lambda v: estimate(v) <= target)
            if values in measured:
                break  # the module takes no other size in that direction
            measured.append(values)
            seconds = self.time_eager(values)
            if seconds is None:
                break
            if chosen is None or abs(math.log(seconds / BENCH_SECONDS)) < abs(math.log(chosen[1] / BENCH_SECONDS)):
                chosen = (values, seconds)
            if BENCH_SECONDS / 2 <= seconds <= BENCH_SECONDS * 2 or values == base and seconds < BENCH_HIGH:
                break
            target *= BENCH_SECONDS / max(seconds, 1e-4)
        if chosen is None:
            return dict(check)
        if not BENCH_LOW <= chosen[1] <= BENCH_HIGH:
            self.notes.append("the CPU bench shape takes %.0f ms in PyTorch eager on one core (aimed at 5 to 150)" %
                              (chosen[1] * 1000))
        self.eager_ms = chosen[1] * 1000
        return chosen[0]

    def grow(self, values, ceiling, names, expressions, fits):
        """Doubles variables back towards the problem's sizes while the estimate stays within `fits`."""
        current = dict(values)
        for _ in range(64):
            grown = False
            for name in sorted(names, key=lambda n: current[n]):
                if current[name] * 2 > ceiling[name]:
                    continue
                trial = self.set_var(current, name, current[name] * 2)
                if fits(trial) and self.agrees(trial, expressions):
                    current = trial
                    grown = True
                    break
            if not grown:
                break
        return current

    def time_eager(self, values):
        """PyTorch eager's median time for the problem at `values` on one core, with the problem's own inputs."""
        torch = torch_module()
        try:
            with time_limit(PROBE_SECONDS * 2):
                model, args = self.problem.build(values, "cpu", 0)
                with torch.no_grad():
                    model(*args)
                    times = []
                    for _ in range(3):
                        start = time.perf_counter()
                        model(*args)
                        times.append(time.perf_counter() - start)
                        if sum(times) > 2.0:
                            break
            return sorted(times)[len(times) // 2]
        except (Exception, Deadline):
            return None

    # -- the task
    def assemble(self, text, digest, version, variables, expressions, shapes, ranges):
        torch = torch_module()
        problem = self.problem
        names = sorted(variables)
        base_tensors = self.tensor_list(self.base_shapes)
        # Names: forward arguments by their parameter names, module tensors by their path.
        used = set()

        def unique(name):
            name = slug(name) or "t"
            if not name[0].isalpha():
                name = "t_" + name
            candidate, n = name, 2
            while candidate in used:
                candidate, n = "%s_%d" % (name, n), n + 1
            used.add(candidate)
            return candidate

        inputs, outputs, forward = [], [], []
        index_of = {}
        params = []
        for i, arg in enumerate(self.base_shapes.args):
            if arg[0] == "scalar":
                value = arg[1]
                if isinstance(value, bool) or not isinstance(value, (int, float)):
                    forward.append(("value", repr(value)))
                    continue
                pname = unique(self.forward_names[i])
                params.append({"name": pname, "type": "int" if isinstance(value, int) else "float", "value": value})
                forward.append(("param", pname))
                continue
            forward.append(("input", len(inputs)))
            index_of[("forward", i)] = len(inputs)
            inputs.append({"name": unique(self.forward_names[i]), "role": "forward", "argument": i})
        state_entries = []
        attributes = []
        for path, kind in self.state_inputs:
            index_of[(kind, path)] = len(inputs)
            state_entries.append((path, len(inputs), kind))
            if kind == "attribute":
                attributes.append((path, len(inputs)))
            inputs.append({"name": unique(path), "role": kind, "path": path})
        for i, _ in enumerate(self.base_shapes.outputs):
            outputs.append({"name": unique("out" if len(self.base_shapes.outputs) == 1 else "out%d" % i)})
        for role, key, shape, dtype in base_tensors:
            entry = outputs[key] if role == "output" else inputs[index_of[(role, key)]]
            entry["dtype"] = dtype_name(dtype)
            entry["shape"] = [int(a) if re.fullmatch(r"\d+", a) else a for a in expressions[(role, key)]]
        dims = self.binding_code(names, variables, index_of)
        reference = text + glue(True, dims, forward, state_entries, attributes)
        eager = text + glue(False, dims, forward, state_entries, attributes)
        # Integer inputs are drawn where each size that bounds their values (a class count) is at its smallest
        # over the listed shapes, and no held-out size goes below it: a label is valid at every size.
        listed = [v for v in (shapes["check"], shapes["small"], shapes["bench_cpu"], shapes["bench_gpu"]) if v]
        self.integer_point = dict(shapes["small"] or shapes["check"])
        for name in names:
            if name in self.integer_bound_variables:
                lowest = min(v[name] for v in listed)
                self.integer_point = self.set_var(self.integer_point, name, lowest)
                ranges[name]["min"] = max(ranges[name]["min"], lowest)
                ranges[name]["max"] = max(ranges[name]["max"], ranges[name]["min"])
        self.infer_inits(inputs, shapes)
        tolerance, oracle_dtype = self.calibrate(reference, eager, inputs, outputs, params, shapes, names, expressions)
        if oracle_dtype == "native":
            reference = text + glue(False, dims, forward, state_entries, attributes)
        # Bytes: every input read once, every output written once; the terms with the same sizes folded into one
        # (a ResNet's hundreds of fixed-size weights are one number), so the expression stays short.
        bytes_terms = {}
        for tensor in inputs + outputs:
            size = {"f32": 4, "f16": 2, "bf16": 2, "f64": 8, "i32": 4, "i64": 8, "u8": 1, "bool": 1}[tensor["dtype"]]
            symbolic = []
            for a in tensor["shape"]:
                if isinstance(a, int):
                    size *= a
                else:
                    symbolic.append(a if re.fullmatch(r"\w+", a) else "(%s)" % a)
            key = "*".join(sorted(symbolic))
            bytes_terms[key] = bytes_terms.get(key, 0) + size
        bytes_terms = ["%d*%s" % (c, k) if k else str(c) for k, c in sorted(bytes_terms.items(), key=lambda i: i[0])]
        suite_name = "KernelBench" if self.suite == "kernelbench" else "MultiKernelBench"
        where = ("level %d" % self.group) if self.suite == "kernelbench" else ("category %s" % self.group)
        described = []
        for tensor in inputs:
            role = {"forward": "forward argument", "parameter": "parameter", "buffer": "buffer drawn at random",
                    "attribute": "tensor attribute drawn at random"}[tensor["role"]]
            path = tensor.get("path")
            described.append("%s (%s%s)" % (tensor["name"], role, ", %s in the module" % path if path and
                                            slug(path) != tensor["name"] else ""))
        description = (
            "%s %s problem %s, imported by kforge. Compute exactly what the problem's Model computes: its source "
            "is below, unchanged. The kernel gets, in this order, the forward arguments, then the module's parameters, "
            "then the buffers and tensor attributes the module draws at random: %s. Outputs: %s, the forward's "
            "result%s. The module runs as %s runs it: built by Model(*get_init_inputs()), in training mode (BatchNorm "
            "uses the batch's statistics). The size constants %s are the problem's own, read off the inputs; every "
            "other constant is fixed as the file sets it.\n\n```python\n%s\n```" % (
                suite_name, where, os.path.basename(self.file), ", ".join(described),
                ", ".join(o["name"] for o in outputs), "" if len(outputs) == 1 else " flattened in order",
                suite_name, ", ".join(names) if names else "(none)", text.strip()))
        shape_sets = [{"label": "check", "role": "check", "dims": shapes["check"]}]
        if shapes["small"] is not None:
            shape_sets.insert(0, {"label": "small", "role": "check", "dims": shapes["small"]})
        shape_sets.append({"label": "bench", "role": "bench", "backends": ["cpu"], "dims": shapes["bench_cpu"]})
        shape_sets.append({"label": "problem", "role": "bench", "backends": ["cuda", "hip"], "dims": shapes["bench_gpu"]})
        for shape_set in shape_sets:
            shape_set["dims"] = {n: int(shape_set["dims"][n]) for n in names}
        source = {"suite": self.suite, "file": self.relative.replace(os.sep, "/"), "sha256": digest,
                  "importer": IMPORTER_VERSION}
        if self.suite == "kernelbench":
            source["level"] = self.group
        else:
            source["category"] = self.group
        if self.suite == "kernelbench" and self.group == 1 or self.suite == "multikernelbench" and \
                level_for(self.suite, self.group) == 1:
            source["operators"] = self.operators
        if oracle_dtype == "native":
            source["oracle"] = "native"
        if self.random:
            source["excluded"] = self.random
        if self.notes:
            source["notes"] = self.notes
        task = {
            "name": self.name,
            "version": version,
            "category": category_for(self.suite, self.group, self.name),
            "level": level_for(self.suite, self.group),
            "description": description,
            "inputs": [{k: t[k] for k in ("name", "dtype", "shape", "init", "role")} for t in inputs],
            "outputs": [{k: t[k] for k in ("name", "dtype", "shape")} for t in outputs],
        }
        if params:
            task["params"] = params
        task["shapes"] = shape_sets
        task["dims"] = {n: ranges[n] for n in names}
        if tolerance is not None:
            task["tolerance"] = {"atol": tolerance[0], "rtol": tolerance[1]}
        task["flops"] = self.fit_flops(names, {n: min(shapes["bench_cpu"][n], shapes["bench_gpu"][n]) for n in names})
        task["bytes"] = " + ".join(bytes_terms) if bytes_terms else "0"
        task["reference"] = {"cpu": "reference.py", "gpu": "reference.py"}
        task["source"] = source
        return task, reference, eager

    def binding_code(self, names, variables, index_of):
        """The body of the generated _kforge_dims: each size variable read off the axis of a forward argument
        that is the variable itself, and every constant tied to it (ints, elements of tuples) set from it."""
        problem = self.problem
        read = {}
        for name in names:
            arg, axis = variables[name]
            read[name] = "int(inputs[%d].shape[%d])" % (index_of[("forward", arg)], axis)
        assigned = {}  # constant or tuple name -> its Python expression
        tuples = {}
        for name in names:
            for key in self.groups[name]:
                if key in problem.tuple_members:
                    tuple_name, index = problem.tuple_members[key]
                    elements = tuples.setdefault(tuple_name, [repr(v) for v in problem.tuples[tuple_name]])
                    elements[index] = read[name]
                else:
                    assigned[key] = read[name]
        for tuple_name, elements in tuples.items():
            assigned[tuple_name] = "(" + ", ".join(elements) + ("," if len(elements) == 1 else "") + ")"
        if not assigned:
            return "    return None"
        lines = ["    global " + ", ".join(sorted(assigned))]
        lines += ["    %s = %s" % (key, value) for key, value in sorted(assigned.items())]
        return "\n".join(lines)

    def infer_inits(self, inputs, shapes):
        """Each input's init from the values the problem itself draws (get_inputs, the module's own init),
        pooled over three builds; integer forward arguments from 20 draws at the smallest check size, so that a
        label's range spans the classes every check size has."""
        torch = torch_module()
        integer_samples = []
        if any(t["role"] == "forward" and t["dtype"] not in DEFAULT_TOLERANCE and t["dtype"] != "bool" for t in inputs):
            self.problem.bind(self.integer_point)
            with DeviceRedirect("cpu"):
                for seed in range(20):
                    torch.manual_seed(seed)
                    integer_samples.append(list(self.problem.module.get_inputs()))
            self.problem.bind(self.problem.base)
        for tensor in inputs:
            if tensor["role"] == "forward":
                draws = integer_samples if integer_samples and tensor["dtype"] not in DEFAULT_TOLERANCE and \
                    tensor["dtype"] != "bool" else self.sample_args
                samples = [args[tensor["argument"]].detach().cpu() for args in draws]
                kind = "forward argument"
            else:
                samples = [s.cpu() for s in self.state_samples[tensor["path"]]]
                kind = tensor["role"]
            tensor["init"] = infer_init(samples, tensor["name"], kind, self.notes)

    def calibrate(self, reference_text, eager_text, inputs, outputs, params, shapes, names, expressions):
        """Runs both generated kernels at the largest size that is cheap (the CPU bench shape, else the check
        shape) on inputs kforge would draw: the oracle twice with different random seeds (a problem whose
        result changes is random: live dropout), then PyTorch eager against it. Returns the tolerance eager
        needs (None: the dtype defaults) and "native" when no tolerance kforge accepts covers the float64 oracle."""
        torch = torch_module()
        self.random = ""
        reference = load_kernel(reference_text, "reference.py")
        eager = load_kernel(eager_text, "torch.py")
        param_values = {p["name"]: p["value"] for p in params}
        worst = {}
        sizes = [shapes["check"]]
        heavy = self.measure(shapes["check"], expressions)[1] > NATIVE_ORACLE_FLOPS
        if getattr(self, "eager_ms", 1e9) < 500 and self.measure(shapes["bench_cpu"], expressions)[0] <= 8e6:
            sizes.append(shapes["bench_cpu"])
        for size_index, values in enumerate(sizes):
            generator = torch.Generator().manual_seed(1234 + size_index)
            tensors = []
            for tensor in inputs:
                shape = tuple(eval_expr(a, values) if isinstance(a, str) else a for a in tensor["shape"])
                tensors.append(draw(tensor["init"], shape, dtype_of(tensor["dtype"]), generator))
            def fresh_outputs():
                return [torch.full(tuple(eval_expr(a, values) if isinstance(a, str) else a for a in o["shape"]),
                                   float("nan") if o["dtype"] in ("f32", "f16", "bf16", "f64") else 0,
                                   dtype=dtype_of(o["dtype"])) for o in outputs]
            try:
                with time_limit(PROBE_SECONDS * 3):
                    got = fresh_outputs()
                    state = call_kernel(eager, [t.clone() for t in tensors], got, param_values)
                    again = fresh_outputs()  # the same inputs, the random stream further on
                    eager.kforge_run([t.clone() for t in tensors], again, param_values, state)
                    if heavy:
                        break  # float64 is not run at all (below)
                    expected = fresh_outputs()
                    call_kernel(reference, [t.clone() for t in tensors], expected, param_values)
            except Deadline:
                if size_index == 0:
                    raise Refused("its float64 oracle took over %d s at the check size" % (PROBE_SECONDS * 3))
                break
            except Refused:
                raise
            except Exception as error:
                raise Refused("the generated kernel fails on it: %s" % describe_error(error))
            for e, a in zip(got, again):
                if not torch.equal(e.nan_to_num(0.125), a.nan_to_num(0.125)):
                    self.random = ("random: the same inputs give different outputs (it draws random numbers in its "
                                   "forward, live dropout for one), so no kernel can be checked against it")
            for o, e, g in zip(outputs, expected, got):
                if o["dtype"] not in DEFAULT_TOLERANCE:
                    mismatched = int((e != g).sum())
                    worst[o["name"]] = max(worst.get(o["name"], 0.0), float("inf") if mismatched else 0.0)
                    continue
                atol, rtol = DEFAULT_TOLERANCE[o["dtype"]]
                e64, g64 = e.double(), g.double()
                finite = torch.isfinite(e64) & torch.isfinite(g64)
                if not torch.equal(torch.isfinite(e64), torch.isfinite(g64)):
                    worst[o["name"]] = float("inf")
                    continue
                ratio = ((e64 - g64).abs() / (atol + rtol * e64.abs()))[finite]
                worst[o["name"]] = max(worst.get(o["name"], 0.0), float(ratio.max()) if ratio.numel() else 0.0)
        if self.random:
            return None, "float64"
        if heavy:
            # Each evaluation runs the oracle on several check cases: minutes in float64 on one core.
            dtype = outputs[0]["dtype"]
            atol, rtol = DEFAULT_TOLERANCE.get(dtype, (1e-5, 1e-4))
            self.notes.append("the oracle runs in the problem's own dtypes: even its smallest size takes %.2g FLOP, "
                              "too slow in float64 on the CPU; the tolerance is 100x kforge's %s default (atol %g, "
                              "rtol %g, KernelBench's own)" % (self.measure(shapes["check"], expressions)[1], dtype,
                                                               round_sig(atol * 100), round_sig(rtol * 100)))
            return (round_sig(atol * 100), round_sig(rtol * 100)), "native"
        need = max(worst.values()) if worst else 0.0
        # Four times the error seen: the GPU bench size and unlucky inputs reach further than one draw.
        for step in TOLERANCE_STEPS:
            if need * 4 <= step:
                if step == 1:
                    return None, "float64"
                dtype = outputs[0]["dtype"]
                atol, rtol = DEFAULT_TOLERANCE.get(dtype, (1e-5, 1e-4))
                self.notes.append("tolerance %gx kforge's %s default: PyTorch in the problem's dtype differs from the "
                                  "float64 oracle by up to %.2g of the default" % (step, dtype, need))
                return (round_sig(atol * step), round_sig(rtol * step)), "float64"
        dtype = outputs[0]["dtype"]
        atol, rtol = DEFAULT_TOLERANCE.get(dtype, (0.0, 0.0))
        self.notes.append("the oracle runs in the problem's own dtypes: PyTorch in them differs from float64 by %s "
                          "kforge's default tolerance, more than kforge accepts; the tolerance is 100x the default "
                          "(KernelBench's own)" % ("more than any" if math.isinf(need) else "%.3g times" % need))
        return ((round_sig(atol * 100), round_sig(rtol * 100)) if atol else None), "native"


def dtype_of(name):
    torch = torch_module()
    return {"f32": torch.float32, "f16": torch.float16, "bf16": torch.bfloat16, "f64": torch.float64,
            "i32": torch.int32, "i64": torch.int64, "u8": torch.uint8, "bool": torch.bool}[name]


def describe_error(error):
    text = "%s: %s" % (type(error).__name__, str(error).strip().splitlines()[0] if str(error).strip() else "")
    return text[:300]


def write_atomic(path, text):
    partial = path + ".tmp-%d" % os.getpid()
    with open(partial, "w") as handle:
        handle.write(text)
    os.replace(partial, path)


# ---- the parent: one child per problem ------------------------------------------------------------------------

def import_one(suite, item, root, out_dir):
    file, group, name = item
    start = time.time()
    result = {"file": os.path.relpath(file, root).replace(os.sep, "/"), "name": name}
    importer = Importer(suite, file, group, name, root, out_dir)
    try:
        torch = torch_module()
        torch.set_num_threads(1)
        result.update(importer.run())
    except Refused as error:
        result.update({"status": "refused", "reason": str(error)})
    except Deadline:
        result.update({"status": "refused", "reason": "a step of its import ran past its time limit"})
    except Exception as error:
        result.update({"status": "refused", "reason": "the importer failed on it: %s" % describe_error(error),
                       "traceback": traceback.format_exc()[-2000:]})
    result["notes"] = importer.notes
    result["seconds"] = round(time.time() - start, 3)
    return result


def warm_up():
    """Imports and first calls that cost seconds once per process (torch, the FLOP counter, meta kernels, the
    functional API), paid in the parent so the forked children start warm."""
    torch = torch_module()
    from torch.utils.flop_counter import FlopCounterMode
    import torch.func  # noqa: the generated kernels call torch.func.functional_call
    layer = torch.nn.Linear(4, 4, device="meta")
    with FlopCounterMode(display=False), torch.no_grad():
        layer(torch.empty(2, 4, device="meta")).relu()
    torch.nn.Linear(4, 4)(torch.randn(2, 4)).sum()


def run_children(suite, items, root, out_dir, jobs, timeout):
    """Imports every problem in a forked child (at most `jobs` at once, each for at most `timeout` seconds) and
    prints each result as a JSON line as it comes."""
    warm_up()  # once here; each child inherits it
    pending = list(items)
    running = {}  # fd -> (pid, item, started, chunks)
    while pending or running:
        while pending and len(running) < jobs:
            item = pending.pop(0)
            read_fd, write_fd = os.pipe()
            pid = os.fork()
            if pid == 0:  # the child: quiet, one problem, its result on the pipe
                os.close(read_fd)
                devnull = os.open(os.devnull, os.O_WRONLY)
                os.dup2(devnull, 1)
                os.dup2(devnull, 2)
                code = 0
                try:
                    payload = json.dumps(import_one(suite, item, root, out_dir)).encode()
                    view = memoryview(payload)
                    while view:
                        view = view[os.write(write_fd, view):]
                except BaseException:
                    code = 1
                os._exit(code)
            os.close(write_fd)
            running[read_fd] = (pid, item, time.time(), [])
        ready, _, _ = select.select(list(running), [], [], 0.5)
        for fd in ready:
            chunk = os.read(fd, 1 << 16)
            if chunk:
                running[fd][3].append(chunk)
                continue
            pid, item, started, chunks = running.pop(fd)
            os.close(fd)
            _, status = os.waitpid(pid, 0)
            emit(item, root, b"".join(chunks), status, started)
        now = time.time()
        for fd, (pid, item, started, chunks) in list(running.items()):
            if now - started > timeout:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                os.close(fd)
                running.pop(fd)
                print(json.dumps({"file": os.path.relpath(item[0], root), "name": item[2], "status": "refused",
                                  "reason": "its import took over %d s" % timeout, "notes": [],
                                  "seconds": round(now - started, 3)}), flush=True)


def emit(item, root, payload, status, started):
    try:
        result = json.loads(payload.decode())
    except ValueError:
        signal_number = os.WTERMSIG(status) if os.WIFSIGNALED(status) else 0
        result = {"file": os.path.relpath(item[0], root), "name": item[2], "status": "refused", "notes": [],
                  "reason": "importing it crashed the importer (%s)" % (
                      "signal %d" % signal_number if signal_number else "exit %d" % os.WEXITSTATUS(status)),
                  "seconds": round(time.time() - started, 3)}
    print(json.dumps(result), flush=True)


# ---- serving the guard ----------------------------------------------------------------------------------------

def serve(request_fd, reply_fd):
    """Runs generated oracles for kforge's degenerate-task guard (harness/import.cpp), one JSON request per line
    on `request_fd`, one reply per line on `reply_fd`: torch is imported once for every task, where a sandboxed
    runner per task would import it again each time. The oracles are the importer's own files, run here as the
    importer ran the problem files. A request: {"kernel": reference.py, "cases": [{"inputs": [{"file", "dtype",
    "shape"}], "outputs": [...], "params": {...}}]}; each output is written to its file. Cases of one shape share
    one setup, as in a runner, so a random forward shows in the same inputs' second call."""
    torch = torch_module()
    torch.set_num_threads(1)
    requests = os.fdopen(request_fd, "r")
    replies = os.fdopen(reply_fd, "w")
    kernels = {}
    for line in requests:
        try:
            request = json.loads(line)
            path = request["kernel"]
            stamp = os.stat(path).st_mtime_ns
            if kernels.get(path, (None, None))[0] != stamp:
                with open(path) as handle:
                    kernels[path] = (stamp, load_kernel(handle.read(), os.path.basename(path)))
            kernel = kernels[path][1]
            states = {}
            read_inputs = {}  # a file several cases share is read once

            def read(spec):
                import numpy
                data = numpy.fromfile(spec["file"], dtype=numpy.uint8)
                dtype = dtype_of(spec["dtype"])
                flat = torch.from_numpy(data).view(dtype) if data.size else torch.empty(0, dtype=dtype)
                return flat.reshape(spec["shape"])
            for case in request["cases"]:
                inputs = []
                for spec in case["inputs"]:
                    if spec["file"] not in read_inputs:
                        read_inputs[spec["file"]] = read(spec)
                    inputs.append(read_inputs[spec["file"]])
                outputs = [read(spec) for spec in case["outputs"]]
                key = tuple(tuple(t.shape) for t in inputs)
                if key not in states:
                    states[key] = kernel.kforge_setup([t.to("meta") for t in inputs], [t.to("meta") for t in outputs],
                                                      case["params"])
                kernel.kforge_run(inputs, outputs, case["params"], states[key])
                for spec, tensor in zip(case["outputs"], outputs):
                    with open(spec["file"], "wb") as handle:
                        handle.write(tensor.contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
            replies.write(json.dumps({"ok": True}) + "\n")
        except Exception as error:
            replies.write(json.dumps({"ok": False, "error": describe_error(error),
                                      "traceback": traceback.format_exc()[-2000:]}) + "\n")
        replies.flush()
    return 0


def main(argv):
    if len(argv) == 4 and argv[1] == "--serve":
        return serve(int(argv[2]), int(argv[3]))
    parser = argparse.ArgumentParser(prog="kforge_import.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("suite", choices=["kernelbench", "multikernelbench"])
    parser.add_argument("path")
    parser.add_argument("--out", required=True)
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--only", default="", help="comma-separated globs over task names")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds one problem's import may take")
    parser.add_argument("--list", action="store_true", help="print the problems found, import nothing")
    args = parser.parse_args(argv[1:])
    if not os.path.exists(args.path):
        print("kforge_import.py: %s: no such file or folder" % args.path, file=sys.stderr)
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


if __name__ == "__main__":
    sys.exit(main(sys.argv))
