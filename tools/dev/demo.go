package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/keymint-dev/terraform-provider-keymint/internal/keymint"
	"github.com/keymint-dev/terraform-provider-keymint/tools/clirun"
)

// The demo's license on the bundled server.
const (
	demoProduct  = "prod_demo_0123456789abcdef"
	demoLicense  = "lk_demo-ABCDE-FGHIJ-KLMNO-PQRST"
	demoCustomer = "Demo Builds Ltd <builds@demo.test>"
)

// cmdDemo runs examples/demo against the bundled KeyMint server: it builds
// the provider and the server, starts the server on a free loopback port
// with a 3-seat license, applies (three seats taken), shows the seats,
// destroys (three seats freed), shows them again and stops the server. It
// fails when any step does.
func cmdDemo(ctx context.Context, d *dev, _ []string) error {
	cliPath, err := pinnedCLI(ctx, d.root, d.cli)
	if err != nil {
		return err
	}
	work, err := os.MkdirTemp("", "keymint-demo.")
	if err != nil {
		return err
	}
	defer func() { _ = os.RemoveAll(work) }()

	heading("Building the provider and the local server")
	bin := filepath.Join(d.root, "bin")
	if _, err := clirun.BuildBinary(ctx, bin, "terraform-provider-keymint", "."); err != nil {
		return err
	}
	server, err := clirun.BuildBinary(ctx, bin, "keymint-local", "./cmd/keymint-local")
	if err != nil {
		return err
	}

	token := "at_demo_" + randomHex(16)
	heading("Starting keymint-local with a 3-seat license")
	srv, err := startServer(ctx, server, work,
		"-state", filepath.Join(work, "state.json"), "-token", token,
		"-product", demoProduct, "-customer", demoCustomer, "-license", demoLicense+"=3")
	if err != nil {
		return err
	}
	defer srv.stop()
	fmt.Println("listening on", srv.url)

	// Terraform and OpenTofu find the freshly built provider through
	// dev_overrides (clirun writes one entry for each CLI's default
	// registry): no registry, no `init`.
	dir := filepath.Join(work, "tf")
	if err := os.CopyFS(dir, os.DirFS(filepath.Join(d.root, "examples", "demo"))); err != nil {
		return err
	}
	ws, err := clirun.NewWorkspace(dir, cliPath, map[string]string{"keymint-dev/keymint": bin},
		keymint.EnvBaseURL+"="+srv.url, keymint.EnvAccessToken+"="+token,
		"TF_VAR_product_id="+demoProduct, "TF_VAR_license_key="+demoLicense)
	if err != nil {
		return err
	}
	ws.Output = os.Stdout
	name := filepath.Base(cliPath)

	heading("%s apply: activating three build agents", name)
	if _, err := ws.Run(ctx, "apply", "-auto-approve", "-input=false"); err != nil {
		return cliFailed(err)
	}
	heading("Seats held on the server")
	if err := srv.expectSeats(ctx, token, "3/3 seats in use"); err != nil {
		return err
	}
	heading("%s destroy: freeing the seats", name)
	if _, err := ws.Run(ctx, "destroy", "-auto-approve", "-input=false"); err != nil {
		return cliFailed(err)
	}
	heading("Seats held on the server")
	if err := srv.expectSeats(ctx, token, "0/3 seats in use"); err != nil {
		return err
	}
	heading("Done: three seats taken, and all three given back")
	return nil
}

// heading prints a step of the demo in bold.
func heading(format string, args ...any) {
	fmt.Printf("\n\033[1m== "+format+"\033[0m\n", args...)
}

// cliFailed reports a failed CLI run, whose output has been shown already.
func cliFailed(err error) error {
	var ee *clirun.ExitError
	if errors.As(err, &ee) {
		return fmt.Errorf("%s failed (exit code %d)", ee.Command, ee.ExitCode)
	}
	return err
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// localServer is a keymint-local process.
type localServer struct {
	bin  string
	url  string
	cmd  *exec.Cmd
	done chan struct{}
}

// startServer starts `keymint-local serve` on a free loopback port with
// args, its output going to work/server.log, and waits until it reports
// its address.
func startServer(ctx context.Context, bin, work string, args ...string) (*localServer, error) {
	logPath, addrFile := filepath.Join(work, "server.log"), filepath.Join(work, "addr")
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer func() { _ = logFile.Close() }()
	cmd := exec.Command(bin, append([]string{"serve", "-addr", "127.0.0.1:0", "-addr-file", addrFile}, args...)...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	detach(cmd)
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s := &localServer{bin: bin, cmd: cmd, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(s.done) }()
	failed := func(why string) (*localServer, error) {
		s.stop()
		serverLog, _ := os.ReadFile(logPath)
		return nil, fmt.Errorf("%s\n%s", why, serverLog)
	}
	for range 100 {
		if addr, err := os.ReadFile(addrFile); err == nil && len(addr) > 0 {
			s.url = strings.TrimSpace(string(addr))
			return s, nil
		}
		select {
		case <-s.done:
			return failed("keymint-local did not start")
		case <-ctx.Done():
			return failed(ctx.Err().Error())
		case <-time.After(100 * time.Millisecond):
		}
	}
	return failed("keymint-local did not report its address")
}

// stop stops the server and waits for it.
func (s *localServer) stop() {
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		_ = s.cmd.Process.Kill()
	}
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
}

// client runs a client command of keymint-local (seats, faults) against
// the server, printing and returning its output.
func (s *localServer) client(ctx context.Context, out io.Writer, command, token string) (string, error) {
	var buf bytes.Buffer
	cmd := exec.CommandContext(ctx, s.bin, command, "-url", s.url, "-token", token)
	cmd.Stdout, cmd.Stderr = io.MultiWriter(&buf, out), os.Stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("keymint-local %s: %w", command, err)
	}
	return buf.String(), nil
}

// expectSeats prints the seats the server holds and fails unless the
// listing contains want.
func (s *localServer) expectSeats(ctx context.Context, token, want string) error {
	seats, err := s.client(ctx, os.Stdout, "seats", token)
	if err != nil {
		return err
	}
	if !strings.Contains(seats, want) {
		return fmt.Errorf("expected %q in the seat listing", want)
	}
	return nil
}
