"""Fitting sizes: which of a problem's constants size its data (the size variables), a small size the module
takes, each axis of each kernel tensor as an expression over the size variables, and the FLOPs as a monomial
in them, all fitted to probes."""
import itertools
import math
import re

from .common import Refused


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


class FitMixin:
    """The Importer's size variables (self.groups: the constants each one sets) and fitted expressions."""

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
