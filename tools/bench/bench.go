// Package bench is the harness behind `make bench`: it drives the real
// Terraform (or OpenTofu) CLI against the bundled KeyMint server and times
// apply, a no-change plan and destroy of N keymint_device_activation
// resources, alternating with the same N resources of a no-op provider
// (package noopprovider: same framework, protocol and schema, no API call),
// which is the floor, and with terraform_data, which lives inside the CLI and
// pays no plugin cost at all (a reference, not a target).
//
// For each run it records the wall time and CPU time of every phase, the API
// calls keymint-local received (per path), and the peak RSS and CPU time of
// the provider processes. Report renders the medians, the ratios to the
// floor and the state of the targets as Markdown (BENCHMARKS.md).
//
// The command is tools/bench/cmd; see its -h.
package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/keymint-dev/terraform-provider-keymint/tools/clirun"
)

// Config configures Run.
type Config struct {
	// Terraform is the path of the CLI (terraform or tofu).
	Terraform string
	// Scenarios and Variants are what to measure; see ParseScenarios and
	// ParseVariants.
	Scenarios []Scenario
	Variants  []Variant
	// WorkDir holds the binaries, the server's log and the workspaces. ""
	// means a new temporary directory.
	WorkDir string
	// Keep keeps WorkDir and every workspace; otherwise a temporary WorkDir
	// is removed at the end and workspaces after their run.
	Keep bool
	// NoWarmup skips the unrecorded warm-up round (10 resources per
	// variant) that runs before the measurements.
	NoWarmup bool
	// Poll is the interval of the provider RSS sampling; 0 means 20ms.
	Poll time.Duration
	// Progress receives one line per run; nil means none.
	Progress io.Writer
	// Quick marks a smoke run in the report.
	Quick bool
	// Parallelism is the CLI's -parallelism; 0 means Terraform's default,
	// DefaultParallelism.
	Parallelism int
}

// DefaultParallelism is Terraform's default -parallelism.
const DefaultParallelism = 10

// Phase is a step of a run.
type Phase int

// The phases of a run, in order.
const (
	Apply Phase = iota
	Plan
	Destroy
)

// Phases lists the phases in order.
var Phases = []Phase{Apply, Plan, Destroy}

func (p Phase) String() string { return [...]string{"apply", "plan", "destroy"}[p] }

// args are the CLI arguments of the phase, with the given -parallelism.
func (p Phase) args(parallelism int) []string {
	par := fmt.Sprintf("-parallelism=%d", parallelism)
	switch p {
	case Apply:
		return []string{"apply", "-auto-approve", "-input=false", "-no-color", par}
	case Plan:
		return []string{"plan", "-detailed-exitcode", "-input=false", "-no-color", par}
	default:
		return []string{"destroy", "-auto-approve", "-input=false", "-no-color", par}
	}
}

// PhaseResult is what one phase of one run measured.
type PhaseResult struct {
	// Wall is the wall time of the CLI command.
	Wall time.Duration
	// CPU is the CPU time of the CLI and of the providers it ran.
	CPU time.Duration
	// Calls are the requests keymint-local received during the phase, by
	// path (its /_local/ paths excluded), those it answered 429 included.
	Calls map[string]int
	// RateLimited is how many of them keymint-local answered 429.
	RateLimited int
}

// RunResult is one variant measured once in one scenario.
type RunResult struct {
	Scenario string
	Variant  string
	// Rep is the repetition (1-based) and Position the place of the variant
	// in that repetition's order (1-based).
	Rep, Position int
	Phases        [3]PhaseResult
	// ProviderPeakRSS is the largest VmHWM of any provider process, in
	// bytes; 0 when there was none (terraform_data).
	ProviderPeakRSS int64
	// ProviderCPU is the CPU time of the provider processes, as sampled.
	ProviderCPU time.Duration
	// ProviderProcesses is how many provider processes the CLI started.
	ProviderProcesses int
	// ServerCPU is the CPU time keymint-local used during the run.
	ServerCPU time.Duration
	// OtherCPU is the CPU time the rest of the machine used during the run
	// (every busy CPU second that was not the CLI's, the providers' or the
	// server's): other processes competing for the CPUs. -1 if unknown.
	OtherCPU time.Duration
}

// Total is the wall time of the three phases.
func (r RunResult) Total() time.Duration {
	var t time.Duration
	for _, p := range r.Phases {
		t += p.Wall
	}
	return t
}

// CPU is the CPU time of the CLI and providers over the three phases.
func (r RunResult) CPU() time.Duration {
	var t time.Duration
	for _, p := range r.Phases {
		t += p.CPU
	}
	return t
}

// OtherLoad is the average number of CPUs the rest of the machine kept
// busy during the run, or -1 if unknown.
func (r RunResult) OtherLoad() float64 {
	if r.OtherCPU < 0 || r.Total() <= 0 {
		return -1
	}
	return float64(r.OtherCPU) / float64(r.Total())
}

// APICalls is the number of API requests over the three phases.
func (r RunResult) APICalls() int {
	n := 0
	for _, p := range r.Phases {
		n += apiCalls(p.Calls)
	}
	return n
}

// RateLimited is the number of 429 answers over the three phases.
func (r RunResult) RateLimited() int {
	n := 0
	for _, p := range r.Phases {
		n += p.RateLimited
	}
	return n
}

// Report is the outcome of Run.
type Report struct {
	Date       time.Time
	CPUs       int
	OS, Arch   string
	CLIVersion string
	GoVersion  string
	// Source describes the provider source that was built.
	Source string
	// CallCounting is how API calls were counted: CountEndpoint or CountLog.
	CallCounting string
	// LoadStart and LoadEnd are the load averages before and after.
	LoadStart, LoadEnd string
	Elapsed            time.Duration
	Quick              bool
	// Parallelism is the CLI's -parallelism (0 is read as
	// DefaultParallelism).
	Parallelism int
	Scenarios   []Scenario
	Variants    []Variant
	Runs        []RunResult
	// Server is keymint-local's request rate (RunServerBench); nil when
	// it was not measured.
	Server *ServerBench
}

// Names of things the harness sets up on keymint-local.
const (
	benchProduct  = "prod_bench_0123456789abcdef"
	benchCustomer = "Bench Licensee <bench@licensee.test>"
)

// licenseKeys returns the license keys of a scenario.
func licenseKeys(scenario string, n int) []string {
	keys := make([]string, n)
	for i := range keys {
		keys[i] = fmt.Sprintf("lk_bench_%s_%02d_0123456789", scenario, i)
	}
	return keys
}

// binaries are the programs a run needs.
type binaries struct {
	keymint, noop, server string
}

// providerBinary is the provider binary of a kind, or "".
func (b binaries) providerBinary(k Kind) string {
	switch k {
	case KindKeymint:
		return b.keymint
	case KindNoop:
		return b.noop
	}
	return ""
}

// Run builds the providers and keymint-local, starts the server and
// measures every scenario. The report holds the runs completed so far even
// when an error is returned.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if cfg.Terraform == "" {
		return nil, errors.New("no CLI: set -terraform or TF_ACC_TERRAFORM_PATH")
	}
	cli, err := exec.LookPath(cfg.Terraform)
	if err != nil {
		return nil, fmt.Errorf("the CLI %s: %w", cfg.Terraform, err)
	}
	if cli, err = filepath.Abs(cli); err != nil {
		return nil, err
	}
	if len(cfg.Scenarios) == 0 || len(cfg.Variants) == 0 {
		return nil, errors.New("no scenario or no variant to run")
	}
	if cfg.Poll <= 0 {
		cfg.Poll = 20 * time.Millisecond
	}
	if cfg.Parallelism <= 0 {
		cfg.Parallelism = DefaultParallelism
	}
	progress := cfg.Progress
	if progress == nil {
		progress = io.Discard
	}
	start := time.Now()
	rep := &Report{
		Date:        start,
		CPUs:        runtime.NumCPU(),
		OS:          runtime.GOOS,
		Arch:        runtime.GOARCH,
		LoadStart:   loadAverage(),
		Quick:       cfg.Quick,
		Parallelism: cfg.Parallelism,
		Scenarios:   cfg.Scenarios,
		Variants:    cfg.Variants,
	}

	work := cfg.WorkDir
	if work == "" {
		if work, err = os.MkdirTemp("", "keymint-bench-"); err != nil {
			return nil, err
		}
		if !cfg.Keep {
			defer os.RemoveAll(work)
		}
	} else if err := os.MkdirAll(work, 0o755); err != nil {
		return nil, err
	}
	if cfg.Keep {
		fmt.Fprintf(progress, "work directory: %s\n", work)
	}

	fmt.Fprintln(progress, "building the provider, the no-op provider and keymint-local")
	var bins binaries
	for _, b := range []struct {
		out       *string
		dir, name string
		pkg       string
	}{
		{&bins.keymint, "bin/keymint", "terraform-provider-keymint", "."},
		{&bins.noop, "bin/noop", "terraform-provider-keymint", "./tools/bench/noopprovider/cmd"},
		{&bins.server, "bin", "keymint-local", "./cmd/keymint-local"},
	} {
		if *b.out, err = clirun.BuildBinary(ctx, filepath.Join(work, b.dir), b.name, b.pkg); err != nil {
			return rep, err
		}
	}
	rep.GoVersion = goVersion(ctx)
	rep.Source = sourceDescription(ctx)
	if rep.CLIVersion, err = cliVersion(ctx, cli, filepath.Join(work, "version")); err != nil {
		return rep, err
	}

	// One server for the whole run, with every license it needs.
	keys := map[string][]string{"warmup": licenseKeys("warmup", 1)}
	all := keys["warmup"]
	for _, sc := range cfg.Scenarios {
		keys[sc.Name] = licenseKeys(sc.slug(), sc.Licenses)
		all = append(all, keys[sc.Name]...)
	}
	token := "at_bench_" + randomHex(16)
	srv, err := startServer(ctx, bins.server, work, token, benchProduct, benchCustomer, all)
	if err != nil {
		return rep, err
	}
	defer srv.stop()
	rep.CallCounting = srv.mode
	fmt.Fprintf(progress, "keymint-local on %s; API calls counted through the %s\n", srv.url, srv.mode)

	r := &runner{cfg: cfg, cli: cli, work: work, bins: bins, srv: srv, token: token, progress: progress}
	if !cfg.NoWarmup {
		fmt.Fprintln(progress, "warm-up round (not recorded)")
		warm := Scenario{Name: "warmup", N: 10, Licenses: 1, Reps: 1}
		for _, v := range cfg.Variants {
			if _, err := r.run(ctx, warm, keys["warmup"], v, 0, 0); err != nil {
				return rep, fmt.Errorf("warm-up: %w", err)
			}
		}
	}

	round := 0
	for _, sc := range cfg.Scenarios {
		variants := scenarioVariants(sc, cfg.Variants)
		if len(variants) == 0 {
			fmt.Fprintf(progress, "%s: skipped: a rate-limited scenario runs only keymint variants\n", sc.Name)
			continue
		}
		if sc.Limited() && srv.mode != CountEndpoint {
			return rep, fmt.Errorf("scenario %s: keymint-local has no GET /_local/calls to count the calls under a rate limit", sc.Name)
		}
		for i := 1; i <= sc.Reps; i++ {
			for pos, v := range rotate(variants, round) {
				res, err := r.run(ctx, sc, keys[sc.Name], v, i, pos+1)
				if err != nil {
					rep.Elapsed = time.Since(start)
					return rep, fmt.Errorf("scenario %s, repetition %d, %s: %w", sc.Name, i, v.Name, err)
				}
				rep.Runs = append(rep.Runs, res)
			}
			round++
		}
	}
	rep.LoadEnd = loadAverage()
	rep.Elapsed = time.Since(start)
	return rep, nil
}

// runner runs one variant of one scenario at a time.
type runner struct {
	cfg      Config
	cli      string
	work     string
	bins     binaries
	srv      *server
	token    string
	progress io.Writer
}

// run measures one variant once: apply, plan (which must show no change)
// and destroy, in a fresh workspace.
func (r *runner) run(ctx context.Context, sc Scenario, keys []string, v Variant, rep, pos int) (RunResult, error) {
	res := RunResult{Scenario: sc.Name, Variant: v.Name, Rep: rep, Position: pos}
	dir := filepath.Join(r.work, "runs", fmt.Sprintf("%s-r%d-%s", sc.slug(), rep, strings.ReplaceAll(v.Name, "+", "-")))
	if err := os.RemoveAll(dir); err != nil {
		return res, err
	}
	bin := r.bins.providerBinary(v.Kind)
	overrides := map[string]string{}
	if bin != "" {
		overrides["keymint-dev/keymint"] = filepath.Dir(bin)
	}
	ws, err := clirun.NewWorkspace(dir, r.cli, overrides)
	if err != nil {
		return res, err
	}
	// Nothing from the caller's environment may change what is measured.
	ws.Unsetenv("TF_LOG*", "TF_CLI_ARGS*", "TF_DATA_DIR", "TF_WORKSPACE", "TF_PLUGIN_CACHE_DIR",
		"TF_REATTACH_PROVIDERS", "TF_VAR_*", "TF_INPUT", "KEYMINT_*")
	ws.Setenv("KEYMINT_BASE_URL="+r.srv.url, "KEYMINT_ACCESS_TOKEN="+r.token)
	ws.Setenv(v.Env...)
	if err := ws.WriteFile("main.tf", terraformConfig(v.Kind, keys, sc.N, sc.inOneResource(v))); err != nil {
		return res, err
	}

	if sc.Limited() {
		// Every run starts with a full allowance; the other scenarios run
		// unlimited.
		if err := r.srv.setRateLimit(ctx, sc.RateLimit); err != nil {
			return res, err
		}
		defer func() {
			if err := r.srv.setRateLimit(context.WithoutCancel(ctx), RateLimit{}); err != nil {
				fmt.Fprintf(r.progress, "removing the rate limit: %v\n", err)
			}
		}()
	}

	mon := startProcMonitor(bin, r.cli, r.cfg.Poll)
	serverCPU := processCPU(r.srv.pid())
	busy0, busyOK := busyCPU()
	err = r.phases(ctx, ws, sc, v, &res)
	busy1, _ := busyCPU()
	res.ServerCPU = processCPU(r.srv.pid()) - serverCPU
	res.ProviderPeakRSS, res.ProviderCPU, res.ProviderProcesses = mon.stop()
	res.OtherCPU = -1
	if busyOK {
		res.OtherCPU = max(0, busy1-busy0-res.CPU()-res.ServerCPU)
	}
	if err != nil {
		return res, err
	}
	if !r.cfg.Keep {
		if err := os.RemoveAll(dir); err != nil {
			return res, err
		}
	}
	if rep > 0 {
		fmt.Fprintf(r.progress, "%-8s rep %d/%d  %-22s %s\n", sc.Name, rep, sc.Reps, v.Name, res.summaryLine(sc.N))
	}
	return res, nil
}

func (r *runner) phases(ctx context.Context, ws *clirun.Workspace, sc Scenario, v Variant, res *RunResult) error {
	for _, ph := range Phases {
		before, err := r.srv.calls(ctx)
		if err != nil {
			return err
		}
		limitedBefore, err := r.rateLimited(ctx)
		if err != nil {
			return err
		}
		out, err := ws.Run(ctx, ph.args(r.cfg.Parallelism)...)
		if err != nil {
			if code, _ := clirun.ExitCode(err); ph == Plan && code == 2 {
				return fmt.Errorf("the plan after apply is not empty (exit code 2): %s does not converge\n%s",
					v.Name, lastLines(out.Stdout, 60))
			}
			return fmt.Errorf("%s: %w", ph, err)
		}
		after, err := r.srv.calls(ctx)
		if err != nil {
			return err
		}
		limitedAfter, err := r.rateLimited(ctx)
		if err != nil {
			return err
		}
		calls := diffCalls(before, after)
		for p := range calls {
			if strings.HasPrefix(p, "/_local/") {
				delete(calls, p)
			}
		}
		res.Phases[ph] = PhaseResult{Wall: out.Duration, CPU: out.CPU(), Calls: calls, RateLimited: limitedAfter - limitedBefore}

		if v.Kind == KindKeymint && ph != Plan {
			if err := r.checkSeats(ctx, ph, sc.N); err != nil {
				return err
			}
		}
	}
	return nil
}

// rateLimited returns the server's count of 429 answers, or 0 when it
// counts its calls through the request log only (an older keymint-local,
// which has no rate limit to set either).
func (r *runner) rateLimited(ctx context.Context) (int, error) {
	if r.srv.mode != CountEndpoint {
		return 0, nil
	}
	return r.srv.rateLimited(ctx)
}

// checkSeats checks that the server holds the seats it should after apply
// (N) and after destroy (none).
func (r *runner) checkSeats(ctx context.Context, after Phase, n int) error {
	rows, err := r.srv.seats(ctx)
	if err != nil {
		return err
	}
	want := 0
	if after == Apply {
		want = n
	}
	if len(rows) != want {
		return fmt.Errorf("after %s keymint-local holds %d seats, want %d", after, len(rows), want)
	}
	return nil
}

// summaryLine is the progress line of a run.
func (r RunResult) summaryLine(n int) string {
	var b strings.Builder
	for _, ph := range Phases {
		fmt.Fprintf(&b, "%s %6.2fs  ", ph, r.Phases[ph].Wall.Seconds())
	}
	fmt.Fprintf(&b, "total %6.2fs  get-key/plan %d  API calls/activation", r.Total().Seconds(), getKeyCalls(r.Phases[Plan].Calls))
	for _, ph := range Phases {
		fmt.Fprintf(&b, " %s %.3f", ph, float64(apiCalls(r.Phases[ph].Calls))/float64(n))
	}
	fmt.Fprintf(&b, " total %.3f", float64(r.APICalls())/float64(n))
	if n := r.RateLimited(); n > 0 {
		fmt.Fprintf(&b, "  429s %d", n)
	}
	if r.ProviderPeakRSS > 0 {
		fmt.Fprintf(&b, "  peak RSS %.1f MB", float64(r.ProviderPeakRSS)/(1<<20))
	}
	fmt.Fprintf(&b, "  CPU %.2fs", r.CPU().Seconds())
	if r.OtherCPU >= 0 {
		fmt.Fprintf(&b, "  other load %.2f CPUs", r.OtherLoad())
	}
	return b.String()
}

// cliVersion returns the first line of `CLI version`.
func cliVersion(ctx context.Context, cli, dir string) (string, error) {
	ws, err := clirun.NewWorkspace(dir, cli, nil)
	if err != nil {
		return "", err
	}
	res, err := ws.Run(ctx, "version")
	if err != nil {
		return "", err
	}
	line, _, _ := strings.Cut(res.Stdout, "\n")
	return strings.TrimSpace(line), nil
}

// goVersion returns the version of the go command that built the binaries.
func goVersion(ctx context.Context) string {
	out, err := exec.CommandContext(ctx, "go", "env", "GOVERSION").Output()
	if err != nil {
		return runtime.Version()
	}
	return strings.TrimSpace(string(out))
}

// sourceDescription names the commit the provider was built from and the
// paths with uncommitted changes, if any. It only reads the repository.
func sourceDescription(ctx context.Context) string {
	root, err := clirun.ModuleRoot()
	if err != nil {
		return "unknown"
	}
	git := func(args ...string) (string, error) {
		cmd := exec.CommandContext(ctx, "git", append([]string{"--no-optional-locks", "-C", root}, args...)...)
		out, err := cmd.Output()
		return strings.TrimRight(string(out), "\n"), err
	}
	commit, err := git("rev-parse", "--short", "HEAD")
	if err != nil {
		return "unknown (not a git work tree)"
	}
	status, err := git("status", "--porcelain", "--untracked-files=normal")
	if err != nil || strings.TrimSpace(status) == "" {
		return "commit " + commit
	}
	var paths []string
	for _, line := range strings.Split(status, "\n") {
		if len(line) > 3 {
			paths = append(paths, "`"+line[3:]+"`")
		}
	}
	const shown = 6
	if len(paths) > shown {
		paths = append(paths[:shown], fmt.Sprintf("and %d more", len(paths)-shown))
	}
	return fmt.Sprintf("commit %s; uncommitted: %s", commit, strings.Join(paths, ", "))
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// lastLines returns at most the last n lines of s.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = append([]string{"…"}, lines[len(lines)-n:]...)
	}
	return strings.Join(lines, "\n")
}
