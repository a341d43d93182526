//go:build linux

// Package lifetime is the run lifetime of a ccci applet and its one teardown
// funnel: every way a run can end early goes through one place, and a command
// started with Run is ended as a whole tree before the caller goes on to
// release its lock.
//
// Guarantees (docs/lifetime.md says which hold in which mode):
//
//   - SIGTERM, SIGINT, SIGHUP, the deadline, the death of the parent
//     (PR_SET_PDEATHSIG with the ppid race check) and the cancellation of the
//     parent context all enter the same funnel: Context is cancelled and
//     Status says why (128+N, or 124 for the deadline). A further signal
//     during teardown is logged and ignored (TestScript/second_term).
//   - Run starts the command in a new PID namespace whose PID 1 is the tiny
//     C init (tinyinit/init.c, linux/amd64) or ccci itself (InitMain): the
//     two behave alike (TestTinyInitLikeGoInit, TestScriptGoInit). When the command exits, whatever it left running is
//     ended: SIGTERM, Grace, SIGKILL (TestScript/leftover). On the funnel
//     the whole tree gets SIGTERM, then after Grace SIGKILL, and Run returns
//     only once the init is reaped: then no process of the run exists
//     (TestScript/term, TestScript/deadline, TestScript/parent_death).
//   - If ccci itself is SIGKILLed, the kernel kills its init (Pdeathsig
//     SIGKILL) and with it every process of the namespace, setsid'd
//     grandchildren included (TestScript/sigkill).
//   - Where the kernel refuses a PID namespace, a process group under a
//     subreaper init is the fallback, and Run says so once on stderr
//     (TestScript/fallback_*).
//
// Linux only, as ccci is: every file is built for linux alone, so that
// building ccci for another system stops here with "build constraints
// exclude all Go files", not deep inside on a missing prctl.
package lifetime
