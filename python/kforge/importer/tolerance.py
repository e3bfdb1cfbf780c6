"""Calibrating a task's tolerance: both generated kernels run on inputs kforge would draw, PyTorch eager in the
problem's dtypes against the float64 oracle; a problem whose result changes with the same inputs is random, and
one that no tolerance kforge accepts covers gets an oracle in its own dtypes ("native")."""
import math

from .common import (DEFAULT_TOLERANCE, PROBE_SECONDS, Deadline, Refused, describe_error, dtype_of, time_limit,
                     torch_module)
from .fit import eval_expr
from .inputs import draw, round_sig
from .write import call_kernel, load_kernel

# How far past its defaults a tolerance may be widened so that PyTorch in the problem's dtype passes against
# the float64 oracle: KernelBench's own atol and rtol are 1e-2, kforge's f32 defaults 1e-5 and 1e-4.
TOLERANCE_STEPS = (1, 2, 5, 10, 20, 50, 100)
NATIVE_ORACLE_FLOPS = 5e8  # a check size costlier than this runs its oracle in the problem's dtypes, not float64


class ToleranceMixin:
    """The Importer's calibration (self.random says why a problem is random)."""

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
