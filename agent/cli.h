// The agent's commands on the kforge command line: `evolve`, `sessions list|show`, `agent prompt`.
#pragma once

#include "harness/cli.h"

namespace kforge::agent {

CliExtension cli_extension();

}  // namespace kforge::agent
