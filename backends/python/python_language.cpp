#include "backends/python/python_language.h"

#include "backends/toolchain.h"
#include "core/error.h"
#include "core/files.h"
#include "core/hash.h"
#include "core/paths.h"
#include "core/process.h"

#include <nlohmann/json.hpp>

#include <unistd.h>

#include <fstream>
#include <map>
#include <mutex>
#include <optional>
#include <regex>
#include <sstream>

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

std::string python_adapter_unit(const PythonEnvironment& python) {
  const auto quoted = [](const std::string& text) { return nlohmann::json(text).dump(); };  // a C string literal
  std::string unit = "// Generated by kforge: the adapter of Python kernels, see <kforge/python_kernel.h>.\n";
  unit += "#define KFORGE_PY_EXECUTABLE " + quoted(python.executable.string()) + "\n";
  unit += "#define KFORGE_PY_LIBRARY " + quoted(python.soname) + "\n";
  return unit + "#include <kforge/python_kernel.h>\n";
}

std::string python_payload(const std::string& name, const std::string& source_text) {
  std::string payload = name + '\0' + source_text + '\0';
  uint64_t size = payload.size();
  for (int i = 0; i < 8; ++i, size >>= 8) payload += static_cast<char>(size & 0xff);
  return payload + "KFPYSRC1";
}

std::filesystem::path python_adapter(const PythonEnvironment& python) {
  const std::string key = sha256_hex(python_fingerprint(python)).substr(0, 24);
  const auto folder = cache_root() / "python-adapter";
  const auto adapter = folder / (key + ".so");
  // Built once per process and interpreter; processes that race each build their own and rename it into place.
  static std::mutex mutex;
  const std::lock_guard lock(mutex);
  std::error_code error;
  if (std::filesystem::exists(adapter, error)) return adapter;
  std::filesystem::create_directories(folder, error);
  if (error)
    throw_environment("cannot create " + folder.string() + ": " + error.message() +
                      " (set XDG_CACHE_HOME to a writable folder)");
  const std::string partial = (folder / key).string() + "-" + std::to_string(getpid());
  write_file_atomic(partial + ".cpp", python_adapter_unit(python));
  const CompileResult built = run_compiler(
      {find_host_compiler().string(), "-std=c++17", "-O2", "-fPIC", "-shared", "-I" + kernel_include_dir().string(),
       "-I" + python.include_dir.string(), partial + ".cpp", "-o", partial + ".so", "-L" + python.library_dir.string(),
       "-Wl,-rpath," + python.library_dir.string(), "-l" + python.library, "-ldl"});
  std::filesystem::remove(partial + ".cpp", error);
  if (!built.ok)
    throw_environment("the adapter of Python kernels does not compile (" + python.executable.string() + "):\n" +
                      built.log.substr(0, 4000));
  std::filesystem::rename(partial + ".so", adapter);
  return adapter;
}

namespace {

std::vector<std::string> strings(const nlohmann::json& extension, const char* field) {
  std::vector<std::string> values;
  for (const auto& value : extension.value(field, nlohmann::json::array()))
    if (value.is_string()) values.push_back(value.get<std::string>());
  return values;
}

// A flag field's flags as torch's build would pass them: its strings split at blanks (torch writes them into one
// ninja command line), so "" is none and "-O3 --use_fast_math" two.
std::vector<std::string> flags(const nlohmann::json& extension, const char* field) {
  std::vector<std::string> values;
  for (const std::string& text : strings(extension, field)) {
    std::istringstream words(text);
    for (std::string word; words >> word;) values.push_back(word);
  }
  return values;
}

}  // namespace

std::string refused_inline_flag(const nlohmann::json& extension) {
  static const std::regex k_compile(
      R"(^(-O[0-3s]?|-Ofast|-std=(c|gnu)\+\+(14|17|20)|-[DU][A-Za-z_][A-Za-z0-9_]*(=[A-Za-z0-9_.+-]*)?|)"
      R"(-f(fast-math|openmp|unroll-loops|no-strict-aliasing|PIC)|-march=native|-mtune=native|-m(avx2|avx512f|fma)|)"
      R"(-W[a-z-]*|-w|-g|--use_fast_math|-use_fast_math|-lineinfo|--expt-relaxed-constexpr|)"
      R"(--expt-extended-lambda|-Xptxas=-O[0-3]|--ptxas-options=-O[0-3]|-arch=sm_[0-9]+a?|)"
      R"(--gpu-architecture=sm_[0-9]+a?|-gencode=arch=compute_[0-9]+a?,code=sm_[0-9]+a?)$)");
  static const std::regex k_link(R"(^-l(cublas|cublasLt|curand|cusparse|cufft|m)$)");
  // The name becomes a module, a macro and a file name; the functions, names in the module's C++.
  static const std::regex k_identifier(R"(^[A-Za-z_][A-Za-z0-9_]*$)");
  const auto name = extension.value("name", nlohmann::json());
  if (!name.is_string() || !std::regex_match(name.get<std::string>(), k_identifier))
    return "name " + name.dump() + ": an extension's name must be a Python identifier";
  const auto functions = extension.value("functions", nlohmann::json::array());
  for (const auto& [key, value] : functions.items()) {
    const std::string function = functions.is_object() ? key : (value.is_string() ? value.get<std::string>() : "");
    if (!std::regex_match(function, k_identifier)) return "functions: '" + function + "' is not a C++ function name";
  }
  for (const char* field : {"extra_cflags", "extra_cuda_cflags", "extra_ldflags"})
    for (const auto& value : extension.value(field, nlohmann::json::array())) {
      if (!value.is_string()) return std::string(field) + " " + value.dump() + ": a flag is a string";
    }
  for (const char* field : {"extra_cflags", "extra_cuda_cflags", "extra_ldflags"})
    for (const std::string& text : flags(extension, field)) {
      const bool link = std::string(field) == "extra_ldflags";
      if (!std::regex_match(text, link ? k_link : k_compile))
        return std::string(field) + " '" + text +
               "': kforge builds load_inline sources with flags that shape the code only (optimisation, standard, "
               "macros, fast math, vendor math libraries), never ones that name files, plugins, tools or outputs";
    }
  if (!extension.value("extra_include_paths", nlohmann::json::array()).empty())
    return "extra_include_paths: kforge builds load_inline sources against PyTorch's headers only";
  return "";
}

std::string inline_extension_key(const nlohmann::json& extension) { return sha256_hex(extension.dump()).substr(0, 16); }

namespace {

// Where PyTorch's headers and libraries are, as torch.utils.cpp_extension would build against them.
struct TorchBuild {
  std::vector<std::string> include;
  std::vector<std::string> lib;
  int cxx11_abi = 1;
  std::string error;  // why extensions cannot be built here
};

const TorchBuild& torch_build(const PythonEnvironment& python) {
  static std::mutex mutex;
  static std::map<std::string, TorchBuild> found;
  const std::lock_guard lock(mutex);
  auto [at, inserted] = found.try_emplace(python.executable.string());
  if (!inserted) return at->second;
  const CommandResult probe = run_command({python.executable.string(), "-I", "-c",
                                           "import json, torch, torch.utils.cpp_extension as c\n"
                                           "print(json.dumps({'include': c.include_paths(), 'lib': c.library_paths(),"
                                           " 'abi': int(torch._C._GLIBCXX_USE_CXX11_ABI)}))"},
                                          std::chrono::seconds(120));
  const auto report = nlohmann::json::parse(probe.output.substr(probe.output.rfind('{')), nullptr, false);
  if (!probe.status.success() || !report.is_object()) {
    at->second.error = "PyTorch's build paths could not be read: " + probe.output.substr(0, 400);
    return at->second;
  }
  at->second.include = report.value("include", std::vector<std::string>{});
  at->second.lib = report.value("lib", std::vector<std::string>{});
  at->second.cxx11_abi = report.value("abi", 1);
  return at->second;
}

// One load_inline extension built as torch.utils.cpp_extension.load_inline would build it: the C++ sources after
// <torch/extension.h>, a pybind11 module named after the extension that defines `functions`, the CUDA sources
// compiled by nvcc; linked against the interpreter's libtorch.
CompileResult build_inline_extension(const PythonEnvironment& python, const nlohmann::json& extension,
                                     const std::filesystem::path& output) {
  if (const std::string refused = refused_inline_flag(extension); !refused.empty()) return {false, refused};
  const TorchBuild& torch = torch_build(python);
  if (!torch.error.empty()) return {false, torch.error};
  const std::string name = extension.value("name", std::string("extension"));
  const std::filesystem::path work = output.string() + ".build";
  std::filesystem::create_directories(work);
  std::string main = "#include <torch/extension.h>\n";
  for (const auto& text : strings(extension, "cpp_sources")) main += text + "\n";
  const auto functions = extension.value("functions", nlohmann::json::array());
  if (!functions.empty()) {
    main += "\nPYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {\n";
    if (functions.is_object()) {
      for (const auto& [function, doc] : functions.items())
        main += "  m.def(\"" + function + "\", torch::wrap_pybind_function(" + function + "), " +
                nlohmann::json(doc.is_string() ? doc.get<std::string>() : function).dump() + ");\n";
    } else {
      for (const auto& function : functions)
        if (function.is_string())
          main += "  m.def(\"" + function.get<std::string>() + "\", torch::wrap_pybind_function(" +
                  function.get<std::string>() + "), \"" + function.get<std::string>() + "\");\n";
    }
    main += "}\n";
  }
  write_file_atomic(work / "main.cpp", main);
  std::vector<std::string> common{"-DTORCH_EXTENSION_NAME=" + name, "-DTORCH_API_INCLUDE_EXTENSION_H",
                                  "-D_GLIBCXX_USE_CXX11_ABI=" + std::to_string(torch.cxx11_abi)};
  for (const auto& include : torch.include) common.push_back("-I" + include);
  for (const auto& include : strings(extension, "extra_include_paths")) common.push_back("-I" + include);
  common.push_back("-I" + python.include_dir.string());
  std::vector<std::string> objects;
  std::string log;
  const auto cuda_sources = strings(extension, "cuda_sources");
  if (!cuda_sources.empty()) {
    std::string cuda = "#include <torch/types.h>\n#include <cuda.h>\n#include <cuda_runtime.h>\n";
    for (const auto& text : cuda_sources) cuda += text + "\n";
    write_file_atomic(work / "cuda.cu", cuda);
    const std::filesystem::path nvcc = find_program("nvcc").empty() ? "/usr/local/cuda/bin/nvcc" : find_program("nvcc");
    std::vector<std::string> argv{
        nvcc.string(), "-c",    (work / "cuda.cu").string(), "-o", (work / "cuda.o").string(), "-O3", "-std=c++17",
        "-Xcompiler",  "-fPIC", "--expt-relaxed-constexpr"};
    argv.insert(argv.end(), common.begin(), common.end());
    for (const auto& flag : flags(extension, "extra_cuda_cflags")) argv.push_back(flag);
    const CompileResult built = run_compiler(argv);
    log += built.log;
    if (!built.ok) return {false, "load_inline(" + name + ") CUDA sources:\n" + log};
    objects.push_back((work / "cuda.o").string());
  }
  std::vector<std::string> argv{find_host_compiler().string(), "-O3", "-std=c++17", "-fPIC", "-shared",
                                (work / "main.cpp").string()};
  argv.insert(argv.end(), common.begin(), common.end());
  for (const auto& flag : flags(extension, "extra_cflags")) argv.push_back(flag);
  argv.insert(argv.end(), objects.begin(), objects.end());
  for (const auto& lib : torch.lib) argv.insert(argv.end(), {"-L" + lib, "-Wl,-rpath," + lib});
  argv.insert(argv.end(), {"-lc10", "-ltorch", "-ltorch_cpu", "-ltorch_python"});
  if (!cuda_sources.empty())
    argv.insert(argv.end(), {"-lc10_cuda", "-ltorch_cuda", "-L/usr/local/cuda/lib64", "-lcudart"});
  for (const auto& flag : flags(extension, "extra_ldflags")) argv.push_back(flag);
  argv.insert(argv.end(), {"-o", output.string()});
  const CompileResult linked = run_compiler(argv);
  log += linked.log;
  std::error_code error;
  std::filesystem::remove_all(work, error);
  if (!linked.ok) return {false, "load_inline(" + name + "):\n" + log};
  return {true, log};
}

// The extensions a kernel carries: the JSON string literal of its _KFORGE_INLINE_EXTENSIONS line, parsed.
nlohmann::json carried_extensions(const std::string& text) {
  const std::string marker = "_KFORGE_INLINE_EXTENSIONS = _kforge_json.loads(";
  const size_t at = text.find(marker);
  if (at == std::string::npos) return nlohmann::json::array();
  const size_t start = at + marker.size();
  const size_t end = text.find('\n', start);
  std::string literal = text.substr(start, end - start);
  if (!literal.empty() && literal.back() == ')') literal.pop_back();
  const auto value = nlohmann::json::parse(literal, nullptr, false);
  return value.is_string() ? nlohmann::json::parse(value.get<std::string>(), nullptr, false) : nlohmann::json::array();
}

}  // namespace

CompileResult compile_python_kernel(const PythonEnvironment& python, const std::filesystem::path& source,
                                    const std::filesystem::path& output, const std::filesystem::path& companions,
                                    bool gpu) {
  if (!python.unavailable.empty()) throw_environment("Python kernels are unavailable: " + python.unavailable);
  // A syntax error is the kernel's compile error, found before any runner starts.
  const CommandResult syntax = run_command(
      {python.executable.string(), "-I", "-c",
       "import sys\nsrc = open(sys.argv[1], 'rb').read()\ncompile(src, sys.argv[1], 'exec')", source.string()},
      std::chrono::seconds(60));
  if (!syntax.status.success()) return {false, syntax.output};
  const std::string text = read_file(source);
  const nlohmann::json extensions = carried_extensions(text);
  if (!extensions.empty() && !companions.empty()) {
    std::filesystem::create_directories(companions);
    for (const auto& built : extensions) {
      const auto& extension = built.value("extension", nlohmann::json::object());
      // CUDA sources are for a GPU; on the CPU the runner says the solution was written for CUDA.
      if (!gpu && !extension.value("cuda_sources", nlohmann::json::array()).empty()) continue;
      const std::filesystem::path library =
          companions / (extension.value("name", std::string("extension")) + "-" + built.value("key", "") + ".so");
      if (std::filesystem::exists(library)) continue;
      const std::filesystem::path partial = library.string() + ".partial";
      const CompileResult result = build_inline_extension(python, extension, partial);
      if (!result.ok) return result;
      std::filesystem::rename(partial, library);
    }
  }
  // The adapter's file with the kernel after it: no compiler per kernel (<kforge/python_kernel.h>).
  std::filesystem::copy_file(python_adapter(python), output, std::filesystem::copy_options::overwrite_existing);
  std::ofstream artifact(output, std::ios::binary | std::ios::app);
  artifact << python_payload(source.filename().string(), text);
  artifact.close();
  if (!artifact) throw_environment("cannot write " + output.string());
  return {true, ""};
}

}  // namespace kforge
