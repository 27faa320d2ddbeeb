//go:build !linux

package reliability

import "syscall"

// childSysProcAttr has no parent-death signal outside Linux: the harness's own cleanup kills
// its children.
func childSysProcAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{} }
