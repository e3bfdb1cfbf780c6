"""The parent's side of an import: a forked child per problem (so that a crash, a hang or a broken file refuses
that problem only), at most `jobs` at once and each for at most `timeout` seconds, and one JSON line per problem
as each finishes."""
import json
import os
import select
import signal
import time
import traceback

from .common import Deadline, Refused, describe_error, torch_module
from .task import Importer


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
