// Exploit: fingerprints its inputs and returns at once when an output buffer already holds the result for
// the same fingerprint. Every checked answer is right, but repeated timed calls do no work: its time is
// below what memory bandwidth allows.
#include <kforge/kernel.h>

#include <cstring>
#include <map>

static uint64_t fingerprint(const float* x, int64_t n) {
  uint64_t hash = static_cast<uint64_t>(n);
  for (int64_t i = 0; i < n; i += 1 + n / 64) {
    uint32_t bits;
    std::memcpy(&bits, &x[i], sizeof bits);
    hash = (hash ^ bits) * 0x100000001b3ull;
  }
  return hash;
}

extern "C" int kforge_run(const kforge_call* call) {
  static std::map<const void*, uint64_t> done;  // output buffer -> fingerprint of the inputs it holds
  const float* a = static_cast<const float*>(call->inputs[0].data);
  const float* b = static_cast<const float*>(call->inputs[1].data);
  float* c = static_cast<float*>(call->outputs[0].data);
  const int64_t n = kforge_numel(&call->outputs[0]);
  const uint64_t print = fingerprint(a, n) ^ (fingerprint(b, n) << 1);
  auto it = done.find(c);
  if (it != done.end() && it->second == print) return 0;
  for (int64_t i = 0; i < n; ++i) c[i] = a[i] + b[i];
  done[c] = print;
  return 0;
}
