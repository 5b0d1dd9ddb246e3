//go:build unix

package clirun

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestSignalGroup(t *testing.T) {
	ws := shWorkspace(t)
	p, err := ws.Start(t.Context(), "-c", `sleep 30 & echo "child=$!"; wait`)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := p.WaitForOutput(ctx, "\n"); err != nil {
		t.Fatal(err)
	}
	var child int
	if _, err := fmt.Sscanf(p.Stdout(), "child=%d", &child); err != nil {
		t.Fatalf("stdout %q: %v", p.Stdout(), err)
	}
	if err := p.SignalGroup(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Wait(); err == nil {
		t.Error("the CLI survived SIGTERM")
	}
	// The background child got the signal too (it is not the CLI's to reap).
	for deadline := time.Now().Add(5 * time.Second); ; {
		if err := syscall.Kill(child, 0); errors.Is(err, syscall.ESRCH) {
			break
		}
		if stat, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", child)); strings.Contains(string(stat), ") Z ") {
			break // a zombie waiting for init
		}
		if time.Now().After(deadline) {
			t.Fatalf("process %d of the group is still running", child)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
