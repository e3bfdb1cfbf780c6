"""What every step of an import shares: the importer's version (recorded in each task it writes, so that a new
importer re-imports unchanged problems), the refusal and the deadline that end a problem's import, PyTorch loaded
late, and kforge's names of dtypes with their default tolerances."""
import contextlib
import signal

IMPORTER_VERSION = 1

# The problem's dtypes as kforge names them; a problem with any other dtype is refused.
DTYPE_NAMES = {"float32": "f32", "float16": "f16", "bfloat16": "bf16", "float64": "f64", "int32": "i32",
               "int64": "i64", "uint8": "u8", "bool": "bool"}
# kforge's tolerance defaults per output dtype (core/task.cpp: default_tolerance).
DEFAULT_TOLERANCE = {"f32": (1e-5, 1e-4), "f64": (1e-10, 1e-8), "f16": (1e-2, 1e-2), "bf16": (1e-2, 1e-2)}

PROBE_SECONDS = 20  # one build-and-forward of the module; past it the problem is probed with real tensors


class Refused(Exception):
    """A problem kforge cannot import, with the reason in words."""


def torch_module():
    import torch  # noqa: imported late: the parent process forks children with it already loaded
    return torch


def dtype_name(dtype):
    name = str(dtype).replace("torch.", "")
    if name not in DTYPE_NAMES:
        raise Refused("uses dtype %s, which kforge's kernels do not take (%s)" % (name, ", ".join(DTYPE_NAMES)))
    return DTYPE_NAMES[name]


def dtype_of(name):
    torch = torch_module()
    return {"f32": torch.float32, "f16": torch.float16, "bf16": torch.bfloat16, "f64": torch.float64,
            "i32": torch.int32, "i64": torch.int64, "u8": torch.uint8, "bool": torch.bool}[name]


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


def describe_error(error):
    text = "%s: %s" % (type(error).__name__, str(error).strip().splitlines()[0] if str(error).strip() else "")
    return text[:300]
