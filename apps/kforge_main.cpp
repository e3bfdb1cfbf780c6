#include "agent/cli.h"
#include "harness/cli.h"

int main(int argc, char** argv) { return kforge::run_cli(argc, argv, {kforge::agent::cli_extension()}); }
