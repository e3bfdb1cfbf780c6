// The `kforge` command line. apps/kforge_main.cpp only calls this.
#pragma once

namespace kforge::cli {

// Runs the command line; returns the process exit code (0 ok, 1 a kernel failed, 2 usage, 3 environment).
int run(int argc, char** argv);

}  // namespace kforge::cli
