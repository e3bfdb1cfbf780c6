/* kforge's adapter for Python kernels (docs/python.md): the C ABI of <kforge/kernel.h>, implemented by
 * embedding CPython and calling the `.py` file's own functions.
 *
 * kforge never loads Python code any other way. Once per interpreter it compiles a translation unit that defines
 * the two macros below and includes this file, like any CPU kernel: the adapter. A kernel `mine.py`'s artifact
 * is that adapter's file with the kernel appended (its payload, which no loader maps):
 *
 *   [file name] NUL [source] NUL [payload size: 8 bytes, little-endian, both NULs counted] "KFPYSRC1"
 *
 * so a new source costs a file copy, not a compiler. The artifact is an ordinary kernel `.so`: the runner loads
 * it RTLD_LOCAL, checks its ABI tag, installs the seccomp filter and calls kforge_setup/kforge_run/
 * kforge_teardown, and the timing loop stays the runner's (Google Benchmark on the CPU, events on GPUs). The
 * adapter reads its payload back from the file it was loaded from, in the first kforge_setup. What a Python
 * kernel adds is the interpreter: started and `import torch` paid once per runner process, in the first
 * kforge_setup, never inside a timed call.
 *
 *   KFORGE_PY_EXECUTABLE  the interpreter whose environment (a venv's site-packages) the kernel runs in
 *   KFORGE_PY_LIBRARY     the soname of its libpython, made global before Python starts
 *
 * The Python contract:
 *   kforge_run(inputs, outputs, params)          required; inputs and outputs are lists of torch.Tensor in task
 *                                                order, wrapping kforge's buffers without a copy (DLPack), on
 *                                                the evaluation's device; params a dict of the task's scalar
 *                                                parameters (an integral value is an int, any other a float).
 *                                                Writes the outputs in place. Returns None (or 0); an exception
 *                                                or another value is a runtime error, its traceback in the log.
 *   kforge_setup(inputs, outputs, params)        optional, once per problem size, untimed: the tensors are on
 *                                                torch's meta device (shapes and dtypes, no data). What it
 *                                                returns is passed to kforge_run as a fourth argument, `state`.
 *   kforge_teardown(state)                       optional.
 * On a GPU, kforge's stream is torch's current stream for the call (torch.cuda.ExternalStream).
 */
#ifndef KFORGE_PYTHON_KERNEL_H
#define KFORGE_PYTHON_KERNEL_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <kforge/kernel.h>

#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

namespace kforge_python {

// The Python half of the adapter: it turns the C side's capsules and shape lists into tensors and calls the
// kernel's functions. Executed once per kernel module, in a namespace of its own.
static const char k_glue[] = R"PY(
import os
import sys
import types

import torch
import torch.utils._python_dispatch

_DTYPES = {(2, 16): torch.float16, (2, 32): torch.float32, (2, 64): torch.float64, (4, 16): torch.bfloat16,
           (0, 8): torch.int8, (0, 16): torch.int16, (0, 32): torch.int32, (0, 64): torch.int64,
           (1, 8): torch.uint8, (6, 8): torch.bool}
_streams = {}


class _Recorder(torch.utils._python_dispatch.TorchDispatchMode):
    """The operators a call dispatches, as PyTorch's dispatcher sees them (aten.mm, aten._softmax, ...): what a
    kernel calls through any name, module, alias or string reaches the dispatcher under its operator's name."""

    def __init__(self):
        super().__init__()
        self.ops = set()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.ops.add(str(func.overloadpacket))
        return func(*args, **(kwargs or {}))


_recorder = None
_triton_launches = 0


def _count_triton_launches():
    """Counts every launch of a @triton.jit function, compiled (JITFunction) or interpreted, from the class's own
    run method: a kernel cannot reassign it (the scan refuses patching), and a decoy @triton.jit that is never
    launched counts nothing."""
    try:
        from triton.runtime.jit import JITFunction
        from triton.runtime.interpreter import InterpretedFunction
    except ImportError:
        return

    def counted(run):
        def launch(*args, **kwargs):
            global _triton_launches
            _triton_launches += 1
            return run(*args, **kwargs)
        return launch

    for cls in (JITFunction, InterpretedFunction):
        cls.run = counted(cls.run)


def record_begin():
    global _recorder, _triton_launches
    _triton_launches = 0
    _recorder = _Recorder()
    _recorder.__enter__()


def record_end():
    global _recorder
    if _recorder is None:
        return '{"ops": [], "triton_launches": 0}'
    recorder, _recorder = _recorder, None
    recorder.__exit__(None, None, None)
    import json
    return json.dumps({"ops": sorted(recorder.ops), "triton_launches": _triton_launches})


def load(source, name, threads, interpret):
    torch.set_num_threads(max(1, threads))
    # Triton on the CPU: its interpreter, chosen before triton is imported (correctness only; kforge refuses to
    # time it).
    if interpret:
        os.environ["TRITON_INTERPRET"] = "1"
    if "triton" in source:
        _count_triton_launches()
    # A module of its own, importable by its name: torch.compile (dynamo) imports the module a function's
    # globals name.
    module = types.ModuleType("kforge_kernel")
    module.__file__ = name
    sys.modules["kforge_kernel"] = module
    namespace = module.__dict__
    try:
        exec(compile(source, name, "exec"), namespace)
    except Exception as error:
        if getattr(error, "kforge_plain", False):
            raise Plain(str(error)) from None
        raise
    if not callable(namespace.get("kforge_run")):
        raise TypeError(name + " does not define kforge_run(inputs, outputs, params)")
    return namespace


def _meta(specs):
    return [torch.empty(shape, dtype=_DTYPES[(code, bits)], device="meta") for shape, code, bits in specs]


def setup(kernel, inputs, outputs, params):
    hook = kernel.get("kforge_setup")
    if hook is None:
        return (False, None)
    return (True, hook(_meta(inputs), _meta(outputs), params))


def teardown(kernel, state):
    hook = kernel.get("kforge_teardown")
    if hook is not None:
        hook(state)


_tuners = None


def _tunings(kernel):
    """How many keys Triton's autotuners in the kernel have tuned so far (their caches): kforge_tuning_count."""
    global _tuners
    if "triton" not in sys.modules:
        return 0
    if _tuners is None:
        from triton.runtime.autotuner import Autotuner
        _tuners = []
        for value in list(kernel.values()):
            for _ in range(4):  # @triton.heuristics around @triton.autotune: the tuner is a few .fn down
                if isinstance(value, Autotuner):
                    _tuners.append(value)
                    break
                value = getattr(value, "fn", None)
    return sum(len(tuner.cache) for tuner in _tuners)


class OutputMismatch(Exception):
    """The kernel's result does not fit the task's outputs: kforge_run returns KFORGE_OUTPUT_MISMATCH and the
    verdict is incorrect, with this message."""


class Plain(Exception):
    """An error whose message says it all (a ModelNew written for CUDA, judged on the CPU): printed without a
    traceback."""


class JitError(Exception):
    """The kernel's Triton code did not compile: CompilationError or a resource or ptxas error on a GPU, the
    interpreter's error on the CPU (what the compiler's front end would have refused). kforge_run returns
    KFORGE_JIT_ERROR and the verdict is compile_error."""


def _jit_error(error):
    if "triton" not in sys.modules:
        return False
    from triton.compiler.errors import CompilationError
    from triton.runtime.errors import InterpreterError, OutOfResources, PTXASError
    return isinstance(error, (CompilationError, InterpreterError, OutOfResources, PTXASError))


def run(kernel, inputs, outputs, params, has_state, state, stream, device):
    try:
        return _run(kernel, inputs, outputs, params, has_state, state, stream, device)
    except Exception as error:
        if _jit_error(error):
            raise JitError("Triton could not compile the kernel: " + type(error).__name__) from error
        if type(error).__name__ == "KforgeOutputMismatch":
            raise OutputMismatch(str(error)) from None
        if getattr(error, "kforge_plain", False):
            raise Plain(str(error)) from None
        raise


def _run(kernel, inputs, outputs, params, has_state, state, stream, device):
    tuned = _tunings(kernel)
    ins = [torch.from_dlpack(c) for c in inputs]
    outs = [torch.from_dlpack(c) for c in outputs]
    args = (ins, outs, params, state) if has_state else (ins, outs, params)
    if stream == 0:
        result = kernel["kforge_run"](*args)
    else:
        external = _streams.get(stream)
        if external is None:
            external = _streams[stream] = torch.cuda.ExternalStream(stream, device=device)
        with torch.cuda.stream(external):
            result = kernel["kforge_run"](*args)
    if result is not None and result != 0:
        raise RuntimeError("kforge_run returned " + repr(result) + " (None or 0 means success)")
    return _tunings(kernel) - tuned
)PY";

struct State {
  PyObject* params = nullptr;  // dict
  PyObject* state = nullptr;   // what the kernel's kforge_setup returned
  int has_state = 0;           // an int: PyArg_ParseTuple's "p" writes one
};

static PyObject* g_glue = nullptr;    // the glue's namespace
static PyObject* g_kernel = nullptr;  // the kernel's namespace
static bool g_failed = false;         // starting failed once: every later call fails the same way

// The kernel appended to this adapter's file (see the top of this file): its name and source, or a message on
// stderr and false.
static bool read_payload(const char** name, const char** source) {
  static char* payload = nullptr;
  if (payload == nullptr) {
    Dl_info self;
    if (dladdr(reinterpret_cast<void*>(&read_payload), &self) == 0 || self.dli_fname == nullptr) {
      fprintf(stderr, "kforge: the Python adapter cannot find its own file\n");
      return false;
    }
    FILE* file = fopen(self.dli_fname, "rb");
    if (file == nullptr) {
      fprintf(stderr, "kforge: cannot read %s: %s\n", self.dli_fname, strerror(errno));
      return false;
    }
    unsigned char trailer[16];
    unsigned long long size = 0;
    bool ok = fseek(file, 0, SEEK_END) == 0;
    const long length = ok ? ftell(file) : -1;
    ok = length >= 16 && fseek(file, length - 16, SEEK_SET) == 0 && fread(trailer, 1, 16, file) == 16 &&
         memcmp(trailer + 8, "KFPYSRC1", 8) == 0;
    for (int i = 7; ok && i >= 0; --i) size = size << 8 | trailer[i];
    ok = ok && size >= 2 && size <= static_cast<unsigned long long>(length - 16);
    if (ok) payload = static_cast<char*>(malloc(size));
    ok = ok && payload != nullptr && fseek(file, length - 16 - static_cast<long>(size), SEEK_SET) == 0 &&
         fread(payload, 1, size, file) == size && payload[size - 1] == '\0' && memchr(payload, '\0', size - 1);
    fclose(file);
    if (!ok) {
      free(payload);
      payload = nullptr;
      fprintf(stderr, "kforge: %s holds no Python kernel after its adapter\n", self.dli_fname);
      return false;
    }
  }
  *name = payload;
  *source = payload + strlen(payload) + 1;
  return true;
}

// Prints the pending Python exception (the traceback reaches the kernel's log) and returns the C error code.
static int report() {
  if (PyErr_Occurred()) PyErr_Print();
  fflush(stderr);
  return 1;
}

static PyObject* glue(const char* name) { return PyDict_GetItemString(g_glue, name); }

// Prints only the pending exception's message, one line to stderr (the kernel's log), and returns 1.
static int report_message() {
  PyObject* type = nullptr;
  PyObject* value = nullptr;
  PyObject* traceback = nullptr;
  PyErr_Fetch(&type, &value, &traceback);
  PyObject* text = value != nullptr ? PyObject_Str(value) : nullptr;
  const char* message = text != nullptr ? PyUnicode_AsUTF8(text) : nullptr;
  fprintf(stderr, "%s\n", message != nullptr ? message : "(no message)");
  fflush(stderr);
  PyErr_Clear();
  Py_XDECREF(text);
  Py_XDECREF(type);
  Py_XDECREF(value);
  Py_XDECREF(traceback);
  return 1;
}

// Starts the interpreter unless another Python kernel in this process did, then loads the glue and the kernel.
// Called with no GIL held; returns with none held.
static int start(int32_t num_threads, int interpret) {
  if (g_kernel != nullptr) return 0;
  if (g_failed) return 1;
  g_failed = true;
  if (!Py_IsInitialized()) {
    // Extension modules (torch's among them) find the interpreter's symbols in the global scope, and the
    // runner loaded this kernel, and so libpython, RTLD_LOCAL.
    if (dlopen(KFORGE_PY_LIBRARY, RTLD_NOW | RTLD_GLOBAL | RTLD_NOLOAD) == nullptr) {
      fprintf(stderr, "kforge: cannot make %s global: %s\n", KFORGE_PY_LIBRARY, dlerror());
      return 1;
    }
    // Isolated: no PYTHON* variable, no user site, no script folder on sys.path; the executable's pyvenv.cfg
    // still makes its venv's site-packages the place torch comes from. No signal handlers: the runner's own.
    PyConfig config;
    PyConfig_InitIsolatedConfig(&config);
    config.install_signal_handlers = 0;
    config.write_bytecode = 0;
    config.site_import = 1;
    PyStatus status = PyConfig_SetBytesString(&config, &config.program_name, KFORGE_PY_EXECUTABLE);
    if (!PyStatus_Exception(status))
      status = PyConfig_SetBytesString(&config, &config.executable, KFORGE_PY_EXECUTABLE);
    if (!PyStatus_Exception(status)) status = Py_InitializeFromConfig(&config);
    PyConfig_Clear(&config);
    if (PyStatus_Exception(status)) {
      fprintf(stderr, "kforge: cannot start Python (%s): %s\n", KFORGE_PY_EXECUTABLE,
              status.err_msg ? status.err_msg : "unknown error");
      return 1;
    }
    PyEval_SaveThread();  // every entry point takes the GIL for itself
  }
  const char* name = nullptr;
  const char* source = nullptr;
  if (!read_payload(&name, &source)) return 1;
  const PyGILState_STATE gil = PyGILState_Ensure();
  int rc = 0;
  g_glue = PyDict_New();
  PyDict_SetItemString(g_glue, "__builtins__", PyEval_GetBuiltins());
  PyObject* done = PyRun_String(k_glue, Py_file_input, g_glue, g_glue);
  if (done == nullptr) {
    rc = report();
  } else {
    Py_DECREF(done);
    g_kernel = PyObject_CallFunction(glue("load"), "ssii", source, name, static_cast<int>(num_threads), interpret);
    if (g_kernel == nullptr) rc = PyErr_ExceptionMatches(glue("Plain")) != 0 ? report_message() : report();
  }
  PyGILState_Release(gil);
  g_failed = rc != 0;
  return rc;
}

static void delete_managed(DLManagedTensor* managed) { free(managed); }

// The capsule still owns its tensor when torch never took it (DLPack's rule: the consumer renames it).
static void delete_capsule(PyObject* capsule) {
  if (!PyCapsule_IsValid(capsule, "dltensor")) return;
  auto* managed = static_cast<DLManagedTensor*>(PyCapsule_GetPointer(capsule, "dltensor"));
  managed->deleter(managed);
}

// A DLPack capsule viewing `tensor`'s memory; its shape and strides are copied, since the runner's arrays
// belong to the call.
static PyObject* capsule(const DLTensor& tensor) {
  const size_t dims = static_cast<size_t>(tensor.ndim);
  auto* managed = static_cast<DLManagedTensor*>(malloc(sizeof(DLManagedTensor) + 2 * dims * sizeof(int64_t)));
  if (managed == nullptr) return PyErr_NoMemory();
  auto* shape = reinterpret_cast<int64_t*>(managed + 1);
  managed->dl_tensor = tensor;
  managed->dl_tensor.shape = shape;
  memcpy(shape, tensor.shape, dims * sizeof(int64_t));
  if (tensor.strides != nullptr) {
    managed->dl_tensor.strides = shape + dims;
    memcpy(shape + dims, tensor.strides, dims * sizeof(int64_t));
  }
  managed->manager_ctx = nullptr;
  managed->deleter = delete_managed;
  PyObject* object = PyCapsule_New(managed, "dltensor", delete_capsule);
  if (object == nullptr) free(managed);
  return object;
}

static PyObject* capsules(const DLTensor* tensors, int32_t count) {
  PyObject* list = PyList_New(count);
  for (int32_t i = 0; list != nullptr && i < count; ++i) {
    PyObject* item = capsule(tensors[i]);
    if (item == nullptr) {
      Py_CLEAR(list);
      break;
    }
    PyList_SET_ITEM(list, i, item);
  }
  return list;
}

// (shape, type code, bits) per tensor, for the meta tensors kforge_setup sees.
static PyObject* specs(const DLTensor* tensors, int32_t count) {
  PyObject* list = PyList_New(count);
  for (int32_t i = 0; list != nullptr && i < count; ++i) {
    PyObject* shape = PyTuple_New(tensors[i].ndim);
    for (int32_t d = 0; d < tensors[i].ndim; ++d)
      PyTuple_SET_ITEM(shape, d, PyLong_FromLongLong(static_cast<long long>(tensors[i].shape[d])));
    PyList_SET_ITEM(list, i, Py_BuildValue("(Nii)", shape, tensors[i].dtype.code, tensors[i].dtype.bits));
  }
  return list;
}

static PyObject* params(const kforge_param* values, int32_t count) {
  PyObject* dict = PyDict_New();
  for (int32_t i = 0; dict != nullptr && i < count; ++i) {
    const bool integral = values[i].f64 == static_cast<double>(values[i].i64);
    PyObject* value =
        integral ? PyLong_FromLongLong(static_cast<long long>(values[i].i64)) : PyFloat_FromDouble(values[i].f64);
    PyDict_SetItemString(dict, values[i].name, value);
    Py_XDECREF(value);
  }
  return dict;
}

}  // namespace kforge_python

// How often the kernel's Triton autotuners have tuned (kernel.h): the timing loop flags growth in timed rounds.
KFORGE_EXPORT int64_t kforge_tuning_count = 0;

KFORGE_EXPORT int kforge_setup(const kforge_problem* problem, void** state) {
  using namespace kforge_python;
  const int on_cpu = problem->num_inputs == 0 || problem->inputs[0].device.device_type == kDLCPU;
  if (start(problem->num_threads, on_cpu) != 0) return 1;
  const PyGILState_STATE gil = PyGILState_Ensure();
  int rc = 0;
  auto* owned = new State();
  owned->params = params(problem->params, problem->num_params);
  PyObject* result = PyObject_CallFunction(glue("setup"), "ONNO", g_kernel, specs(problem->inputs, problem->num_inputs),
                                           specs(problem->outputs, problem->num_outputs), owned->params);
  if (result == nullptr || !PyArg_ParseTuple(result, "pO", &owned->has_state, &owned->state)) {
    rc = report();
  } else {
    Py_INCREF(owned->state);
  }
  Py_XDECREF(result);
  if (rc != 0) {
    Py_XDECREF(owned->params);
    delete owned;
    owned = nullptr;
  }
  PyGILState_Release(gil);
  *state = owned;
  return rc;
}

KFORGE_EXPORT int kforge_run(const kforge_call* call) {
  using namespace kforge_python;
  auto* owned = static_cast<State*>(call->state);
  if (owned == nullptr || g_kernel == nullptr) return 1;  // setup failed, or never ran
  const PyGILState_STATE gil = PyGILState_Ensure();
  const int device = call->num_inputs > 0 ? call->inputs[0].device.device_id : 0;
  PyObject* result = PyObject_CallFunction(
      glue("run"), "ONNOOOKi", g_kernel, capsules(call->inputs, call->num_inputs),
      capsules(call->outputs, call->num_outputs), owned->params, owned->has_state ? Py_True : Py_False, owned->state,
      static_cast<unsigned long long>(reinterpret_cast<uintptr_t>(call->stream)), device);
  int rc = 0;
  if (result == nullptr) {
    const bool jit = PyErr_ExceptionMatches(glue("JitError")) != 0;
    const bool mismatch = PyErr_ExceptionMatches(glue("OutputMismatch")) != 0;
    if (mismatch || PyErr_ExceptionMatches(glue("Plain")) != 0) {
      rc = report_message();
    } else {
      rc = report();
    }
    if (jit) rc = KFORGE_JIT_ERROR;
    if (mismatch) rc = KFORGE_OUTPUT_MISMATCH;
  }
  if (result != nullptr && PyLong_Check(result)) kforge_tuning_count += PyLong_AsLongLong(result);
  Py_XDECREF(result);
  PyGILState_Release(gil);
  return rc;
}

// A zygote's fork (harness/isolation/zygote.h): fork() between Python's own hooks, so that the child's
// interpreter (its locks, its thread state, the GIL) is whole; called with no GIL held, returns with none.
KFORGE_EXPORT int kforge_python_fork(void) {
  const PyGILState_STATE gil = PyGILState_Ensure();
  PyOS_BeforeFork();
  const pid_t pid = fork();
  if (pid == 0) {
    PyOS_AfterFork_Child();
  } else {
    PyOS_AfterFork_Parent();
  }
  PyGILState_Release(gil);
  return pid;
}

KFORGE_EXPORT void kforge_record_begin(void) {
  using namespace kforge_python;
  if (g_kernel == nullptr) return;
  const PyGILState_STATE gil = PyGILState_Ensure();
  PyObject* result = PyObject_CallFunction(glue("record_begin"), nullptr);
  if (result == nullptr) report();
  Py_XDECREF(result);
  PyGILState_Release(gil);
}

KFORGE_EXPORT int64_t kforge_record_end(char* buffer, int64_t size) {
  using namespace kforge_python;
  if (g_kernel == nullptr) return 0;
  const PyGILState_STATE gil = PyGILState_Ensure();
  PyObject* result = PyObject_CallFunction(glue("record_end"), nullptr);
  int64_t needed = 0;
  const char* text = result != nullptr ? PyUnicode_AsUTF8(result) : nullptr;
  if (text == nullptr) {
    report();
  } else {
    needed = static_cast<int64_t>(strlen(text)) + 1;
    if (buffer != nullptr && size > 0) {
      const size_t copied = static_cast<size_t>(needed < size ? needed : size) - 1;
      memcpy(buffer, text, copied);
      buffer[copied] = '\0';
    }
  }
  Py_XDECREF(result);
  PyGILState_Release(gil);
  return needed;
}

KFORGE_EXPORT void kforge_teardown(void* state) {
  using namespace kforge_python;
  auto* owned = static_cast<State*>(state);
  if (owned == nullptr) return;
  const PyGILState_STATE gil = PyGILState_Ensure();
  if (owned->has_state) {
    PyObject* result = PyObject_CallFunction(glue("teardown"), "OO", g_kernel, owned->state);
    if (result == nullptr) report();
    Py_XDECREF(result);
  }
  Py_XDECREF(owned->state);
  Py_XDECREF(owned->params);
  PyGILState_Release(gil);
  delete owned;
}

#endif
