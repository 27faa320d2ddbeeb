// Package reliability drives the mimecast-connect binary from outside, as an operator would, to
// measure what survives: a crash test (SIGKILL at random moments, restart, count what was lost or
// repeated) and a soak (a long run under injected faults, sampling memory and goroutines). The
// simulated tenant runs inside the harness process so that it outlives every pipeline restart.
package reliability

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"time"
)

// Child is one run of the binary. Its stdout and stderr go to files (or to the given stdout
// writer); Kill and Stop always reap it, so no process outlives the harness's cleanup.
type Child struct {
	cmd  *exec.Cmd
	done chan struct{}
	err  error // valid once done is closed
}

// ChildSpec says how to start the binary.
type ChildSpec struct {
	Binary string
	Args   []string
	Env    map[string]string // added to the harness's environment
	Stderr string            // file the child's stderr (its log) is appended to
	Stdout *os.File          // nil: stdout goes to Stderr's file as well
}

// StartChild starts the binary.
func StartChild(spec ChildSpec) (*Child, error) {
	logFile, err := os.OpenFile(spec.Stderr, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening child log: %w", err)
	}
	cmd := exec.Command(spec.Binary, spec.Args...)
	cmd.Env = os.Environ()
	for k, v := range spec.Env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.Stderr = logFile
	cmd.Stdout = logFile
	if spec.Stdout != nil {
		cmd.Stdout = spec.Stdout
	}
	cmd.SysProcAttr = childSysProcAttr()
	if err := cmd.Start(); err != nil {
		_ = logFile.Close()
		return nil, fmt.Errorf("starting %s: %w", spec.Binary, err)
	}
	c := &Child{cmd: cmd, done: make(chan struct{})}
	go func() {
		c.err = cmd.Wait()
		_ = logFile.Close()
		close(c.done)
	}()
	return c, nil
}

// Pid is the child's process id.
func (c *Child) Pid() int { return c.cmd.Process.Pid }

// Done is closed once the child has exited and been reaped.
func (c *Child) Done() <-chan struct{} { return c.done }

// ExitErr is how the child ended; valid once Done is closed.
func (c *Child) ExitErr() error { return c.err }

// Kill sends SIGKILL and waits for the child to be reaped: the crash under test.
func (c *Child) Kill() {
	select {
	case <-c.done:
		return
	default:
	}
	_ = c.cmd.Process.Signal(syscall.SIGKILL)
	<-c.done
}

// Stop asks the child to shut down (SIGTERM) and kills it if it has not exited within grace.
// It reports whether the child stopped on its own.
func (c *Child) Stop(grace time.Duration) (bool, error) {
	select {
	case <-c.done:
		return true, c.exitError()
	default:
	}
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-c.done:
		return true, c.exitError()
	case <-t.C:
		c.Kill()
		return false, fmt.Errorf("did not stop within %v of SIGTERM: killed", grace)
	}
}

// exitError is the child's exit error, except the ones a SIGTERM-ed process reports on its own.
func (c *Child) exitError() error {
	var exit *exec.ExitError
	if errors.As(c.err, &exit) && exit.ExitCode() == 0 {
		return nil
	}
	return c.err
}
