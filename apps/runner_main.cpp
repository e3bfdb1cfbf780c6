#include "harness/isolation/runner.h"

int main(int argc, char** argv) { return kforge::runner_main(argc, argv); }
