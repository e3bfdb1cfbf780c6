#include "backends/python/python_language.h"

#include "backends/toolchain.h"
#include "core/error.h"
#include "core/files.h"
#include "core/paths.h"
#include "core/process.h"

#include <nlohmann/json.hpp>

#include <mutex>
#include <optional>

namespace kforge {
namespace {

std::optional<std::filesystem::path>& chosen_executable() {
  static std::optional<std::filesystem::path> chosen;
  return chosen;
}

// Asks the interpreter about itself without importing torch (importlib.metadata reads the installed
// versions), so that knowing whether Python kernels can run costs tens of milliseconds, not seconds.
constexpr const char* k_probe = R"PY(
import json, site, sys, sysconfig
from importlib import metadata
def version(name):
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return ""
v = sysconfig.get_config_vars()
print(json.dumps({
    "version": "%d.%d.%d" % sys.version_info[:3],
    "include": sysconfig.get_paths()["include"],
    "libdir": v.get("LIBDIR") or "",
    "ldlibrary": v.get("LDLIBRARY") or "",
    "soname": v.get("INSTSONAME") or "",
    "shared": bool(v.get("Py_ENABLE_SHARED")),
    "folders": sorted({sys.prefix, sys.base_prefix, *site.getsitepackages()}),
    "torch": version("torch"),
    "triton": version("triton"),
}))
)PY";

std::string fix_hint() {
  return "run `make python` in kforge's source tree (a .venv with PyTorch from PyPI), or point --python or "
         "KFORGE_PYTHON at a python3 whose environment has PyTorch";
}

}  // namespace

void set_python_executable(const std::filesystem::path& executable) { chosen_executable() = executable; }

bool is_python_kernel(const std::filesystem::path& source) { return source.extension() == ".py"; }

PythonEnvironment probe_python(const std::filesystem::path& executable, const std::string& where) {
  PythonEnvironment python;
  python.executable = executable;
  python.where = where;
  std::error_code error;
  if (executable.empty() || !std::filesystem::exists(executable, error)) {
    python.unavailable =
        "no Python found" + (executable.empty() ? std::string() : " at " + executable.string()) + ": " + fix_hint();
    return python;
  }
  const CommandResult probe = run_command({executable.string(), "-I", "-c", k_probe}, std::chrono::seconds(60));
  const auto facts = nlohmann::json::parse(probe.output, nullptr, false);
  if (!probe.status.success() || !facts.is_object()) {
    python.unavailable = executable.string() + " did not answer kforge's probe (" + probe.status.describe() +
                         "): " + probe.output.substr(0, 400);
    return python;
  }
  python.version = facts.value("version", "");
  python.torch_version = facts.value("torch", "");
  python.triton_version = facts.value("triton", "");
  python.include_dir = facts.value("include", "");
  python.library_dir = facts.value("libdir", "");
  python.soname = facts.value("soname", "");
  std::string library = facts.value("ldlibrary", "");  // libpython3.11.so
  if (library.rfind("lib", 0) == 0) library = library.substr(3);
  if (const auto dot = library.find(".so"); dot != std::string::npos) library = library.substr(0, dot);
  python.library = library;
  for (const auto& folder : facts.value("folders", std::vector<std::string>{})) python.folders.emplace_back(folder);
  if (!facts.value("shared", false) || python.soname.empty()) {
    python.unavailable = executable.string() + " (Python " + python.version +
                         ") has no shared libpython, which kforge embeds to run Python kernels (pyenv builds "
                         "without one unless told --enable-shared): make its venv from Debian's python3 "
                         "(apt-get install python3-dev python3-venv)";
  } else if (!std::filesystem::exists(python.include_dir / "Python.h", error)) {
    python.unavailable = "Python.h is missing from " + python.include_dir.string() +
                         ", which the Python kernel adapter compiles against: apt-get install python3-dev";
  } else if (python.torch_version.empty()) {
    python.unavailable = "PyTorch is not installed in " + executable.string() + "'s environment: " + fix_hint();
  }
  return python;
}

namespace {
std::mutex g_python_mutex;
std::optional<PythonEnvironment> g_python;
}  // namespace

const PythonEnvironment* probed_python_environment() {
  const std::lock_guard lock(g_python_mutex);
  return g_python ? &*g_python : nullptr;
}

const PythonEnvironment& python_environment() {
  const std::lock_guard lock(g_python_mutex);
  auto& found = g_python;
  if (found) return *found;
  if (const auto& chosen = chosen_executable()) {
    found = probe_python(*chosen, "--python");
  } else if (const char* env = std::getenv("KFORGE_PYTHON"); env && *env) {
    found = probe_python(env, "KFORGE_PYTHON");
  } else if (const auto venv = find_kforge_path(nullptr, ".venv/bin/python")) {
    found = probe_python(*venv, "the project's .venv");
  } else {
    found = probe_python(find_program("python3"), "PATH");
  }
  return *found;
}

std::string python_fingerprint(const PythonEnvironment& python) {
  return "python " + python.executable.string() + " " + python.version + "|torch " + python.torch_version + "|triton " +
         python.triton_version + "|" + program_identity(find_host_compiler()) + "|" +
         read_file(kernel_include_dir() / "kforge" / "python_kernel.h");
}

std::string python_adapter_unit(const PythonEnvironment& python, const std::string& name,
                                const std::string& source_text) {
  const auto quoted = [](const std::string& text) { return nlohmann::json(text).dump(); };  // a C string literal
  std::string unit = "// Generated by kforge for the Python kernel " + name + ": see <kforge/python_kernel.h>.\n";
  unit += "#define KFORGE_PY_EXECUTABLE " + quoted(python.executable.string()) + "\n";
  unit += "#define KFORGE_PY_LIBRARY " + quoted(python.soname) + "\n";
  unit += "static const char k_kforge_py_name[] = " + quoted(name) + ";\n";
  // As bytes: any text survives, whatever quotes, backslashes or raw-string delimiters it holds.
  unit += "static const unsigned char k_kforge_py_source[] = {";
  for (size_t i = 0; i < source_text.size(); ++i) {
    if (i % 24 == 0) unit += "\n";
    unit += std::to_string(static_cast<unsigned char>(source_text[i])) + ",";
  }
  unit += "0};\n#include <kforge/python_kernel.h>\n";
  return unit;
}

CompileResult compile_python_kernel(const PythonEnvironment& python, const std::filesystem::path& source,
                                    const std::filesystem::path& output) {
  if (!python.unavailable.empty()) throw_environment("Python kernels are unavailable: " + python.unavailable);
  // A syntax error is the kernel's compile error, found before any runner starts.
  const CommandResult syntax = run_command(
      {python.executable.string(), "-I", "-c",
       "import sys\nsrc = open(sys.argv[1], 'rb').read()\ncompile(src, sys.argv[1], 'exec')", source.string()},
      std::chrono::seconds(60));
  if (!syntax.status.success()) return {false, syntax.output};
  const std::filesystem::path unit = output.string() + ".cpp";
  write_file_atomic(unit, python_adapter_unit(python, source.filename().string(), read_file(source)));
  const std::vector<std::string> argv{find_host_compiler().string(),
                                      "-std=c++17",
                                      "-O2",
                                      "-fPIC",
                                      "-shared",
                                      "-I" + kernel_include_dir().string(),
                                      "-I" + python.include_dir.string(),
                                      unit.string(),
                                      "-o",
                                      output.string(),
                                      "-L" + python.library_dir.string(),
                                      "-Wl,-rpath," + python.library_dir.string(),
                                      "-l" + python.library,
                                      "-ldl"};
  CompileResult result = run_compiler(argv);
  std::error_code error;
  std::filesystem::remove(unit, error);
  return result;
}

}  // namespace kforge
