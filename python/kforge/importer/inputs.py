"""The inputs' values: which of the module's tensors are kernel inputs (the parameters, and the buffers and
attributes it draws at random), which constants bound an integer input's values (a label's class count), each
input's init inferred from values the problem itself draws, and kforge's draw of a tensor from an init."""
import math

from .common import DEFAULT_TOLERANCE, PROBE_SECONDS, Deadline, Refused, describe_error, time_limit, torch_module
from .probe import DeviceRedirect, state_tensors

CHECK_LIMIT_ELEMENTS = 2e8  # a problem whose smallest size is larger cannot be checked on the CPU oracle


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


class InputsMixin:
    """The Importer's kernel inputs from the module's state (self.state_inputs), the values sampled for their
    inits (self.sample_args, self.state_samples) and the inits themselves."""

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
