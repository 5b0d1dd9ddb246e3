// Command dev is what the GNUmakefile's targets run: it builds the pinned
// Terraform and OpenTofu CLIs, runs the test sequences with the environment
// they need, the demo, the live suite against keymint-local behaving as the
// hosted API, and the checks of docs and releases. Run it from the
// repository's root:
//
//	go run ./tools/dev [-cli terraform|tofu] COMMAND [ARGS]
//
// `go run ./tools/dev help` lists the commands.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"

	"github.com/keymint-dev/terraform-provider-keymint/tools/clirun"
)

// command is one subcommand: what it does, and how. args are what follows
// the command's name (go test arguments for the test commands).
type command struct {
	name, summary string
	run           func(ctx context.Context, d *dev, args []string) error
}

var commands = []command{
	{"cli", "Print the absolute path of the pinned CLI, building it first if needed", cmdCLI},
	{"tools", "Build the pinned CLIs, and golangci-lint, actionlint, tfplugindocs and goreleaser (go tool)", cmdTools},
	{"fmt", "gofmt -s the Go files, and format examples/ with the CLI", cmdFmt},
	{"test", "The offline test sequence (ARGS go to go test, e.g. -run X)", cmdTest},
	{"testacc", "The acceptance tests against the server the live variables name", cmdTestacc},
	{"testacc-hosted", "testacc against keymint-local behaving as the hosted API (RUNS, RATE_LIMIT)", cmdTestaccHosted},
	{"examples-check", "Check the examples: formatted, and valid under the CLI", cmdExamplesCheck},
	{"bench", "Run tools/bench/cmd with the CLI (ARGS go to it)", cmdBench},
	{"demo", "Apply and destroy examples/demo against keymint-local", cmdDemo},
	{"docs-check", "Fail when docs/ differs from what is committed", cmdDocsCheck},
	{"release-manifest", "Copy the registry manifest into dist/ under its release name", cmdReleaseManifest},
	{"release-check", "Check the release in dist/ (tools/release)", cmdReleaseCheck},
}

// dev is the state every command shares.
type dev struct {
	root string // the repository's root
	cli  string // "terraform" or "tofu"
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := runMain(ctx, os.Args[1:])
	stop()
	os.Exit(code)
}

func runMain(ctx context.Context, args []string) int {
	fs := flag.NewFlagSet("dev", flag.ContinueOnError)
	cli := fs.String("cli", "terraform", "the CLI that tests and the demo drive: `terraform` or tofu")
	fs.Usage = func() { usage(fs) }
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if *cli != "terraform" && *cli != "tofu" {
		fmt.Fprintf(os.Stderr, "dev: -cli must be terraform or tofu, not %q\n", *cli)
		return 2
	}
	if fs.NArg() == 0 || fs.Arg(0) == "help" {
		usage(fs)
		return 2
	}
	root, err := clirun.ModuleRoot()
	if err != nil {
		fmt.Fprintln(os.Stderr, "dev:", err)
		return 1
	}
	for _, c := range commands {
		if c.name != fs.Arg(0) {
			continue
		}
		err := c.run(ctx, &dev{root: root, cli: *cli}, fs.Args()[1:])
		var exit *exec.ExitError
		switch {
		case err == nil:
			return 0
		case ctx.Err() != nil:
			fmt.Fprintf(os.Stderr, "%s: interrupted\n", c.name)
			return 130
		case errors.As(err, &exit):
			// The command has said why; its code is passed on.
			return max(exit.ExitCode(), 1)
		default:
			fmt.Fprintf(os.Stderr, "%s: %v\n", c.name, err)
			return 1
		}
	}
	fmt.Fprintf(os.Stderr, "dev: unknown command %q\n", fs.Arg(0))
	usage(fs)
	return 2
}

func usage(fs *flag.FlagSet) {
	w := fs.Output()
	fmt.Fprint(w, "Usage: go run ./tools/dev [-cli terraform|tofu] COMMAND [ARGS]\n\nCommands:\n")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-17s %s\n", c.name, c.summary)
	}
	fmt.Fprint(w, "\nFlags:\n")
	fs.PrintDefaults()
}

// run runs a command in dir with the environment env (os.Environ() when
// nil), its output going to ours, after printing it as make would.
func run(ctx context.Context, dir string, env []string, name string, args ...string) error {
	fmt.Println(commandLine(name, args))
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir, cmd.Env = dir, env
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return err
	}
	return nil
}

// commandLine renders a command for the log, quoting what a shell would
// split.
func commandLine(name string, args []string) string {
	parts := []string{name}
	for _, a := range args {
		if a == "" || strings.ContainsAny(a, " \t\n\"'$|*?()[]{};&<>\\") {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		parts = append(parts, a)
	}
	return strings.Join(parts, " ")
}

// step prints a heading.
func step(format string, args ...any) {
	fmt.Printf("== "+format+"\n", args...)
}

// envWithout returns env without the named variables.
func envWithout(env []string, names ...string) []string {
	out := make([]string, 0, len(env))
	for _, kv := range env {
		name, _, _ := strings.Cut(kv, "=")
		found := false
		for _, n := range names {
			found = found || name == n
		}
		if !found {
			out = append(out, kv)
		}
	}
	return out
}

// envWith returns env with the KEY=VALUE entries of set, which replace
// those of the same names.
func envWith(env []string, set ...string) []string {
	names := make([]string, len(set))
	for i, kv := range set {
		names[i], _, _ = strings.Cut(kv, "=")
	}
	return append(envWithout(env, names...), set...)
}

// envValue returns the value of name in env.
func envValue(env []string, name string) string {
	for _, kv := range env {
		if n, v, ok := strings.Cut(kv, "="); ok && n == name {
			return v
		}
	}
	return ""
}
