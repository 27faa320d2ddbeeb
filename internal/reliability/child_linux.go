package reliability

import "syscall"

// childSysProcAttr makes the kernel kill the child if the harness dies first (a failed test
// that panics, a harness killed by CI's timeout), so no pipeline is left polling.
func childSysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
