// The `kforge` command line (spec section 10). main() only calls this.
#pragma once

namespace kforge {

// Runs the command line; returns the process exit code (0 ok, 1 a kernel failed, 2 usage, 3 environment).
int run_cli(int argc, char** argv);

}  // namespace kforge
