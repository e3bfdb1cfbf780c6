// The GPU compilers' plumbing that needs no GPU: where nvcc's libraries are, which ROCm a hipcc belongs to.
#include "backends/toolchain.h"

#include <gtest/gtest.h>

#include <fstream>
#include <random>

namespace kforge {
namespace {

std::filesystem::path scratch_dir(const std::string& name) {
  const auto dir =
      std::filesystem::temp_directory_path() / ("kforge-" + name + "-" + std::to_string(std::random_device{}()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

void write(const std::filesystem::path& file, const std::string& text) {
  std::filesystem::create_directories(file.parent_path());
  std::ofstream(file) << text;
}

TEST(CudaToolchain, LibraryFolderIsTheLastNonStubsFolderNvccLinksAgainst) {
  // What CUDA 13's nvcc --dryrun prints (abridged).
  const std::string dryrun =
      "#$ _NVVM_BRANCH_=nvvm\n"
      "#$ _TARGET_DIR_=targets/x86_64-linux\n"
      "#$ TOP=/usr/local/cuda/bin/..\n"
      "#$ LIBRARIES=  \"-L/usr/local/cuda/bin/../targets/x86_64-linux/lib/stubs\" "
      "\"-L/usr/local/cuda/bin/../targets/x86_64-linux/lib\"\n"
      "#$ cicc --c++17 ...\n";
  EXPECT_EQ(cuda_library_dir_from_dryrun(dryrun), "/usr/local/cuda/targets/x86_64-linux/lib");
  // A conda toolkit: lib, no targets/ folder, no quotes.
  EXPECT_EQ(cuda_library_dir_from_dryrun("#$ LIBRARIES=  -L/opt/conda/bin/../lib/stubs -L/opt/conda/bin/../lib/\n"),
            "/opt/conda/lib");
  EXPECT_EQ(cuda_library_dir_from_dryrun("#$ LIBRARIES= \"-L/cuda/lib64\" \"-L/cuda/lib64/stubs\"\n"), "/cuda/lib64")
      << "the stubs (link-time placeholders) are never a RUNPATH, wherever they come";
  EXPECT_EQ(cuda_library_dir_from_dryrun("nvcc fatal : Unknown option '--dryrun'\n"), "");
}

TEST(RocmToolchain, ReleaseComesFromTheHipccsOwnRocmFolder) {
  const auto amd = scratch_dir("rocm-amd");
  write(amd / "bin" / "hipcc", "#!/bin/sh\n");
  write(amd / ".info" / "version", "6.2.1-79\n");
  write(amd / "include" / "hip" / "hip_version.h", "#define HIP_VERSION_MAJOR 6\n#define HIP_VERSION_MINOR 1\n");
  EXPECT_EQ(rocm_version_of(amd / "bin" / "hipcc"), "6.2.1") << "AMD's .info/version wins over HIP's header";

  const auto debian = scratch_dir("rocm-debian");
  write(debian / "bin" / "hipcc", "#!/bin/sh\n");
  write(debian / "include" / "hip" / "hip_version.h",
        "#ifndef HIP_VERSION_H\n#define HIP_VERSION_MAJOR 5\n#define HIP_VERSION_MINOR 2\n"
        "#define HIP_VERSION_PATCH 21153\n#endif\n");
  EXPECT_EQ(rocm_version_of(debian / "bin" / "hipcc"), "5.2");

  // /usr/bin/hipcc -> /opt/rocm-6.3.0/bin/hipcc: the folder of the real file, not of the link.
  const auto links = scratch_dir("rocm-link");
  std::filesystem::create_directories(links / "usr" / "bin");
  std::filesystem::create_symlink(amd / "bin" / "hipcc", links / "usr" / "bin" / "hipcc");
  EXPECT_EQ(rocm_version_of(links / "usr" / "bin" / "hipcc"), "6.2.1");

  EXPECT_EQ(rocm_version_of(links / "nowhere" / "bin" / "hipcc"), "");
  for (const auto& dir : {amd, debian, links}) std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace kforge
