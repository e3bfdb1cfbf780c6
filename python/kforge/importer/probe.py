"""Probing a problem: its file executed in a namespace of its own (Problem), its module built at some values of
its constants and run on meta tensors (or small real ones on the CPU) for the shapes of everything (Shapes),
with the torch function modes that make that possible (DeviceRedirect, MetaRecurrence, OperatorLog). ProbeMixin
holds the Importer's cached probes."""
import contextlib
import inspect
import math
import os
import types

from .common import PROBE_SECONDS, Deadline, Refused, describe_error, time_limit, torch_module

COSTLY_PROBE_SECONDS = 0.1  # a problem whose probe takes longer is probed sparingly (self.costly)
REAL_PROBE_ELEMENTS = 5e7  # probes with real tensors stop at sizes this large (a probe at them takes seconds)

# Operator names the scan's calls_library test counts as the task's work for a single-op (level 1) problem.
TRIVIAL_OPERATORS = {"view", "reshape", "size", "contiguous", "flatten", "unsqueeze", "squeeze", "permute",
                     "transpose", "expand", "to", "float", "double", "half", "bfloat16", "clone", "detach",
                     "dim", "numel", "shape", "type", "device", "dtype", "item", "tolist", "t", "__get__",
                     "__getitem__", "__setitem__", "__len__", "__iter__", "__format__", "__repr__", "chunk",
                     "split", "cat", "stack", "empty", "zeros", "ones", "empty_like", "zeros_like", "ones_like",
                     "new_zeros", "new_empty", "new_ones", "is_floating_point", "requires_grad_", "copy_"}


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


class ProbeMixin:
    """The Importer's probes of its problem (self.problem), cached by the values of the constants."""

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
