// Command bench is `make bench`: it times the KeyMint provider against a
// no-op provider (the floor) and terraform_data through the real CLI and
// the bundled keymint-local server, measures keymint-local's own request
// rate (go test -bench Server ./internal/localserver/), prints the report
// and writes it to BENCHMARKS.md. See package tools/bench.
//
//	go run ./tools/bench/cmd [-terraform PATH] [-scenarios 200,1000,1000x10,100@20/2s,fleet] [-reps N] [-quick]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/keymint-dev/terraform-provider-keymint/tools/bench"
	"github.com/keymint-dev/terraform-provider-keymint/tools/clirun"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:])
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string) int {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	terraform := fs.String("terraform", os.Getenv("TF_ACC_TERRAFORM_PATH"), "`path` of the terraform (or tofu) CLI (default $TF_ACC_TERRAFORM_PATH)")
	scenarios := fs.String("scenarios", bench.DefaultScenarios, "comma-separated `list` of scenarios: N activations on one license, or NxL spread over L licenses;\n"+
		"either followed by @R/WINDOW (such as 100@20/2s) runs keymint-local limited to R requests per WINDOW, keymint variants only;\n"+
		"fleetN (fleet: 1,000) holds N hosts in one keymint_license_activations, beside terraform_data holding the set and N keymint_device_activation resources")
	reps := fs.Int("reps", 0, "repetitions of every scenario (default 5 for N ≤ 200, 1 above and for rate-limited scenarios, 3 for a fleet)")
	variants := fs.String("variants", bench.DefaultVariants, "comma-separated `list` of variants: keymint, noop, terraform_data, each optionally +provlogoff, +sdklogoff or +logoff")
	out := fs.String("out", "BENCHMARKS.md", "Markdown `file` to write, relative to the module root (\"\" for none; -quick writes none unless -out is given)")
	quick := fs.Bool("quick", false, "smoke run: scenario "+bench.QuickScenarios+", one repetition, no warm-up")
	workDir := fs.String("workdir", "", "work `directory` (default a temporary one)")
	keep := fs.Bool("keep", false, "keep the work directory and the workspaces")
	parallelism := fs.Int("parallelism", bench.DefaultParallelism, "the CLI's -parallelism `N` (the API call targets are judged at 10)")
	serverBench := fs.Bool("server-bench", true, "also measure keymint-local's request rate ("+bench.ServerBenchCommand+"); -quick skips it unless given")
	poll := fs.Duration("poll", 20*time.Millisecond, "provider RSS sampling `interval`")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), "Usage: go run ./tools/bench/cmd [flags]\n\n"+
			"Times apply, a no-change plan and destroy of N keymint_device_activation resources through the real CLI\n"+
			"against keymint-local, alternating with a no-op provider (the floor) and terraform_data.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if *quick {
		if !set["scenarios"] {
			*scenarios = bench.QuickScenarios
		}
		if !set["reps"] {
			*reps = 1
		}
		if !set["out"] {
			*out = ""
		}
		if !set["server-bench"] {
			*serverBench = false
		}
	}
	if *parallelism < 1 {
		fmt.Fprintln(os.Stderr, "bench: -parallelism must be at least 1")
		return 2
	}
	if *terraform == "" {
		fmt.Fprintln(os.Stderr, "bench: no CLI: pass -terraform PATH or set TF_ACC_TERRAFORM_PATH (make bench sets it)")
		return 2
	}
	scs, err := bench.ParseScenarios(*scenarios, *reps)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 2
	}
	vs, err := bench.ParseVariants(*variants)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 2
	}

	report, err := bench.Run(ctx, bench.Config{
		Terraform:   *terraform,
		Scenarios:   scs,
		Variants:    vs,
		WorkDir:     *workDir,
		Keep:        *keep,
		NoWarmup:    *quick,
		Poll:        *poll,
		Progress:    os.Stderr,
		Quick:       *quick,
		Parallelism: *parallelism,
	})
	if err == nil && *serverBench {
		fmt.Fprintf(os.Stderr, "== keymint-local request rate on loopback: %s\n", bench.ServerBenchCommand)
		report.Server = bench.RunServerBench(ctx)
		if report.Server.Err == "" {
			fmt.Fprintln(os.Stderr, strings.Join(report.Server.Lines, "\n"))
		}
	}
	if report != nil && len(report.Runs) > 0 {
		fmt.Println(report.Markdown())
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 1
	}
	code := 0
	if report.Server != nil && report.Server.Err != "" {
		// The report is written all the same, saying so.
		fmt.Fprintln(os.Stderr, "bench: keymint-local request rate:", report.Server.Err)
		code = 1
	}
	if *out != "" {
		path := *out
		if !filepath.IsAbs(path) {
			root, err := clirun.ModuleRoot()
			if err != nil {
				fmt.Fprintln(os.Stderr, "bench:", err)
				return 1
			}
			path = filepath.Join(root, path)
		}
		if err := os.WriteFile(path, []byte(report.Markdown()), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			return 1
		}
		fmt.Fprintf(os.Stderr, "wrote %s\n", path)
	}
	return code
}
