#include "cli/cli.h"

int main(int argc, char** argv) { return kforge::cli::run(argc, argv); }
