// The contract between the parent (ProcessExecutor) and `kforge-runner`.
//
// The parent writes `request.json` into the runner's working directory and starts the runner with:
//   fd 3: a memfd holding every tensor of every case (offsets in the request);
//   fd 4: the write end of a pipe for events, one JSON object per line:
//     {"event":"loaded"}  {"event":"abi_error","detail":...}
//     {"event":"start","index":i}  {"event":"end","index":i,"rc":n}  {"event":"done"}
//     {"event":"error","detail":...}  (the request itself was unusable: a harness bug)
//   and in mode "time" (see time_kernels in runner.cpp):
//     {"event":"check","slot":j,"fresh":k,"rc":n}  a fresh-input call whose outputs are now in slot j
//     {"event":"samples","role":"candidate"|"reference","samples_ns":[...],"rotation":r}
//     {"event":"stopped","reason":...,"iterations":n}
// Results never travel in events: the parent reads outputs from the shared memory itself.
#pragma once

namespace kforge::runner_protocol {

inline constexpr int k_tensor_fd = 3;
inline constexpr int k_event_fd = 4;
inline constexpr const char* k_request_file = "request.json";
inline constexpr const char* k_artifact_file = "kernel.so";
// dlopen searches the library path for a name without a slash; the runner loads this one.
inline constexpr const char* k_artifact_path = "./kernel.so";
inline constexpr const char* k_reference_file = "reference.so";
inline constexpr const char* k_reference_path = "./reference.so";

}  // namespace kforge::runner_protocol
