//go:build unix && !linux

package main

import (
	"os/exec"
	"syscall"
)

// detach puts a server the commands start in a process group of its own, so
// that a Ctrl-C in the terminal reaches the CLI and the commands but not the
// server the CLI is still talking to (the command stops it last).
func detach(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
}
