// The body of `kforge-runner`: loads one kernel and runs the cases of request.json (see runner_protocol.h).
#pragma once

namespace kforge {

int runner_main(int argc, char** argv);

}  // namespace kforge
