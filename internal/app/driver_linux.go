package app

import "syscall"

// abraProcAttr starts abra in its own process group (so a cancel ends all
// of it) that the kernel SIGKILLs should ccci die first: Pdeathsig is
// Linux's PR_SET_PDEATHSIG (ccci builds for Linux only).
func abraProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
