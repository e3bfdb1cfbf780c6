// `kforge import`: its command-line group, in a file of its own (style: one command group per file).
#pragma once

#include "harness/cli.h"

namespace kforge {

// Registers `kforge import kernelbench|multikernelbench PATH --out DIR` and runs it when chosen.
CliExtension import_cli_extension();

}  // namespace kforge
