// The contract between the parent (ProcessExecutor) and `kforge-runner`.
//
// The parent writes `request.json` into the runner's working directory and starts the runner with:
//   fd 3: a memfd holding every tensor of every case (offsets in the request);
//   fd 4: the write end of a pipe for events, one JSON object per line:
//     {"event":"ready"}  the request is read; no kernel is loaded before this
//     {"event":"loaded"}  {"event":"abi_error","detail":...}
//     {"event":"forbidden","detail":...}  the kernel defines what it must not (a function the runner times with)
//     {"event":"start","index":i}  {"event":"end","index":i,"rc":n}  {"event":"done"}
//     {"event":"error","detail":...}  the runner cannot work before any kernel is loaded (a bad request, no
//                                     device): the environment's fault or a harness bug
//     {"event":"fault","detail":...}  the runner cannot go on after a kernel was loaded: the kernel's fault
//   and in mode "time" (see time_kernels in runner.cpp):
//     {"event":"check","slot":j,"fresh":k,"rc":n}  a fresh-input call whose outputs are now in slot j; of the
//         fresh sets, the last is the final call's and the one before it the bench inputs' near-twin
//     {"event":"samples","role":"candidate"|"reference","samples_ns":[...],"rotation":r}
//     {"event":"stopped","reason":...,"iterations":n}
// A kernel runs in the runner's process and can write to fd 4 too. So the request carries a fresh "key" for
// each run, which the runner takes out of the request and off the disk before it loads any kernel, and puts
// into every event it writes: the parent takes only keyed events (and, before "ready", the runner's own), and
// any other line, or any line after "done", makes the kernel invalid (docs/exploits.md).
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
