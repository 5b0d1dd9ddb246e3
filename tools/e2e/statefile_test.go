//go:build unix

package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/keymint-dev/terraform-provider-keymint/internal/keymint"
	"github.com/keymint-dev/terraform-provider-keymint/internal/localserver"
	"github.com/keymint-dev/terraform-provider-keymint/tools/clirun"
)

// TestServerStateSurvivesKill: keymint-local killed with SIGKILL while it
// writes its state file leaves a file that loads, holding every activation
// it had acknowledged.
func TestServerStateSurvivesKill(t *testing.T) {
	dir := t.TempDir()
	bin, err := clirun.BuildBinary(t.Context(), dir, "keymint-local", "./cmd/keymint-local")
	if err != nil {
		t.Fatal(err)
	}
	token, product, key := "at_kill_"+randomHex(8), "prod_kill_"+randomHex(8), "LK-KILL-"+strings.ToUpper(randomHex(10))
	state, addrFile := filepath.Join(dir, "state.json"), filepath.Join(dir, "addr")
	cmd := exec.Command(bin, "serve", "-addr", "127.0.0.1:0", "-addr-file", addrFile, "-state", state,
		"-token", token, "-product", product, "-license", key+"=unlimited")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	var baseURL string
	for deadline := time.Now().Add(10 * time.Second); baseURL == "" && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if b, err := os.ReadFile(addrFile); err == nil {
			baseURL = strings.TrimSpace(string(b))
		}
	}
	if baseURL == "" {
		t.Fatal("the server did not start")
	}
	c, err := keymint.New(keymint.Config{BaseURL: baseURL, AccessToken: token, MaxRetries: new(int)})
	if err != nil {
		t.Fatal(err)
	}

	var mu sync.Mutex
	var acked []string
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := 0; ctx.Err() == nil; i++ {
				host := fmt.Sprintf("w%d-%05d", w, i)
				if _, err := c.Activate(ctx, keymint.ActivateInput{ProductID: product, LicenseKey: key, HostID: host}); err != nil {
					return // the server is gone
				}
				mu.Lock()
				acked = append(acked, host)
				mu.Unlock()
			}
		})
	}
	time.Sleep(500 * time.Millisecond)
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	cancel()
	wg.Wait()
	if len(acked) == 0 {
		t.Fatal("no activation was acknowledged before the kill; nothing was tested")
	}

	srv, err := localserver.New(localserver.Options{StateFile: state})
	if err != nil {
		t.Fatalf("the state file left by the kill does not load: %v", err)
	}
	defer func() {
		if err := srv.Close(); err != nil {
			t.Error(err)
		}
	}()
	devs, err := srv.Devices(product, key)
	if err != nil {
		t.Fatal(err)
	}
	held := make(map[string]bool, len(devs))
	for _, d := range devs {
		held[d.HostID] = true
	}
	for _, h := range acked {
		if !held[h] {
			t.Errorf("activation of %s was acknowledged but is not in the state file", h)
		}
	}
	t.Logf("killed after %d acknowledged activations; the state file holds %d", len(acked), len(devs))
}
