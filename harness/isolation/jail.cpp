#include "harness/isolation/jail.h"

#include "backends/python/python_language.h"
#include "core/error.h"
#include "core/files.h"
#include "core/paths.h"
#include "core/process.h"

#include <elf.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <mutex>

namespace kforge {
namespace {

std::atomic<Jail> g_default_jail{Jail::automatic};
std::mutex g_hidden_mutex;
std::vector<std::filesystem::path> g_hidden;

}  // namespace

Jail parse_jail(const std::string& text) {
  if (text == "auto") return Jail::automatic;
  if (text == "bwrap") return Jail::bwrap;
  if (text == "process") return Jail::process;
  throw_usage("--sandbox " + text + ": expected auto, bwrap or process");
}

void set_default_jail(Jail jail) { g_default_jail = jail; }
Jail default_jail() { return g_default_jail; }

bool bwrap_usable(std::string* why) {
  static std::string reason;
  static const bool usable = [] {
    const auto bwrap = find_program("bwrap");
    if (bwrap.empty()) {
      reason = "bubblewrap is not installed (apt-get install bubblewrap)";
      return false;
    }
    // The machine may forbid the namespaces bwrap needs (no unprivileged user namespaces, a container).
    const CommandResult probe = run_command({bwrap.string(), "--die-with-parent", "--unshare-all", "--ro-bind", "/",
                                             "/", "--proc", "/proc", "--dev", "/dev", "--", "/bin/true"},
                                            std::chrono::seconds(20));
    if (!probe.status.success()) {
      reason = "bubblewrap cannot build a jail here: " + probe.output.substr(0, 300);
      return false;
    }
    return true;
  }();
  if (why != nullptr) *why = reason;
  return usable;
}

void hide_from_kernels(const std::filesystem::path& path) {
  std::error_code error;
  const auto absolute = std::filesystem::absolute(path, error);
  const std::lock_guard lock(g_hidden_mutex);
  g_hidden.push_back(error ? path : absolute);
}
JailInputs jail_inputs() {
  JailInputs inputs;
  inputs.bwrap = find_program("bwrap");
  if (const char* home = std::getenv("HOME"); home != nullptr) inputs.home = home;
  if (const char* cache = std::getenv("XDG_CACHE_HOME"); cache != nullptr) inputs.xdg_cache_home = cache;
  if (const char* paths = std::getenv("LD_LIBRARY_PATH"); paths != nullptr) inputs.ld_library_path = paths;
  if (const PythonEnvironment* python = probed_python_environment())
    for (const auto& folder : python->folders) inputs.python_folders.push_back(folder);
  const std::lock_guard lock(g_hidden_mutex);
  inputs.hidden = g_hidden;
  return inputs;
}

std::vector<std::filesystem::path> gpu_device_nodes(const std::string& backend, const std::filesystem::path& dev_root) {
  auto wanted = [&backend](const std::string& name) {
    if (backend == "hip") return name == "kfd" || name == "dri";
    if (backend != "cuda") return false;
    if (name == "nvidiactl" || name == "nvidia-uvm" || name == "nvidia-uvm-tools" || name == "nvidia-modeset" ||
        name == "nvidia-caps")
      return true;
    // nvidia0, nvidia1, ...: one per GPU.
    return name.size() > 6 && name.rfind("nvidia", 0) == 0 &&
           std::all_of(name.begin() + 6, name.end(), [](char c) { return c >= '0' && c <= '9'; });
  };
  std::vector<std::filesystem::path> nodes;
  std::error_code error;
  for (std::filesystem::directory_iterator it(dev_root, error), end; !error && it != end; it.increment(error))
    if (wanted(it->path().filename().string())) nodes.push_back(it->path());
  std::sort(nodes.begin(), nodes.end());
  return nodes;
}

namespace {

// Reads a `T` at `offset` of `in`; false past the end.
template <typename T>
bool read_at(std::ifstream& in, uint64_t offset, T& value) {
  in.seekg(static_cast<std::streamoff>(offset));
  in.read(reinterpret_cast<char*>(&value), sizeof value);
  return static_cast<bool>(in);
}

// `path` absolute, with symbolic links resolved as far as it exists, without a trailing separator.
std::filesystem::path resolved(const std::filesystem::path& path) {
  std::error_code error;
  std::filesystem::path result = std::filesystem::weakly_canonical(std::filesystem::absolute(path, error), error);
  if (error) result = path;
  result = result.lexically_normal();
  if (!result.has_filename() && result.has_relative_path()) result = result.parent_path();
  return result;
}

// Whether `path` is `folder` or lies under it (both resolved).
bool within(const std::filesystem::path& path, const std::filesystem::path& folder) {
  auto p = path.begin();
  for (auto f = folder.begin(); f != folder.end(); ++f, ++p)
    if (p == path.end() || *p != *f) return false;
  return true;
}

}  // namespace

namespace {

// The strings the dynamic section of `elf` names under `tags` (DT_NEEDED, DT_RUNPATH, ...), in file order; empty when
// `elf` is no 64-bit ELF file of this machine's byte order or has no dynamic section.
std::vector<std::string> elf_dynamic_strings(const std::filesystem::path& elf, std::initializer_list<int64_t> tags) {
  std::ifstream in(elf, std::ios::binary);
  Elf64_Ehdr header{};
  if (!read_at(in, 0, header) || std::memcmp(header.e_ident, ELFMAG, SELFMAG) != 0 ||
      header.e_ident[EI_CLASS] != ELFCLASS64 ||
      header.e_ident[EI_DATA] != (__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ ? ELFDATA2LSB : ELFDATA2MSB) ||
      header.e_phentsize != sizeof(Elf64_Phdr))
    return {};
  // The dynamic section names the string table by its address once loaded: the PT_LOAD segments map that
  // back to a place in the file.
  std::vector<Elf64_Phdr> loads;
  std::optional<Elf64_Phdr> dynamic;
  for (uint16_t i = 0; i < header.e_phnum; ++i) {
    Elf64_Phdr segment{};
    if (!read_at(in, header.e_phoff + uint64_t{i} * sizeof segment, segment)) return {};
    if (segment.p_type == PT_LOAD) loads.push_back(segment);
    if (segment.p_type == PT_DYNAMIC) dynamic = segment;
  }
  if (!dynamic) return {};
  uint64_t string_table = 0;
  std::vector<uint64_t> offsets;  // into the string table
  for (uint64_t at = 0; at + sizeof(Elf64_Dyn) <= dynamic->p_filesz; at += sizeof(Elf64_Dyn)) {
    Elf64_Dyn entry{};
    if (!read_at(in, dynamic->p_offset + at, entry) || entry.d_tag == DT_NULL) break;
    if (entry.d_tag == DT_STRTAB) string_table = entry.d_un.d_ptr;
    if (std::find(tags.begin(), tags.end(), entry.d_tag) != tags.end()) offsets.push_back(entry.d_un.d_val);
  }
  std::optional<uint64_t> table_offset;
  for (const auto& load : loads)
    if (string_table >= load.p_vaddr && string_table < load.p_vaddr + load.p_filesz)
      table_offset = string_table - load.p_vaddr + load.p_offset;
  if (!table_offset) return {};
  std::vector<std::string> strings;
  for (const uint64_t offset : offsets) {
    std::string text;
    in.clear();
    in.seekg(static_cast<std::streamoff>(*table_offset + offset));
    std::getline(in, text, '\0');
    strings.push_back(std::move(text));
  }
  return strings;
}

}  // namespace

std::vector<std::string> elf_needed(const std::filesystem::path& elf) { return elf_dynamic_strings(elf, {DT_NEEDED}); }

std::vector<std::filesystem::path> elf_library_dirs(const std::filesystem::path& elf) {
  const std::string origin = resolved(elf).parent_path().string();
  std::vector<std::filesystem::path> folders;
  for (const std::string& text : elf_dynamic_strings(elf, {DT_RUNPATH, DT_RPATH})) {
    std::stringstream entries(text);
    for (std::string entry; std::getline(entries, entry, ':');) {
      for (const std::string token : {"${ORIGIN}", "$ORIGIN"})
        for (size_t at; (at = entry.find(token)) != std::string::npos;) entry.replace(at, token.size(), origin);
      // $LIB and $PLATFORM name folders by the machine; relative entries are relative to the working folder,
      // which in the jail is the evaluation's own.
      if (entry.empty() || entry.front() != '/' || entry.find('$') != std::string::npos) continue;
      const auto folder = std::filesystem::path(entry).lexically_normal();
      if (std::find(folders.begin(), folders.end(), folder) == folders.end()) folders.push_back(folder);
    }
  }
  return folders;
}

std::vector<std::string> bwrap_argv(const std::filesystem::path& runner, const RunnerDevice& device,
                                    const std::filesystem::path& dir, const JailInputs& inputs) {
  const bool gpu = device.backend != "cpu";
  std::vector<std::string> argv{inputs.bwrap.string(),
                                "--die-with-parent",
                                "--new-session",
                                "--unshare-all",
                                "--ro-bind",
                                "/",
                                "/",
                                "--proc",
                                "/proc",
                                "--dev",
                                "/dev"};
  if (inputs.zygote) {
    argv.insert(argv.begin() + 4, {"--cap-add", "CAP_SYS_ADMIN"});
    // --die-with-parent means the thread that started it: a zygote outlives the thread that first needed it, and
    // ends instead when its control socket does (when this process does).
    argv.erase(argv.begin() + 1);
  }
  // A minimal /dev for every runner. A GPU runner keeps root (runner.cpp, drop_root), and all of /dev would
  // hand it the raw disks: it gets back only its vendor's device nodes that exist here.
  if (gpu)
    for (const auto& node : gpu_device_nodes(device.backend, inputs.dev))
      argv.insert(argv.end(),
                  {"--dev-bind", node.string(), (std::filesystem::path("/dev") / node.filename()).string()});
  argv.insert(argv.end(), {"--tmpfs", "/tmp"});
  std::vector<std::filesystem::path> hidden = inputs.hidden;
  if (!inputs.home.empty()) hidden.emplace_back(inputs.home);
  if (!inputs.xdg_cache_home.empty()) hidden.emplace_back(std::filesystem::path(inputs.xdg_cache_home) / "kforge");
  std::vector<std::filesystem::path> covered{"/tmp"};  // folders the jail replaced with empty ones
  std::vector<std::filesystem::path> concealed;        // everything hidden, resolved
  for (const auto& path : hidden) {
    std::error_code error;
    // Never cover the system itself ($HOME=/ in some containers): the jail could not start the runner.
    const std::string text = path.lexically_normal().string();
    if (text == "/" || text.empty() || std::string("/usr/").rfind(text + "/", 0) == 0 ||
        std::string("/etc/").rfind(text + "/", 0) == 0)
      continue;
    if (std::filesystem::is_directory(path, error)) {
      argv.insert(argv.end(), {"--tmpfs", path.string()});
      covered.push_back(path.lexically_normal());
      covered.push_back(resolved(path));
      concealed.push_back(resolved(path));
    } else if (std::filesystem::exists(path, error)) {
      // A store and its WAL and shared-memory files.
      for (const char* suffix : {"", "-wal", "-shm", "-journal"}) {
        if (!std::filesystem::exists(path.string() + suffix, error)) continue;
        argv.insert(argv.end(), {"--ro-bind", "/dev/null", path.string() + suffix});
        concealed.push_back(resolved(path.string() + suffix));
      }
    }
  }
  // What the runner loads from under a covered folder (a bundle unpacked in $HOME or /tmp, CUDA from conda
  // or pip): its own folder, its and the HIP plugin's RUNPATH/RPATH folders, and for a GPU runner (the one
  // that keeps LD_LIBRARY_PATH) each LD_LIBRARY_PATH folder, read-only. Folders outside the covered ones are
  // visible already. A folder holding something hidden stays hidden: the store outranks the libraries.
  std::vector<std::filesystem::path> libraries{runner.parent_path()};
  for (auto& folder : elf_library_dirs(runner)) libraries.push_back(std::move(folder));
  const auto plugin = runner.parent_path() / "kforge-hip.so";
  std::error_code error;
  const bool with_plugin = gpu && std::filesystem::exists(plugin, error);
  if (with_plugin)
    for (auto& folder : elf_library_dirs(plugin)) libraries.push_back(std::move(folder));
  // A Python kernel's interpreter, its standard library and site-packages (a venv under $HOME).
  for (const auto& folder : inputs.python_folders) libraries.push_back(folder);
  if (gpu) {
    std::stringstream entries(inputs.ld_library_path);
    for (std::string entry; std::getline(entries, entry, ':');)
      if (!entry.empty() && entry.front() == '/') libraries.emplace_back(entry);
  }
  std::vector<std::filesystem::path> bound;
  for (auto& folder : libraries) folder = resolved(folder);
  // Outer folders first: a folder inside one already bound comes with it.
  std::stable_sort(libraries.begin(), libraries.end(), [](const auto& a, const auto& b) {
    return std::distance(a.begin(), a.end()) < std::distance(b.begin(), b.end());
  });
  for (const auto& folder : libraries) {
    auto inside = [&folder](const std::filesystem::path& outer) { return within(folder, outer); };
    auto holds = [&folder](const std::filesystem::path& inner) { return within(inner, folder); };
    if (!std::filesystem::is_directory(folder, error) || std::none_of(covered.begin(), covered.end(), inside) ||
        std::find(covered.begin(), covered.end(), folder) != covered.end() ||
        std::any_of(concealed.begin(), concealed.end(), holds) || std::any_of(bound.begin(), bound.end(), inside))
      continue;
    argv.insert(argv.end(), {"--ro-bind", folder.string(), folder.string()});
    bound.push_back(folder);
  }
  // Last, so that nothing above covers them: the evaluation folder (writable), the runner and the plugin.
  argv.insert(argv.end(), {"--bind", dir.string(), dir.string(), "--ro-bind", runner.string(), runner.string()});
  if (with_plugin) argv.insert(argv.end(), {"--ro-bind", plugin.string(), plugin.string()});
  if (gpu && !inputs.triton_cache.empty() && std::filesystem::is_directory(inputs.triton_cache, error))
    argv.insert(argv.end(), {"--bind", inputs.triton_cache.string(), inputs.triton_cache.string()});
  argv.insert(argv.end(), {"--chdir", dir.string(), "--", runner.string()});
  return argv;
}

std::filesystem::path triton_cache_of(const std::filesystem::path& artifact) {
  std::filesystem::path folder = artifact;
  folder.replace_extension(".triton");
  std::error_code error;
  return std::filesystem::is_directory(folder, error) ? folder : std::filesystem::path();
}

// The command line that starts the runner: itself, or bwrap around it (see Jail).
std::vector<std::string> jailed_argv(const std::filesystem::path& runner, std::optional<Jail> chosen,
                                     const RunnerDevice& device, const std::filesystem::path& dir,
                                     const std::filesystem::path& triton_cache, bool zygote) {
  Jail jail = chosen.value_or(default_jail());
  if (jail == Jail::automatic) jail = bwrap_usable() ? Jail::bwrap : Jail::process;
  if (jail == Jail::process) return {runner.string()};
  std::string why;
  if (!bwrap_usable(&why)) throw_environment("--sandbox bwrap: " + why);
  JailInputs inputs = jail_inputs();
  inputs.triton_cache = triton_cache;
  inputs.zygote = zygote;
  return bwrap_argv(runner, device, dir, inputs);
}

}  // namespace kforge
