// The body of `kforge-runner`: loads one kernel and runs the cases of request.json (see runner_protocol.h); with
// --zygote, a zygote that forks runners (zygote.h).
#pragma once

namespace kforge {

int runner_main(int argc, char** argv);

// The cold runner's body, in its working directory with its descriptors in place (runner_main without --zygote,
// and each runner a zygote forks).
int runner_body(int argc, char** argv);
// The zygote (zygote_main.cpp).
int zygote_main(int argc, char** argv);
// Notes the code mappings of the process as it is now, before a zygote's warm-up: the runners it forks seal
// these, as a cold runner seals its own, and not what the warm-up loaded.
void record_own_code();

}  // namespace kforge
