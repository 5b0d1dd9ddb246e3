package clirun

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// cliPath returns the CLI the tests drive, or skips the test.
func cliPath(t *testing.T) string {
	t.Helper()
	p := os.Getenv("TF_ACC_TERRAFORM_PATH")
	if p == "" {
		t.Skip("TF_ACC_TERRAFORM_PATH is not set (make test sets it to the pinned Terraform)")
	}
	return p
}

func envValue(env []string, name string) (string, int) {
	var value string
	n := 0
	for _, kv := range env {
		if k, v, _ := strings.Cut(kv, "="); k == name {
			value = v
			n++
		}
	}
	return value, n
}

func TestModuleRoot(t *testing.T) {
	root, err := ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Errorf("ModuleRoot() = %s, which has no go.mod", root)
	}
	if _, err := os.Stat(filepath.Join(root, "tools", "clirun")); err != nil {
		t.Errorf("ModuleRoot() = %s, which is not this module's root", root)
	}
}

func TestBuildBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a binary")
	}
	dir := t.TempDir()
	bin, err := BuildBinary(t.Context(), dir, "hello", "./tools/clirun/testdata/hello")
	if err != nil {
		t.Fatal(err)
	}
	if !filepath.IsAbs(bin) || filepath.Dir(bin) != dir {
		t.Errorf("BuildBinary returned %s, want an absolute path in %s", bin, dir)
	}
	out, err := exec.Command(bin).Output()
	if err != nil || strings.TrimSpace(string(out)) != "hello from clirun" {
		t.Errorf("running the binary: %q, %v", out, err)
	}

	bin, err = BuildBinary(t.Context(), dir, "hello-flags", "./tools/clirun/testdata/hello", "-ldflags=-X main.greeting=set-at-build")
	if err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(bin).Output(); err != nil || strings.TrimSpace(string(out)) != "set-at-build" {
		t.Errorf("running the binary built with -ldflags: %q, %v; want the value set at build time", out, err)
	}

	_, err = BuildBinary(t.Context(), dir, "nothing", "./tools/clirun/testdata/does-not-exist")
	if err == nil || !strings.Contains(err.Error(), "does-not-exist") {
		t.Errorf("building a missing package: %v, want an error naming it", err)
	}
}

func TestNewWorkspace(t *testing.T) {
	t.Setenv("TF_CLI_CONFIG_FILE", "/inherited/config.tfrc")
	t.Setenv("CLIRUN_TEST_INHERITED", "yes")
	dir := filepath.Join(t.TempDir(), "ws")
	binDir := t.TempDir()
	ws, err := NewWorkspace(dir, "/path/to/terraform", map[string]string{
		"keymint-dev/keymint":                 binDir,
		"registry.example.com/acme/widget":    "/opt/widget",
		"registry.terraform.io/acme/escape${": "/opt/$${x}",
	}, "KEYMINT_BASE_URL=http://127.0.0.1:1", "TF_IN_AUTOMATION=")
	if err != nil {
		t.Fatal(err)
	}
	if ws.Dir != dir || ws.CLI != "/path/to/terraform" || ws.ConfigFile != filepath.Join(dir, ConfigFileName) {
		t.Errorf("workspace = %+v", ws)
	}
	data, err := os.ReadFile(ws.ConfigFile)
	if err != nil {
		t.Fatal(err)
	}
	config := string(data)
	for _, want := range []string{
		"provider_installation {",
		"dev_overrides {",
		`"registry.terraform.io/keymint-dev/keymint" = "` + binDir + `"`,
		`"registry.opentofu.org/keymint-dev/keymint" = "` + binDir + `"`,
		`"registry.example.com/acme/widget" = "/opt/widget"`,
		`"registry.terraform.io/acme/escape$${" = "/opt/$$${x}"`,
		"direct {}",
	} {
		if !strings.Contains(config, want) {
			t.Errorf("config lacks %q:\n%s", want, config)
		}
	}
	if strings.Contains(config, "registry.opentofu.org/acme/widget") {
		t.Errorf("a full address was expanded to another host:\n%s", config)
	}

	for name, want := range map[string]string{
		"TF_CLI_CONFIG_FILE":    ws.ConfigFile,
		"CHECKPOINT_DISABLE":    "1",
		"TF_IN_AUTOMATION":      "", // the caller's entry wins
		"KEYMINT_BASE_URL":      "http://127.0.0.1:1",
		"CLIRUN_TEST_INHERITED": "yes",
	} {
		if got, n := envValue(ws.Env, name); n != 1 || got != want {
			t.Errorf("env %s = %q (%d entries), want %q once", name, got, n, want)
		}
	}

	ws.Setenv("A_VAR=1", "TF_LOG=trace", "TF_LOG_PROVIDER=off")
	ws.Unsetenv("TF_LOG*", "CLIRUN_TEST_INHERITED")
	if _, n := envValue(ws.Env, "A_VAR"); n != 1 {
		t.Error("Setenv did not set A_VAR")
	}
	for _, name := range []string{"TF_LOG", "TF_LOG_PROVIDER", "CLIRUN_TEST_INHERITED"} {
		if _, n := envValue(ws.Env, name); n != 0 {
			t.Errorf("Unsetenv left %s", name)
		}
	}

	if err := ws.WriteFile("sub/main.tf", "# x\n"); err != nil {
		t.Fatal(err)
	}
	if data, err := os.ReadFile(filepath.Join(dir, "sub", "main.tf")); err != nil || string(data) != "# x\n" {
		t.Errorf("WriteFile: %q, %v", data, err)
	}

	if _, err := NewWorkspace(t.TempDir(), "tf", map[string]string{"bad": "/x"}); err == nil {
		t.Error("NewWorkspace accepted a source address without an owner")
	}
	if _, err := NewWorkspace(t.TempDir(), "tf", nil, "NOEQUALS"); err == nil {
		t.Error("NewWorkspace accepted an environment entry without =")
	}
}

// shWorkspace returns a workspace whose "CLI" is /bin/sh, to test process
// handling without Terraform.
func shWorkspace(t *testing.T) *Workspace {
	t.Helper()
	if runtime.GOOS == "windows" {
		t.Skip("needs /bin/sh")
	}
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("needs sh")
	}
	ws, err := NewWorkspace(t.TempDir(), sh, nil, "CLIRUN_GREETING=hi")
	if err != nil {
		t.Fatal(err)
	}
	return ws
}

func TestRunResultAndError(t *testing.T) {
	ws := shWorkspace(t)
	res, err := ws.Run(t.Context(), "-c", `echo "$CLIRUN_GREETING $TF_IN_AUTOMATION"; pwd`)
	if err != nil {
		t.Fatal(err)
	}
	if want := "hi 1\n" + ws.Dir + "\n"; res.Stdout != want || res.ExitCode != 0 || res.Duration <= 0 {
		t.Errorf("result = %+v, want stdout %q", res, want)
	}

	res, err = ws.Run(t.Context(), "-c", "echo some output; printf 'line 1\\n\\033[31mError: it broke\\033[0m\\n' >&2; exit 3")
	var ee *ExitError
	if !errors.As(err, &ee) {
		t.Fatalf("error = %v, want an *ExitError", err)
	}
	if code, ok := ExitCode(err); !ok || code != 3 || res.ExitCode != 3 || ee.ExitCode != 3 {
		t.Errorf("exit code: ExitCode(err) = %d, %v; result %d; error %d", code, ok, res.ExitCode, ee.ExitCode)
	}
	msg := err.Error()
	for _, want := range []string{"sh -c", "exit code 3", "Error: it broke", ws.Dir} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q:\n%s", want, msg)
		}
	}
	if strings.Contains(msg, "\x1b[") {
		t.Errorf("error keeps colour codes: %q", msg)
	}
	if res.Stdout != "some output\n" {
		t.Errorf("stdout of a failed run = %q", res.Stdout)
	}
}

func TestStartInterruptAndCancel(t *testing.T) {
	ws := shWorkspace(t)
	p, err := ws.Start(t.Context(), "-c", `trap 'echo interrupted; exit 130' INT; echo ready; while :; do sleep 0.05; done`)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := p.WaitForOutput(ctx, "ready"); err != nil {
		t.Fatal(err)
	}
	if err := p.Interrupt(); err != nil {
		t.Fatal(err)
	}
	res, err := p.Wait()
	if code, _ := ExitCode(err); code != 130 || !strings.Contains(res.Stdout, "interrupted") {
		t.Errorf("after SIGINT: exit %d, stdout %q, err %v", code, res.Stdout, err)
	}

	// A cancelled context interrupts the CLI, then kills it after KillDelay.
	ws.KillDelay = 200 * time.Millisecond
	ctx, cancel = context.WithCancel(t.Context())
	p, err = ws.Start(ctx, "-c", `trap '' INT; echo stubborn; while :; do sleep 0.05; done`)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.WaitForOutput(t.Context(), "stubborn"); err != nil {
		t.Fatal(err)
	}
	cancel()
	select {
	case <-p.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the CLI was not killed after its context ended")
	}
	if _, err := p.Wait(); !errors.Is(err, context.Canceled) {
		t.Errorf("error after cancel = %v, want context.Canceled", err)
	}
}

func TestTerraformVersion(t *testing.T) {
	ws, err := NewWorkspace(t.TempDir(), cliPath(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := ws.Run(t.Context(), "version")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(res.Stdout, "Terraform v") && !strings.HasPrefix(res.Stdout, "OpenTofu v") {
		t.Errorf("version output = %q", res.Stdout)
	}
	if strings.Contains(res.Stderr, "Warning") {
		t.Errorf("version warns: %s", res.Stderr)
	}
}

func TestTerraformApplyPlanDestroy(t *testing.T) {
	ws, err := NewWorkspace(t.TempDir(), cliPath(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	err = ws.WriteFile("main.tf", `
resource "terraform_data" "thing" {
  for_each = toset(["a", "b"])
  input    = "value-${each.key}"
}

output "things" {
  value = join(",", [for k, v in terraform_data.thing : v.output])
}
`)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	res, err := ws.Run(ctx, "apply", "-auto-approve", "-input=false", "-no-color")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(res.Stdout, "2 added") || res.CPU() <= 0 {
		t.Errorf("apply: %+v", res)
	}
	if _, err := ws.Run(ctx, "plan", "-detailed-exitcode", "-input=false", "-no-color"); err != nil {
		t.Errorf("plan after apply: %v", err)
	}
	res, err = ws.Run(ctx, "output", "-raw", "things")
	if err != nil || res.Stdout != "value-a,value-b" {
		t.Errorf("output: %q, %v", res.Stdout, err)
	}

	// A change makes plan -detailed-exitcode exit 2, an *ExitError.
	if err := ws.WriteFile("extra.tf", `resource "terraform_data" "more" {}`); err != nil {
		t.Fatal(err)
	}
	if _, err := ws.Run(ctx, "plan", "-detailed-exitcode", "-input=false", "-no-color"); err == nil {
		t.Error("plan with a pending change succeeded")
	} else if code, _ := ExitCode(err); code != 2 {
		t.Errorf("plan with a pending change: %v, want exit code 2", err)
	}

	// An invalid configuration fails with the CLI's error in the message.
	if err := ws.WriteFile("extra.tf", `resource "terraform_data" {}`); err != nil {
		t.Fatal(err)
	}
	_, err = ws.Run(ctx, "plan", "-input=false", "-no-color")
	if code, _ := ExitCode(err); code != 1 || !strings.Contains(err.Error(), "Error:") {
		t.Errorf("plan of an invalid configuration: %v", err)
	}
	if err := os.Remove(filepath.Join(ws.Dir, "extra.tf")); err != nil {
		t.Fatal(err)
	}

	res, err = ws.Run(ctx, "destroy", "-auto-approve", "-input=false", "-no-color")
	if err != nil || !strings.Contains(res.Stdout, "2 destroyed") {
		t.Errorf("destroy: %v\n%s", err, res.Stdout)
	}
}

func TestTerraformInterruptedApply(t *testing.T) {
	ws, err := NewWorkspace(t.TempDir(), cliPath(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS == "windows" {
		t.Skip("uses sleep")
	}
	err = ws.WriteFile("main.tf", `
resource "terraform_data" "slow" {
  provisioner "local-exec" {
    command = "echo provisioner-started; sleep 60"
  }
}
`)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 45*time.Second)
	defer cancel()
	p, err := ws.Start(ctx, "apply", "-auto-approve", "-input=false", "-no-color")
	if err != nil {
		t.Fatal(err)
	}
	if err := p.WaitForOutput(ctx, "(local-exec): provisioner-started"); err != nil {
		t.Fatal(err)
	}
	if err := p.Interrupt(); err != nil {
		t.Fatal(err)
	}
	res, err := p.Wait()
	if err == nil {
		t.Fatalf("an interrupted apply succeeded:\n%s", res.Stdout)
	}
	if ctx.Err() != nil {
		t.Fatalf("the CLI did not stop after SIGINT: %v", err)
	}
	if !strings.Contains(res.Stdout+res.Stderr, "Interrupt received") {
		t.Errorf("no sign of the interrupt in the output:\n%s\n%s", res.Stdout, res.Stderr)
	}
}
