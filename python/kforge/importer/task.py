"""One problem made a kforge task: the Importer runs its steps in order (make_task) and assembles the task's
JSON (docs/task-format.md) from what they found. The steps live in the concern's module: probe, fit, inputs,
sizes, tolerance and write."""
import os
import re
import time

from .common import IMPORTER_VERSION, PROBE_SECONDS, Refused, dtype_name, time_limit, torch_module
from .discover import category_for, level_for, slug
from .fit import FitMixin
from .inputs import InputsMixin
from .probe import COSTLY_PROBE_SECONDS, REAL_PROBE_ELEMENTS, TRIVIAL_OPERATORS, OperatorLog, Problem, ProbeMixin
from .sizes import SizesMixin
from .tolerance import ToleranceMixin
from .write import WriteMixin, glue


class Importer(ProbeMixin, FitMixin, InputsMixin, SizesMixin, ToleranceMixin, WriteMixin):
    """One problem file imported into out_dir: run() (write.py) gives its status, task file and version, and
    self.notes what the task's source.notes say about it."""

    def __init__(self, suite, file, group, name, root, out_dir):
        self.suite, self.file, self.group, self.name = suite, file, group, name
        self.relative = os.path.relpath(file, root)
        self.out_dir = out_dir
        self.notes = []

    def make_task(self, text, digest, version):
        """The task (a dict), reference.py and torch.py for the problem's source `text`."""
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

    def assemble(self, text, digest, version, variables, expressions, shapes, ranges):
        """The task's JSON and both kernels' text from the fitted sizes and the chosen shapes; infers the inits
        and calibrates the tolerance on the way."""
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
