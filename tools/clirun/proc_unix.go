//go:build unix

package clirun

import (
	"os"
	"os/exec"
	"runtime"
	"syscall"
)

// setProcessGroup makes the CLI the leader of a new process group, which
// the providers it starts join.
func setProcessGroup(cmd *exec.Cmd) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setpgid = true
}

// killProcessGroup kills what is left of the process group led by pid.
func killProcessGroup(pid int) {
	if pid > 0 && pid != os.Getpid() {
		_ = syscall.Kill(-pid, syscall.SIGKILL)
	}
}

// signalGroup sends sig to the process group led by proc.
func signalGroup(proc *os.Process, sig os.Signal) error {
	s, ok := sig.(syscall.Signal)
	if !ok {
		return proc.Signal(sig)
	}
	return syscall.Kill(-proc.Pid, s)
}

// maxRSS returns the peak resident set size of a finished process (and of
// the children it waited for), in bytes.
func maxRSS(ps *os.ProcessState) int64 {
	ru, ok := ps.SysUsage().(*syscall.Rusage)
	if !ok {
		return 0
	}
	rss := int64(ru.Maxrss) //nolint:unconvert // Maxrss is an int32 on some platforms
	if runtime.GOOS == "darwin" || runtime.GOOS == "ios" {
		return rss // in bytes there
	}
	return rss * 1024 // in kilobytes elsewhere
}
