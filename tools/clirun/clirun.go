// Package clirun runs a real Terraform or OpenTofu CLI against provider
// binaries built from this module. It is shared by the benchmark harness
// (tools/bench) and end-to-end tests that need the real CLI rather than
// terraform-plugin-testing: timings, signals, crashes.
//
// A typical use:
//
//	bin, err := clirun.BuildBinary(ctx, dir, "terraform-provider-keymint", ".")
//	ws, err := clirun.NewWorkspace(wsDir, cliPath,
//		map[string]string{"keymint-dev/keymint": filepath.Dir(bin)},
//		"KEYMINT_BASE_URL="+url, "KEYMINT_ACCESS_TOKEN="+token)
//	err = ws.WriteFile("main.tf", config)
//	res, err := ws.Run(ctx, "apply", "-auto-approve", "-input=false", "-no-color")
//
// The workspace finds the provider through dev_overrides, so no registry
// and no `terraform init` are involved (configurations that need other
// providers must still run init). Run and Start pass arguments to the CLI
// unchanged: callers add -no-color, -input=false and the like themselves.
package clirun

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"
)

// ConfigFileName is the name of the CLI configuration file NewWorkspace
// writes into the workspace directory. Terraform only loads *.tf and
// *.tf.json files from a directory, so it does not mistake it for
// configuration.
const ConfigFileName = ".clirun.tfrc"

// DefaultKillDelay is how long a CLI gets to exit after an interrupt caused
// by a cancelled context before it and its process group are killed.
const DefaultKillDelay = 30 * time.Second

// registryHosts are the registries a short source address ("owner/type") is
// expanded to, so that one workspace serves Terraform and OpenTofu alike.
var registryHosts = []string{"registry.terraform.io", "registry.opentofu.org"}

// ModuleRoot returns the directory of the go.mod that contains the current
// working directory, walking up from it.
func ModuleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for d := dir; ; {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d, nil
		}
		parent := filepath.Dir(d)
		if parent == d {
			return "", fmt.Errorf("clirun: no go.mod in %s or any parent directory", dir)
		}
		d = parent
	}
}

// BuildBinary runs `go build [flags] -o dir/name pkg` from the module root
// (see ModuleRoot), so pkg is a package path relative to it such as "." or
// "./cmd/keymint-local", or a full import path. flags are extra build
// flags such as "-ldflags=-X main.version=1.2.3". It returns the absolute
// path of the binary. On failure the error holds the compiler's output.
func BuildBinary(ctx context.Context, dir, name, pkg string, flags ...string) (string, error) {
	root, err := ModuleRoot()
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	out, err := filepath.Abs(filepath.Join(dir, name))
	if err != nil {
		return "", err
	}
	if runtime.GOOS == "windows" && filepath.Ext(out) != ".exe" {
		out += ".exe"
	}
	args := append(append([]string{"build"}, flags...), "-o", out, pkg)
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = root
	var output bytes.Buffer
	cmd.Stdout, cmd.Stderr = &output, &output
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("clirun: go %s: %w\n%s", strings.Join(args, " "), err, tail(output.String(), maxTail))
	}
	return out, nil
}

// Workspace is a directory in which a Terraform-compatible CLI runs with its
// own CLI configuration. Fields may be changed between runs.
type Workspace struct {
	// Dir is the working directory of the CLI: the root module.
	Dir string
	// CLI is the path of the terraform or tofu executable.
	CLI string
	// Env is the complete environment of the CLI, as KEY=VALUE entries.
	Env []string
	// ConfigFile is the CLI configuration file (TF_CLI_CONFIG_FILE).
	ConfigFile string
	// Output, when set, also receives the CLI's stdout and stderr as they
	// are written (for example os.Stderr to watch a run).
	Output io.Writer
	// KillDelay is how long the CLI gets to exit after the interrupt sent
	// when the context of Run or Start is cancelled; then it and its process
	// group (the providers it started) are killed. Zero means
	// DefaultKillDelay.
	KillDelay time.Duration
}

// NewWorkspace creates dir if needed and writes a CLI configuration file in
// it whose provider_installation block has a dev_overrides entry for each of
// overrides (provider source address → directory holding the provider
// binary) and a direct block for everything else. A short source address
// "owner/type" is written for both registry.terraform.io and
// registry.opentofu.org; a full "host/owner/type" is written as it is.
//
// The CLI's environment is os.Environ() without TF_CLI_CONFIG_FILE, plus
// TF_CLI_CONFIG_FILE naming the new file, TF_IN_AUTOMATION=1 and
// CHECKPOINT_DISABLE=1, plus env (KEY=VALUE entries; later ones win).
func NewWorkspace(dir, cli string, overrides map[string]string, env ...string) (*Workspace, error) {
	if cli == "" {
		return nil, errors.New("clirun: no CLI path given")
	}
	absDir, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(absDir, 0o755); err != nil {
		return nil, err
	}
	config, err := cliConfig(overrides)
	if err != nil {
		return nil, err
	}
	configFile := filepath.Join(absDir, ConfigFileName)
	if err := os.WriteFile(configFile, []byte(config), 0o644); err != nil {
		return nil, err
	}
	base := withoutEnv(os.Environ(), "TF_CLI_CONFIG_FILE")
	set := append([]string{
		"TF_CLI_CONFIG_FILE=" + configFile,
		"TF_IN_AUTOMATION=1",
		"CHECKPOINT_DISABLE=1",
	}, env...)
	for _, kv := range set {
		if !strings.Contains(kv, "=") {
			return nil, fmt.Errorf("clirun: environment entry %q is not KEY=VALUE", kv)
		}
	}
	return &Workspace{
		Dir:        absDir,
		CLI:        cli,
		Env:        mergeEnv(base, set...),
		ConfigFile: configFile,
	}, nil
}

// cliConfig returns the CLI configuration for the given dev overrides.
func cliConfig(overrides map[string]string) (string, error) {
	lines := map[string]string{} // full address → directory
	for source, dir := range overrides {
		abs, err := filepath.Abs(dir)
		if err != nil {
			return "", err
		}
		switch strings.Count(source, "/") {
		case 1:
			for _, host := range registryHosts {
				lines[host+"/"+source] = abs
			}
		case 2:
			lines[source] = abs
		default:
			return "", fmt.Errorf("clirun: %q is not a provider source address (owner/type or host/owner/type)", source)
		}
	}
	addrs := make([]string, 0, len(lines))
	for a := range lines {
		addrs = append(addrs, a)
	}
	sort.Strings(addrs)
	var b strings.Builder
	b.WriteString("# Written by tools/clirun.\nprovider_installation {\n  dev_overrides {\n")
	for _, a := range addrs {
		fmt.Fprintf(&b, "    %s = %s\n", hclString(a), hclString(lines[a]))
	}
	b.WriteString("  }\n  direct {}\n}\n")
	return b.String(), nil
}

// hclString quotes s as an HCL string literal without templates.
func hclString(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`, "\r", `\r`, "\t", `\t`, "${", "$${", "%{", "%%{")
	return `"` + r.Replace(s) + `"`
}

// Setenv sets environment variables of the CLI, as KEY=VALUE entries.
func (w *Workspace) Setenv(env ...string) {
	w.Env = mergeEnv(w.Env, env...)
}

// Unsetenv removes environment variables from the CLI's environment. A name
// ending in "*" removes every variable with that prefix ("TF_LOG*").
func (w *Workspace) Unsetenv(names ...string) {
	w.Env = withoutEnv(w.Env, names...)
}

// WriteFile writes a file relative to the workspace directory, creating
// parent directories as needed.
func (w *Workspace) WriteFile(name, content string) error {
	p := filepath.Join(w.Dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	return os.WriteFile(p, []byte(content), 0o644)
}

// Result is the outcome of a CLI run.
type Result struct {
	// Args are the arguments the CLI was run with.
	Args []string
	// Stdout and Stderr are everything the CLI wrote.
	Stdout, Stderr string
	// ExitCode is the exit code, or -1 when the CLI was killed by a signal.
	ExitCode int
	// Duration is the wall time from start to exit.
	Duration time.Duration
	// UserTime and SystemTime are the CPU time of the CLI and of the
	// processes it waited for, which include the providers it ran.
	UserTime, SystemTime time.Duration
	// MaxRSS is the largest resident set size, in bytes, of the CLI or of
	// any process it waited for (0 where the OS does not report it).
	MaxRSS int64
}

// CPU returns UserTime + SystemTime.
func (r Result) CPU() time.Duration { return r.UserTime + r.SystemTime }

// ExitError reports a CLI run that failed: it exited with a non-zero code,
// was killed, or its context ended.
type ExitError struct {
	// Command is the command line, for messages.
	Command string
	// Dir is the working directory.
	Dir string
	// ExitCode is the exit code, or -1 when the CLI was killed by a signal.
	ExitCode int
	// Tail is the end of the CLI's stderr (or of its stdout when stderr is
	// empty), with terminal colour codes removed.
	Tail string
	// Err is the underlying error (an *exec.ExitError or a context error).
	Err error
}

func (e *ExitError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s (in %s): ", e.Command, e.Dir)
	if e.ExitCode >= 0 {
		fmt.Fprintf(&b, "exit code %d", e.ExitCode)
	} else {
		fmt.Fprintf(&b, "%v", e.Err)
	}
	if e.Tail != "" {
		b.WriteString("\n--- output tail ---\n")
		b.WriteString(e.Tail)
	}
	return b.String()
}

func (e *ExitError) Unwrap() error { return e.Err }

// ExitCode returns the exit code in err when it is an *ExitError, else
// -1 and false.
func ExitCode(err error) (int, bool) {
	var ee *ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode, true
	}
	return -1, false
}

// Run runs the CLI with args in the workspace and waits for it. A non-zero
// exit is reported as an *ExitError, with the Result filled in all the
// same. When ctx ends, the CLI is interrupted (SIGINT), and killed with its
// process group after KillDelay.
func (w *Workspace) Run(ctx context.Context, args ...string) (Result, error) {
	p, err := w.Start(ctx, args...)
	if err != nil {
		return Result{Args: args}, err
	}
	return p.Wait()
}

// Process is a CLI started by Start.
type Process struct {
	cmd     *exec.Cmd
	ctx     context.Context
	command string
	dir     string
	args    []string
	start   time.Time
	stdout  *outputBuffer
	stderr  *outputBuffer

	done   chan struct{}
	result Result
	err    error
}

// Start starts the CLI with args in the workspace and returns without
// waiting. The process runs in its own process group, so the providers it
// starts can be cleaned up with it; signals reach it only through Signal
// and Interrupt. When ctx ends, it is interrupted, and killed with its
// process group after KillDelay.
func (w *Workspace) Start(ctx context.Context, args ...string) (*Process, error) {
	cmd := exec.CommandContext(ctx, w.CLI, args...)
	cmd.Dir = w.Dir
	cmd.Env = w.Env
	p := &Process{
		cmd:     cmd,
		ctx:     ctx,
		command: commandLine(w.CLI, args),
		dir:     w.Dir,
		args:    args,
		stdout:  &outputBuffer{mirror: w.Output},
		stderr:  &outputBuffer{mirror: w.Output},
		done:    make(chan struct{}),
	}
	cmd.Stdout, cmd.Stderr = p.stdout, p.stderr
	setProcessGroup(cmd)
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = w.KillDelay
	if cmd.WaitDelay <= 0 {
		cmd.WaitDelay = DefaultKillDelay
	}
	p.start = time.Now()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("clirun: starting %s: %w", p.command, err)
	}
	go p.wait()
	return p, nil
}

func (p *Process) wait() {
	defer close(p.done)
	err := p.cmd.Wait()
	p.result = Result{
		Args:     p.args,
		Stdout:   p.stdout.String(),
		Stderr:   p.stderr.String(),
		ExitCode: -1,
		Duration: time.Since(p.start),
	}
	if ps := p.cmd.ProcessState; ps != nil {
		p.result.ExitCode = ps.ExitCode()
		p.result.UserTime, p.result.SystemTime = ps.UserTime(), ps.SystemTime()
		p.result.MaxRSS = maxRSS(ps)
	}
	if err == nil {
		return
	}
	if p.result.ExitCode < 0 || p.ctx.Err() != nil {
		// Interrupted or killed: leave no provider behind.
		killProcessGroup(p.cmd.Process.Pid)
	}
	if ctxErr := p.ctx.Err(); ctxErr != nil {
		err = fmt.Errorf("%w (%w)", ctxErr, err)
	}
	out := p.result.Stderr
	if strings.TrimSpace(out) == "" {
		out = p.result.Stdout
	}
	p.err = &ExitError{
		Command:  p.command,
		Dir:      p.dir,
		ExitCode: p.result.ExitCode,
		Tail:     tail(stripANSI(out), maxTail),
		Err:      err,
	}
}

// Pid returns the process ID of the CLI, which is also the ID of its
// process group.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Signal sends sig to the CLI (not to its providers).
func (p *Process) Signal(sig os.Signal) error { return p.cmd.Process.Signal(sig) }

// Interrupt sends SIGINT to the CLI alone; the CLI then asks its providers
// to stop.
func (p *Process) Interrupt() error { return p.Signal(os.Interrupt) }

// SignalGroup sends sig to the CLI's process group: the CLI and the
// providers it started, as Ctrl-C in a terminal does. Where process groups
// are not supported it signals the CLI alone.
func (p *Process) SignalGroup(sig os.Signal) error { return signalGroup(p.cmd.Process, sig) }

// Done is closed when the CLI has exited and its output is complete.
func (p *Process) Done() <-chan struct{} { return p.done }

// Wait waits for the CLI to exit and returns what Run would. It may be
// called more than once.
func (p *Process) Wait() (Result, error) {
	<-p.done
	return p.result, p.err
}

// Stdout returns what the CLI has written to stdout so far.
func (p *Process) Stdout() string { return p.stdout.String() }

// Stderr returns what the CLI has written to stderr so far.
func (p *Process) Stderr() string { return p.stderr.String() }

// WaitForOutput waits until the CLI's stdout or stderr contains substr. It
// fails when ctx ends or the CLI exits first.
func (p *Process) WaitForOutput(ctx context.Context, substr string) error {
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		if strings.Contains(p.stdout.String(), substr) || strings.Contains(p.stderr.String(), substr) {
			return nil
		}
		select {
		case <-p.done:
			if strings.Contains(p.stdout.String(), substr) || strings.Contains(p.stderr.String(), substr) {
				return nil
			}
			return fmt.Errorf("clirun: %s exited before writing %q", p.command, substr)
		case <-ctx.Done():
			return fmt.Errorf("clirun: waiting for %q from %s: %w", substr, p.command, ctx.Err())
		case <-tick.C:
		}
	}
}

// outputBuffer collects a stream, safe for concurrent use.
type outputBuffer struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	mirror io.Writer
}

func (b *outputBuffer) Write(data []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.mirror != nil {
		_, _ = b.mirror.Write(data)
	}
	return b.buf.Write(data)
}

func (b *outputBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// maxTail bounds the output quoted in errors.
const maxTail = 4000

// tail returns the end of s, at most n bytes, starting at a line boundary
// when it is cut.
func tail(s string, n int) string {
	s = strings.TrimRight(s, "\n")
	if len(s) <= n {
		return s
	}
	s = s[len(s)-n:]
	if i := strings.IndexByte(s, '\n'); i >= 0 && i < len(s)-1 {
		s = s[i+1:]
	}
	return "…\n" + s
}

var ansiEscape = regexp.MustCompile("\x1b\\[[0-9;]*[A-Za-z]")

func stripANSI(s string) string { return ansiEscape.ReplaceAllString(s, "") }

// commandLine renders a command for messages.
func commandLine(cli string, args []string) string {
	parts := append([]string{filepath.Base(cli)}, args...)
	for i, a := range parts {
		if a == "" || strings.ContainsAny(a, " \t\n\"'") {
			parts[i] = fmt.Sprintf("%q", a)
		}
	}
	return strings.Join(parts, " ")
}

// envName returns the name of a KEY=VALUE entry.
func envName(kv string) string {
	name, _, _ := strings.Cut(kv, "=")
	return name
}

// withoutEnv returns env without the named variables; a name ending in "*"
// matches a prefix.
func withoutEnv(env []string, names ...string) []string {
	out := make([]string, 0, len(env))
	for _, kv := range env {
		if !matchesAny(envName(kv), names) {
			out = append(out, kv)
		}
	}
	return out
}

func matchesAny(name string, patterns []string) bool {
	for _, p := range patterns {
		if prefix, ok := strings.CutSuffix(p, "*"); ok {
			if strings.HasPrefix(name, prefix) {
				return true
			}
		} else if name == p {
			return true
		}
	}
	return false
}

// mergeEnv returns env with the KEY=VALUE entries of set applied: an entry
// replaces an earlier one of the same name; later entries win.
func mergeEnv(env []string, set ...string) []string {
	out := make([]string, 0, len(env)+len(set))
	index := map[string]int{}
	for _, kv := range append(append([]string{}, env...), set...) {
		name := envName(kv)
		if i, ok := index[name]; ok {
			out[i] = kv
			continue
		}
		index[name] = len(out)
		out = append(out, kv)
	}
	return out
}
