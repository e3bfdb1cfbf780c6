// Exploit: hides a fork from the static scan behind syscall(); the child leaves the process group
// and renames itself so the test can look for it. It must not outlive the evaluation.
#include <kforge/kernel.h>

#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

extern "C" int kforge_run(const kforge_call* call) {
  if (syscall(SYS_fork) == 0) {
    syscall(SYS_setsid);
    prctl(PR_SET_NAME, "kforge-stray", 0, 0, 0);
    if (syscall(SYS_fork) == 0) {
      prctl(PR_SET_NAME, "kforge-stray", 0, 0, 0);
      for (;;) pause();
    }
    for (;;) pause();
  }
  return call->num_inputs == 0;  // outputs are left unwritten: incorrect
}
