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
//     {"event":"dispatch","index":i,"ops":[...],"triton_launches":n}  what a Python kernel's call dispatched
//   and in mode "time" (see runner_timing.cpp), one kernel per runner: the candidate and the reference each get
//   their own, and the parent drives both through commands on fd 5, one JSON object per line, stopping (SIGSTOP)
//   the runner whose turn it is not, so that no code of one runs while the other is timed:
//     {"cmd":"warmup"}                   -> {"event":"warm","seconds_per_call":s}
//     {"cmd":"round","calls":n,"check_probability":p} ->
//     {"event":"round","samples_ns":[...],"checks":[{"slot":j,"variant":v}],
//                                            "calls":c,"tuned":t,"throttled_dropped":d}
//         every call starts from the same poisoned outputs and a set holding one of the input variants, both
//         restored outside the timed region; whether a call is checked is drawn after it returns, and its outputs
//         are copied to slot j at once; a round ends early when the slots are full (the parent empties them)
//     {"cmd":"final"}                    -> {"event":"final","rc":n,"dispatch":{...}}  the candidate's last call,
//                                            on the fresh set kept for it, checked (final slot), its operators recorded
//     {"cmd":"probe"}                    -> {"event":"gpu",...}  a GPU candidate's side-stream probe
//     {"cmd":"done"}                     -> {"event":"done"} and the runner ends
//   before the first command: {"event":"prepared","rotation":r}; a failed call: {"event":"end","rc":n,...}.
// A kernel runs in the runner's process and can write to fd 4 too. So the request carries a fresh "key" for
// each run, which the runner takes out of the request and off the disk before it loads any kernel, and puts
// into every event it writes: the parent takes only keyed events (and, before "ready", the runner's own), and
// any other line, or any line after "done", makes the kernel invalid (docs/exploits.md).
// Results never travel in events: the parent reads outputs from the shared memory itself.
#pragma once

namespace kforge::runner_protocol {

inline constexpr int k_tensor_fd = 3;
inline constexpr int k_event_fd = 4;
inline constexpr int k_command_fd = 5;  // mode "time": the parent's commands
inline constexpr const char* k_request_file = "request.json";
inline constexpr const char* k_artifact_file = "kernel.so";
// dlopen searches the library path for a name without a slash; the runner loads this one.
inline constexpr const char* k_artifact_path = "./kernel.so";

}  // namespace kforge::runner_protocol
