// GPU builds that need compilers, not a device: a cuBLAS baseline's RUNPATH, the HIP plugin's runtime, and a
// target the found ROCm cannot build. Each skips with a reason where its compiler is missing.
#include "backends/gpu/gpu_backend.h"
#include "backends/toolchain.h"
#include "core/error.h"
#include "support.h"

#include <elf.h>

#include <fstream>
#include <iterator>
#include <optional>
#include <vector>

namespace kforge::testing {
namespace {

// The dynamic section's strings of a 64-bit ELF file for `tag` (DT_RUNPATH, DT_NEEDED): what `readelf -d` shows.
std::vector<std::string> dynamic_strings(const std::filesystem::path& file, int64_t tag) {
  std::ifstream in(file, std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (bytes.size() < sizeof(Elf64_Ehdr) || bytes.compare(0, SELFMAG, ELFMAG) != 0) return {};
  const auto* header = reinterpret_cast<const Elf64_Ehdr*>(bytes.data());
  const auto* sections = reinterpret_cast<const Elf64_Shdr*>(bytes.data() + header->e_shoff);
  std::vector<std::string> found;
  for (int i = 0; i < header->e_shnum; ++i) {
    if (sections[i].sh_type != SHT_DYNAMIC) continue;
    const char* strings = bytes.data() + sections[sections[i].sh_link].sh_offset;
    const auto* entry = reinterpret_cast<const Elf64_Dyn*>(bytes.data() + sections[i].sh_offset);
    for (; entry->d_tag != DT_NULL; ++entry)
      if (entry->d_tag == tag) found.emplace_back(strings + entry->d_un.d_val);
  }
  return found;
}

std::optional<std::filesystem::path> find_nvcc() {
  if (const char* set = std::getenv("NVCC"); set != nullptr && *set != '\0') return set;
  if (auto found = find_program("nvcc"); !found.empty()) return found;
  if (std::filesystem::exists("/usr/local/cuda/bin/nvcc")) return "/usr/local/cuda/bin/nvcc";
  return std::nullopt;
}

class GpuBuild : public ::testing::Test {
 protected:
  void SetUp() override { m_dir = fresh_test_dir("kforge-gpu-build"); }
  void TearDown() override { std::filesystem::remove_all(m_dir); }
  std::filesystem::path m_dir;
};

// Issue 14, 2.5: a kernel linking cuBLAS loads only where the loader finds libcublas; ld.so.cache lacks CUDA's
// folder on most machines with a toolkit under /usr/local/cuda or conda, so the kernel must name it.
TEST_F(GpuBuild, CublasBaselineNamesCudasLibraryFolderAsRunpath) {
  const auto nvcc = find_nvcc();
  if (!nvcc) KFORGE_SKIP("no nvcc on this machine (install the CUDA toolkit or set NVCC)");
  const auto source = source_dir() / "reference_kernels" / "matmul" / "cublas.cu";
  const CommandResult run =
      run_command({"env", "XDG_CACHE_HOME=" + m_dir.string(), "NVCC=" + nvcc->string(), KFORGE_TEST_BINARY, "compile",
                   "--backend", "cuda", "--arch", "sm_90", source.string()},
                  std::chrono::minutes(5));
  ASSERT_TRUE(run.status.success()) << run.output;
  std::vector<std::filesystem::path> artifacts;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(m_dir))
    if (entry.path().extension() == ".so") artifacts.push_back(entry.path());
  ASSERT_EQ(artifacts.size(), 1u) << run.output;

  const std::filesystem::path cuda_lib = cuda_library_dir(*nvcc);
  EXPECT_TRUE(std::filesystem::exists(cuda_lib / "libcublas.so")) << cuda_lib << " is where nvcc found cuBLAS";
  const auto runpath = dynamic_strings(artifacts.front(), DT_RUNPATH);
  ASSERT_EQ(runpath.size(), 1u) << "no RUNPATH in " << artifacts.front();
  EXPECT_EQ(runpath.front(), cuda_lib.string());
  EXPECT_TRUE(dynamic_strings(artifacts.front(), DT_RPATH).empty()) << "RUNPATH, so LD_LIBRARY_PATH still wins";
  bool links_cublas = false;
  for (const auto& needed : dynamic_strings(artifacts.front(), DT_NEEDED))
    links_cublas |= needed.rfind("libcublas.so", 0) == 0;
  EXPECT_TRUE(links_cublas);
}

// A kernel that links no CUDA library gets no RUNPATH: nothing of the toolkit's is loaded through it.
TEST_F(GpuBuild, PlainCudaKernelHasNoRunpath) {
  const auto nvcc = find_nvcc();
  if (!nvcc) KFORGE_SKIP("no nvcc on this machine (install the CUDA toolkit or set NVCC)");
  const auto backend = make_gpu_backend("cuda", "sm_90");
  const auto artifact = m_dir / "vector_add.so";
  const CompileResult built = backend->compile(source_dir() / "reference_kernels" / "vector_add" / "gpu.cu", artifact,
                                               backend->default_flags());
  ASSERT_TRUE(built.ok) << built.log;
  EXPECT_TRUE(dynamic_strings(artifact, DT_RUNPATH).empty());
}

// Issue 14, 2.1: Debian's hipcc (ROCm 5.2) cannot build for MI300X; the compile says which ROCm can, in one line,
// instead of a clang error.
TEST_F(GpuBuild, TargetTheFoundRocmCannotBuildIsRefusedNamingTheRocmNeeded) {
  const char* set = std::getenv("HIPCC");
  const std::filesystem::path hipcc =
      set != nullptr && *set != '\0' ? set : std::filesystem::path(KFORGE_HIPCC_FOR_TEST);
  if (hipcc.empty() || !std::filesystem::exists(hipcc)) KFORGE_SKIP("no hipcc on this machine (install ROCm)");
  const std::string rocm = rocm_version_of(hipcc);
  if (rocm.empty() || std::stoi(rocm) >= 6) KFORGE_SKIP("this ROCm (" + rocm + ") builds gfx942");
  const auto backend = make_gpu_backend("hip", "gfx942");
  try {
    (void)backend->compile(source_dir() / "reference_kernels" / "vector_add" / "gpu.cu", m_dir / "k.so",
                           backend->default_flags());
    FAIL() << "gfx942 compiled with ROCm " << rocm;
  } catch (const Error& error) {
    const std::string message = error.what();
    EXPECT_EQ(error.code(), ExitCode::environment);
    EXPECT_NE(message.find("gfx942 needs ROCm 6.0"), std::string::npos) << message;
    EXPECT_NE(message.find("ROCm " + rocm.substr(0, rocm.find('.', rocm.find('.') + 1))), std::string::npos) << message;
    EXPECT_EQ(message.find('\n'), std::string::npos) << message;
  }
}

// The HIP plugin links the runtime of the ROCm CMake found, by its soname (Debian's 5.2: libamdhip64.so.5).
TEST_F(GpuBuild, HipPluginLinksTheRuntimeOfTheRocmItWasBuiltWith) {
  const auto plugin = std::filesystem::path(KFORGE_TEST_BINARY).parent_path() / "kforge-hip.so";
  if (!std::filesystem::exists(plugin)) KFORGE_SKIP("this build has no HIP plugin (no ROCm at configure time)");
  const std::string rocm = rocm_version_of(KFORGE_HIPCC_FOR_TEST);
  if (rocm.empty()) KFORGE_SKIP("the configured hipcc does not say its ROCm release");
  const std::string expected = "libamdhip64.so." + rocm.substr(0, rocm.find('.'));
  std::vector<std::string> runtimes;
  for (const auto& needed : dynamic_strings(plugin, DT_NEEDED))
    if (needed.rfind("libamdhip64", 0) == 0) runtimes.push_back(needed);
  EXPECT_EQ(runtimes, std::vector<std::string>{expected}) << "ROCm " << rocm;
}

}  // namespace
}  // namespace kforge::testing
