#include "harness/isolation/lockdown.h"

#if defined(KFORGE_WITH_SECCOMP)
#include <seccomp.h>
#include <unistd.h>

#include <sched.h>
#include <cerrno>
#include <csignal>
#include <cstring>
#endif

namespace kforge {

std::string lock_down_runner(bool spawns) {
#if !defined(KFORGE_WITH_SECCOMP)
  (void)spawns;
  return "this kforge was built without libseccomp";
#else
  scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
  if (ctx == nullptr) return "seccomp_init failed";
  // Every thread, not only the caller: a GPU runner opens the device before the kernel is loaded, and the
  // driver's threads started then would otherwise run unfiltered, there for a kernel to borrow. Without
  // TSYNC the filter is not installed at all: half a filter would look like a whole one.
  if (const int tsync = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1); tsync != 0) {
    seccomp_release(ctx);
    return std::string("seccomp cannot filter every thread of the runner (TSYNC): ") + std::strerror(-tsync);
  }
  int rc = 0;
  auto deny = [&](int syscall, int error = EPERM) {
    if (rc == 0) rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(static_cast<uint32_t>(error)), syscall, 0);
  };
  for (int syscall : {SCMP_SYS(socket),
                      SCMP_SYS(socketpair),
                      SCMP_SYS(connect),
                      SCMP_SYS(bind),
                      SCMP_SYS(listen),
                      SCMP_SYS(accept),
                      SCMP_SYS(accept4),
                      SCMP_SYS(ptrace),
                      SCMP_SYS(process_vm_readv),
                      SCMP_SYS(process_vm_writev),
                      SCMP_SYS(mount),
                      SCMP_SYS(umount2),
                      SCMP_SYS(pivot_root),
                      SCMP_SYS(chroot),
                      SCMP_SYS(unshare),
                      SCMP_SYS(setns),
                      SCMP_SYS(reboot),
                      SCMP_SYS(kexec_load),
                      SCMP_SYS(init_module),
                      SCMP_SYS(finit_module),
                      SCMP_SYS(delete_module),
                      SCMP_SYS(bpf),
                      SCMP_SYS(perf_event_open),
                      SCMP_SYS(open_by_handle_at),
                      SCMP_SYS(setsid),
                      SCMP_SYS(setpgid)})
    deny(syscall);
  if (!spawns) {
    for (int syscall : {SCMP_SYS(fork), SCMP_SYS(vfork), SCMP_SYS(execve), SCMP_SYS(execveat)}) deny(syscall);
    // clone3 cannot be filtered by its flags (they are behind a pointer): refuse it as unknown, and glibc
    // falls back to clone, whose flags can be checked: threads (CLONE_THREAD) yes, processes no.
    deny(SCMP_SYS(clone3), ENOSYS);
    if (rc == 0)
      rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(clone), 1,
                            SCMP_A0(SCMP_CMP_MASKED_EQ, static_cast<scmp_datum_t>(CLONE_THREAD), 0));
  }
  // Signals only to itself: kill(getppid(), ...) or kill(0, ...) would reach the harness or its group.
  const auto self = static_cast<scmp_datum_t>(getpid());
  if (rc == 0) rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(kill), 1, SCMP_A0(SCMP_CMP_NE, self));
  if (rc == 0) rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(tgkill), 1, SCMP_A0(SCMP_CMP_NE, self));
  if (rc == 0) rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(tkill), 0);
  if (rc != 0) {
    seccomp_release(ctx);
    return std::string("seccomp refused a rule of the filter: ") + std::strerror(-rc);
  }
  rc = seccomp_load(ctx);
  seccomp_release(ctx);
  // ESRCH: a thread could not take the filter (one already holds another), so no thread got it.
  return rc == 0 ? std::string()
                 : std::string("Linux refused the seccomp filter for every thread (TSYNC): ") + std::strerror(-rc);
#endif
}

}  // namespace kforge
