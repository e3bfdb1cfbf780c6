// The Python language (docs/python.md): turns a `.py` kernel into an artifact any device's runner loads like a
// C++ kernel. The artifact is kforge's adapter (<kforge/python_kernel.h>, CPython embedded, the C ABI outside)
// with the kernel's source inside, built by the host C++ compiler against the interpreter kernels run under.
// A language, not a backend: the same artifact runs on the CPU and, with torch's CUDA or HIP tensors, on GPUs.
#pragma once

#include "backends/backend.h"

#include <nlohmann/json_fwd.hpp>

#include <filesystem>
#include <string>
#include <vector>

namespace kforge {

// The interpreter Python kernels and the torch baselines run under, and what kforge learned of it.
struct PythonEnvironment {
  std::filesystem::path executable;   // as given (a venv's bin/python): its pyvenv.cfg picks the site-packages
  std::string where;                  // how it was chosen: "--python", "KFORGE_PYTHON", "the project's .venv", "PATH"
  std::string version;                // "3.11.2"
  std::string torch_version;          // "" when PyTorch is not installed there
  std::string triton_version;         // "" when Triton is not
  std::filesystem::path include_dir;  // Python.h
  std::filesystem::path library_dir;  // libpython
  std::string library;                // its link name, "python3.11"
  std::string soname;                 // "libpython3.11.so.1.0"
  // sys.prefix, sys.base_prefix and the site-packages folders: what a jailed runner must be able to read.
  std::vector<std::filesystem::path> folders;
  // Why Python kernels cannot run here, with the command that fixes it; "" when they can.
  std::string unavailable;
};

// Chooses the interpreter for this process ahead of $KFORGE_PYTHON (the CLI's --python).
void set_python_executable(const std::filesystem::path& executable);
// Which interpreter is used, in order: --python, $KFORGE_PYTHON, the .venv `make` creates beside kforge's
// sources or install, then python3 on PATH. Probed once per process (tens of milliseconds: torch is not
// imported). Never throws: what is wrong is in `unavailable`.
const PythonEnvironment& python_environment();
// python_environment() when something in this process has asked for it already, else nullptr: a process that
// never needed Python pays no probe (the jail binds the interpreter's folders only where a kernel needs them).
const PythonEnvironment* probed_python_environment();
// The probe behind python_environment() for one interpreter (tests use it with their own).
PythonEnvironment probe_python(const std::filesystem::path& executable, const std::string& where);

// Whether `source` is a Python kernel: its extension is `.py`.
bool is_python_kernel(const std::filesystem::path& source);

// What changes a Python kernel's artifact besides its source: the interpreter, PyTorch, Triton, the adapter
// and the host compiler.
std::string python_fingerprint(const PythonEnvironment& python);

// The translation unit of the adapter every Python kernel's artifact starts with (<kforge/python_kernel.h>).
std::string python_adapter_unit(const PythonEnvironment& python);
// What follows the adapter in a kernel's artifact: the kernel's file name and source, their size, a magic.
std::string python_payload(const std::string& name, const std::string& source_text);
// The adapter for `python`, compiled once into the cache (Error(environment) when it does not compile).
std::filesystem::path python_adapter(const PythonEnvironment& python);

// Builds the artifact `output` for the Python kernel `source`: the adapter's file with the kernel appended, a
// compile error when its syntax is wrong (never throws for a broken kernel); throws Error(environment) when Python
// kernels cannot run here. A kernel that carries native extensions (a ModelNew's load_inline sources, listed in the
// kernel as _KFORGE_INLINE_EXTENSIONS by harness/modelnew.cpp) has each built here, in the compile stage, against the
// interpreter's PyTorch, into `companions` as <name>-<key>.so, which the runner's folder gets beside the artifact:
// no runner ever starts a compiler. CUDA sources are built for a GPU backend (`gpu`) only.
CompileResult compile_python_kernel(const PythonEnvironment& python, const std::filesystem::path& source,
                                    const std::filesystem::path& output, const std::filesystem::path& companions = {},
                                    bool gpu = false);

// Why an inline extension is refused ("" when it is not): its name and functions must be identifiers, and only
// flags that shape the code are allowed (-O3, -std=, -D, -ffast-math, --use_fast_math, -l of a vendor math library,
// ...); none that names files, plugins, other tools or outputs, which would reach past the build kforge runs
// outside the jail.
std::string refused_inline_flag(const nlohmann::json& extension);

// The key an inline extension's build is stored under: its sources and flags (the scan's JSON object), hashed.
std::string inline_extension_key(const nlohmann::json& extension);

}  // namespace kforge
