"""The oracles for kforge's degenerate-task guard: `--serve REQUEST_FD REPLY_FD` runs the generated reference.py
files in one worker (harness/importers/import.cpp, ImportOracle)."""
import json
import os
import traceback

from .common import describe_error, dtype_of, torch_module
from .write import load_kernel


def serve(request_fd, reply_fd):
    """Runs generated oracles for kforge's degenerate-task guard (harness/importers/import.cpp), one JSON request per line
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
