"""Choosing a task's sizes: the check shapes (small enough for the float64 oracle), the held-out ranges
(validated on probes), and the CPU bench shape (timed in PyTorch eager); on probes, or on predicted sizes for a
problem whose probes are costly."""
import math
import time

from .common import PROBE_SECONDS, Deadline, Refused, time_limit, torch_module
from .fit import eval_expr

# Sizes the derived shapes aim at: the check shapes are answered by a float64 oracle in a Python runner on one
# core, several cases per evaluation; the CPU bench shape is timed, PyTorch eager taking 5 to 150 ms on one core.
CHECK_ELEMENTS, CHECK_FLOPS = 300_000, 2e8
SMALL_ELEMENTS, SMALL_FLOPS = 20_000, 2e7
BENCH_SECONDS, BENCH_LOW, BENCH_HIGH = 0.04, 0.005, 0.15


class SizesMixin:
    """The Importer's choice of the task's shapes and held-out ranges."""

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
