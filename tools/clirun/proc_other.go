//go:build !unix

package clirun

import (
	"os"
	"os/exec"
)

func setProcessGroup(*exec.Cmd) {}

func killProcessGroup(int) {}

func maxRSS(*os.ProcessState) int64 { return 0 }

func signalGroup(proc *os.Process, sig os.Signal) error { return proc.Signal(sig) }
