package bench

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
)

// Summary is one variant in one scenario, over its repetitions.
type Summary struct {
	Scenario Scenario
	Variant  Variant
	Reps     int
	// Phase and Total are median wall times; Total is the median of the
	// per-repetition sums.
	Phase [3]time.Duration
	Total time.Duration
	// Ratio and PhaseRatio divide Total and Phase by the floor's (NaN when
	// the floor was not run).
	Ratio      float64
	PhaseRatio [3]float64
	// Spread is (max - min) / median of the totals: the noise.
	Spread float64
	// GetKeyPerPlan is the median number of /get-key calls in a plan.
	GetKeyPerPlan float64
	// CallsPerResource is the median number of API calls over the three
	// phases, divided by N.
	CallsPerResource float64
	// PhaseCalls is the median number of API calls of each phase, and
	// Calls the median over the three phases together.
	PhaseCalls [3]float64
	Calls      float64
	// PeakRSS is the largest provider VmHWM over the repetitions, in bytes
	// (0: no provider process).
	PeakRSS int64
	// CPU, ProviderCPU and ServerCPU are medians over the repetitions of the
	// CPU time of CLI + providers, of the providers alone, and of
	// keymint-local.
	CPU, ProviderCPU, ServerCPU time.Duration
	// CPURatio divides CPU by the floor's (NaN when the floor was not run).
	CPURatio float64
	// OtherLoad is the median number of CPUs the rest of the machine kept
	// busy during the runs (-1 if unknown): the competition.
	OtherLoad float64
	// Limit is what the rate limit did, in a rate-limited scenario; nil in
	// the others.
	Limit *LimitSummary
}

// LimitSummary is a variant in a rate-limited scenario: medians over the
// repetitions of each phase, and (index lifecycle) of the three together.
type LimitSummary struct {
	// Calls are the API requests keymint-local received, 429s included,
	// and RateLimited those it answered 429.
	Calls, RateLimited [4]float64
	// Wall is the wall time, and Bound its lower bound at the limit's
	// sustained rate: the requests that were not answered 429, divided by
	// the rate.
	Wall, Bound [4]time.Duration
	// Ratio is wall time ÷ bound (NaN when the bound is 0).
	Ratio [4]float64
}

// lifecycle indexes apply + plan + destroy in LimitSummary.
const lifecycle = 3

// Summaries returns one Summary per scenario and variant that has runs, in
// the order of the scenarios and variants.
func (r *Report) Summaries() []Summary {
	var out []Summary
	for _, sc := range r.Scenarios {
		var floor *Summary
		var rows []Summary
		for _, v := range scenarioVariants(sc, r.Variants) {
			var runs []RunResult
			for _, run := range r.Runs {
				if run.Scenario == sc.Name && run.Variant == v.Name {
					runs = append(runs, run)
				}
			}
			if len(runs) == 0 {
				continue
			}
			s := summarize(sc, v, runs)
			rows = append(rows, s)
			if v.Name == sc.floor() {
				floor = &rows[len(rows)-1]
			}
		}
		for i := range rows {
			s := &rows[i]
			s.Ratio, s.CPURatio = math.NaN(), math.NaN()
			for p := range s.PhaseRatio {
				s.PhaseRatio[p] = math.NaN()
			}
			if floor != nil {
				s.Ratio = ratio(s.Total, floor.Total)
				s.CPURatio = ratio(s.CPU, floor.CPU)
				for p := range s.Phase {
					s.PhaseRatio[p] = ratio(s.Phase[p], floor.Phase[p])
				}
			}
		}
		out = append(out, rows...)
	}
	return out
}

func summarize(sc Scenario, v Variant, runs []RunResult) Summary {
	s := Summary{Scenario: sc, Variant: v, Reps: len(runs)}
	durations := func(f func(RunResult) time.Duration) []time.Duration {
		d := make([]time.Duration, len(runs))
		for i, r := range runs {
			d[i] = f(r)
		}
		return d
	}
	numbers := func(f func(RunResult) float64) []float64 {
		d := make([]float64, len(runs))
		for i, r := range runs {
			d[i] = f(r)
		}
		return d
	}
	for _, ph := range Phases {
		s.Phase[ph] = median(durations(func(r RunResult) time.Duration { return r.Phases[ph].Wall }))
	}
	totals := durations(RunResult.Total)
	s.Total = median(totals)
	if s.Total > 0 {
		s.Spread = float64(slices.Max(totals)-slices.Min(totals)) / float64(s.Total)
	}
	s.GetKeyPerPlan = median(numbers(func(r RunResult) float64 { return float64(getKeyCalls(r.Phases[Plan].Calls)) }))
	s.CallsPerResource = median(numbers(func(r RunResult) float64 { return float64(r.APICalls()) / float64(sc.N) }))
	for _, ph := range Phases {
		s.PhaseCalls[ph] = median(numbers(func(r RunResult) float64 { return float64(apiCalls(r.Phases[ph].Calls)) }))
	}
	s.Calls = median(numbers(func(r RunResult) float64 { return float64(r.APICalls()) }))
	for _, r := range runs {
		s.PeakRSS = max(s.PeakRSS, r.ProviderPeakRSS)
	}
	s.CPU = median(durations(RunResult.CPU))
	s.ProviderCPU = median(durations(func(r RunResult) time.Duration { return r.ProviderCPU }))
	s.ServerCPU = median(durations(func(r RunResult) time.Duration { return r.ServerCPU }))
	s.OtherLoad = median(numbers(RunResult.OtherLoad))
	if sc.Limited() {
		s.Limit = summarizeLimit(sc, runs)
	}
	return s
}

// summarizeLimit sums up the runs of a rate-limited scenario.
func summarizeLimit(sc Scenario, runs []RunResult) *LimitSummary {
	type row struct {
		calls, limited float64
		wall, bound    time.Duration
	}
	rate := sc.RateLimit.Rate()
	per := make([][4]row, len(runs))
	for i, r := range runs {
		var all row
		for _, ph := range Phases {
			p := r.Phases[ph]
			x := row{calls: float64(apiCalls(p.Calls)), limited: float64(p.RateLimited), wall: p.Wall}
			x.bound = time.Duration((x.calls - x.limited) / rate * float64(time.Second))
			per[i][ph] = x
			all.calls, all.limited, all.wall, all.bound = all.calls+x.calls, all.limited+x.limited, all.wall+x.wall, all.bound+x.bound
		}
		per[i][lifecycle] = all
	}
	l := &LimitSummary{}
	for k := range 4 {
		var calls, limited, ratios []float64
		var walls, bounds []time.Duration
		for i := range runs {
			x := per[i][k]
			calls, limited = append(calls, x.calls), append(limited, x.limited)
			walls, bounds = append(walls, x.wall), append(bounds, x.bound)
			ratios = append(ratios, ratio(x.wall, x.bound))
		}
		l.Calls[k], l.RateLimited[k] = median(calls), median(limited)
		l.Wall[k], l.Bound[k] = median(walls), median(bounds)
		l.Ratio[k] = math.NaN()
		if !slices.ContainsFunc(ratios, math.IsNaN) {
			l.Ratio[k] = median(ratios)
		}
	}
	return l
}

func ratio(a, b time.Duration) float64 {
	if b <= 0 {
		return math.NaN()
	}
	return float64(a) / float64(b)
}

// median returns the median of values (the mean of the middle two for an
// even count).
func median[T time.Duration | float64](values []T) T {
	if len(values) == 0 {
		return 0
	}
	v := slices.Clone(values)
	slices.Sort(v)
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

// Target is one of the goals the benchmark reports on.
type Target struct {
	// Goal says what is wanted.
	Goal string
	// Measured says what was measured; "" when the scenario was not run.
	Measured string
	// Met is whether the goal was met (false when not measured).
	Met bool
}

// Status is PASS, FAIL or "not measured".
func (t Target) Status() string {
	switch {
	case t.Measured == "":
		return "not measured"
	case t.Met:
		return "PASS"
	default:
		return "FAIL"
	}
}

// Target thresholds.
const (
	targetRatio    = 1.10
	targetRatioN   = 200
	targetPeakRSS  = 100 << 20
	targetRSSN     = 1000
	targetGetKeyNs = "200,1000"

	// The API call targets hold at N = targetCallsN on one license with
	// -parallelism targetCallsParallelism.
	// A rate-limited scenario's apply + plan + destroy takes at most
	// targetLimitRatio times the lower bound at the limit's rate.
	targetLimitRatio = 1.15

	targetCallsN           = 200
	targetCallsParallelism = 10
	targetApplyCalls       = 1.15 // per activation
	targetLifecycleCalls   = 2.05 // per activation, apply + plan + destroy

	// A fleet in one keymint_license_activations takes at most
	// targetFleetVsCLI times terraform_data holding the same set, and at
	// most targetFleetVsPerHost times one keymint_device_activation per
	// host.
	targetFleetVsCLI     = 1.10
	targetFleetVsPerHost = 0.25
)

// applyCallFloor is the API calls per activation of an apply that makes one
// activation per resource and shares one read-back among each wave of
// parallelism activations: 1 + 1/parallelism.
func applyCallFloor(parallelism int) float64 { return 1 + 1/float64(parallelism) }

// lifecycleCallFloor is the API calls per activation of apply, plan and
// destroy with the apply of applyCallFloor, one get-key per license in the
// plan, and one deactivation per resource plus one refresh read per license
// in the destroy: 2 + 1/parallelism + 2·licenses/N.
func lifecycleCallFloor(parallelism, n, licenses int) float64 {
	return 2 + 1/float64(parallelism) + 2*float64(licenses)/float64(n)
}

// perActivation writes calls API calls among n activations as "1.425 (285
// calls)".
func perActivation(calls float64, n int) string {
	return fmt.Sprintf("%.3f (%s)", calls/float64(n), count(calls, "call"))
}

// count writes n things: "1 call", "2.5 calls".
func count(n float64, thing string) string {
	if n == 1 {
		return "1 " + thing
	}
	return trimFloat(n) + " " + thing + "s"
}

// parallelism is the report's -parallelism.
func (r *Report) parallelism() int {
	if r.Parallelism <= 0 {
		return DefaultParallelism
	}
	return r.Parallelism
}

// Targets evaluates the goals of the benchmark against the report.
func (r *Report) Targets() []Target {
	find := func(scenario, variant string) *Summary {
		for _, s := range r.Summaries() {
			if s.Scenario.Name == scenario && s.Variant.Name == variant {
				return &s
			}
		}
		return nil
	}
	var out []Target

	t := Target{Goal: fmt.Sprintf("apply + plan + destroy of %d activations within %.2f× of the no-op floor", targetRatioN, targetRatio)}
	if s := find(fmt.Sprint(targetRatioN), string(KindKeymint)); s != nil && !math.IsNaN(s.Ratio) {
		t.Measured = fmt.Sprintf("%.2f× (%.2fs vs %.2fs; CPU time %s)", s.Ratio, s.Total.Seconds(), s.Total.Seconds()/s.Ratio, fmtRatio(s.CPURatio))
		t.Met = s.Ratio <= targetRatio
	}
	out = append(out, t)

	for _, n := range strings.Split(targetGetKeyNs, ",") {
		t := Target{Goal: fmt.Sprintf("a plan of %s activations of one license makes exactly 1 get-key call", thousands(n))}
		if s := find(n, string(KindKeymint)); s != nil {
			t.Measured = trimFloat(s.GetKeyPerPlan) + " get-key call"
			if s.GetKeyPerPlan != 1 {
				t.Measured += "s"
			}
			t.Met = s.GetKeyPerPlan == 1
		}
		out = append(out, t)
	}

	out = append(out, r.callTargets(find)...)

	out = append(out, r.limitTargets(find)...)

	out = append(out, r.fleetTargets(find)...)

	t = Target{Goal: fmt.Sprintf("N = %s: the provider's peak RSS under %d MB", thousands(fmt.Sprint(targetRSSN)), targetPeakRSS>>20)}
	var measured []string
	met := true
	for _, sc := range r.Scenarios {
		if sc.N != targetRSSN {
			continue
		}
		if s := find(sc.Name, string(KindKeymint)); s != nil && s.PeakRSS > 0 {
			measured = append(measured, fmt.Sprintf("%.1f MB (%s)", mb(s.PeakRSS), sc.Name))
			met = met && s.PeakRSS < targetPeakRSS
		}
	}
	if len(measured) > 0 {
		t.Measured, t.Met = strings.Join(measured, ", "), met
	}
	out = append(out, t, r.serverTarget())
	return out
}

// callTargets evaluates the API call targets of each phase at N =
// targetCallsN on one license with -parallelism targetCallsParallelism;
// they are not measured at another parallelism.
func (r *Report) callTargets(find func(scenario, variant string) *Summary) []Target {
	par := targetCallsParallelism
	prefix := fmt.Sprintf("N = %d on 1 license, -parallelism %d: ", targetCallsN, par)
	apply := Target{Goal: prefix + fmt.Sprintf("apply makes at most %.2f API calls per activation "+
		"(floor with one shared read-back per wave of %d: 1 + 1/%d = %.2f)", targetApplyCalls, par, par, applyCallFloor(par))}
	plan := Target{Goal: prefix + "plan makes 1 get-key call per license and no other API call"}
	destroy := Target{Goal: prefix + fmt.Sprintf("destroy makes at most 1 API call per activation plus 1 refresh read per license (%d)",
		targetCallsN+1)}
	life := Target{Goal: prefix + fmt.Sprintf("apply + plan + destroy make at most %.2f API calls per activation "+
		"(floor with one shared read-back per wave of %d: 2 + 1/%d + 2·1/%d = %.3f)",
		targetLifecycleCalls, par, par, targetCallsN, lifecycleCallFloor(par, targetCallsN, 1))}
	s := find(fmt.Sprint(targetCallsN), string(KindKeymint))
	if s == nil || r.parallelism() != par {
		return []Target{apply, plan, destroy, life}
	}
	n, licenses := float64(s.Scenario.N), float64(s.Scenario.Licenses)
	apply.Measured = perActivation(s.PhaseCalls[Apply], s.Scenario.N)
	apply.Met = s.PhaseCalls[Apply]/n <= targetApplyCalls

	plan.Measured = fmt.Sprintf("%s (%s get-key) for %s", count(s.PhaseCalls[Plan], "API call"), trimFloat(s.GetKeyPerPlan),
		count(licenses, "license"))
	plan.Met = s.PhaseCalls[Plan] == licenses && s.GetKeyPerPlan == licenses

	destroy.Measured = perActivation(s.PhaseCalls[Destroy], s.Scenario.N)
	destroy.Met = s.PhaseCalls[Destroy] <= n+licenses

	life.Measured = perActivation(s.Calls, s.Scenario.N)
	life.Met = s.Calls/n <= targetLifecycleCalls
	return []Target{apply, plan, destroy, life}
}

// hasFleet reports whether the report has a fleet scenario.
func (r *Report) hasFleet() bool {
	return slices.ContainsFunc(r.Scenarios, func(sc Scenario) bool { return sc.Fleet })
}

// fleetTargets evaluate each fleet scenario: the one resource's apply +
// plan + destroy against terraform_data holding the same set and against
// one keymint_device_activation per host, and its API calls per host.
func (r *Report) fleetTargets(find func(scenario, variant string) *Summary) []Target {
	var out []Target
	for _, sc := range r.Scenarios {
		if !sc.Fleet {
			continue
		}
		n := thousands(fmt.Sprint(sc.N))
		prefix := fmt.Sprintf("a fleet of %s hosts in one keymint_license_activations: ", n)
		vsCLI := Target{Goal: prefix + fmt.Sprintf("apply + plan + destroy within %.2f× of terraform_data holding the same set", targetFleetVsCLI)}
		vsPerHost := Target{Goal: prefix + fmt.Sprintf("apply + plan + destroy within %.2f× of %s keymint_device_activation resources", targetFleetVsPerHost, n)}
		calls := Target{Goal: prefix + fmt.Sprintf("at most %.2f API calls per host over apply + plan + destroy", targetLifecycleCalls)}
		fleet := find(sc.Name, string(KindKeymint))
		td := find(sc.Name, string(KindTerraformData))
		perHost := find(sc.Name, string(KindKeymint)+PerHostSuffix)
		// against measures the fleet's total time against other's.
		against := func(t *Target, other *Summary, limit float64) {
			if fleet == nil || other == nil {
				return
			}
			x := ratio(fleet.Total, other.Total)
			t.Measured = fmt.Sprintf("%s (%.2fs vs %.2fs; CPU time %s)", fmtRatio(x), fleet.Total.Seconds(), other.Total.Seconds(),
				fmtRatio(ratio(fleet.CPU, other.CPU)))
			t.Met = x <= limit
		}
		against(&vsCLI, td, targetFleetVsCLI)
		against(&vsPerHost, perHost, targetFleetVsPerHost)
		if fleet != nil {
			calls.Measured = perActivation(fleet.Calls, sc.N)
			calls.Met = fleet.Calls/float64(sc.N) <= targetLifecycleCalls
		}
		out = append(out, vsCLI, vsPerHost, calls)
	}
	return out
}

// limitTargets evaluate the rate-limited scenarios: apply + plan + destroy
// within targetLimitRatio of the lower bound in each, once for the provider
// reacting to the server's 429s and once paced to the limit.
func (r *Report) limitTargets(find func(scenario, variant string) *Summary) []Target {
	var out []Target
	for _, v := range []struct{ name, how string }{
		{string(KindKeymint), "reacting to 429s"},
		{string(KindKeymint) + PacedSuffix, "paced with max_requests_per_minute set to the limit"},
	} {
		t := Target{Goal: fmt.Sprintf("rate-limited scenario, provider %s: within %.2f× of the lower bound "+
			"(apply + plan + destroy; the calls answered ÷ the limit's rate)", v.how, targetLimitRatio)}
		var measured []string
		met := true
		for _, sc := range r.Scenarios {
			if !sc.Limited() {
				continue
			}
			s := find(sc.Name, v.name)
			if s == nil || s.Limit == nil {
				continue
			}
			l := s.Limit
			measured = append(measured, fmt.Sprintf("%s (%.2fs vs %.2fs, %s; %s)", fmtRatio(l.Ratio[lifecycle]), l.Wall[lifecycle].Seconds(),
				l.Bound[lifecycle].Seconds(), count(l.RateLimited[lifecycle], "429"), sc.Name))
			met = met && l.Ratio[lifecycle] <= targetLimitRatio // false for NaN
		}
		if len(measured) > 0 {
			t.Measured, t.Met = strings.Join(measured, ", "), met
		}
		out = append(out, t)
	}
	return out
}

func mb(b int64) float64 { return float64(b) / (1 << 20) }

func trimFloat(f float64) string {
	if f == math.Trunc(f) {
		return fmt.Sprintf("%.0f", f)
	}
	return fmt.Sprintf("%.1f", f)
}

// thousands writes a decimal number with a comma every three digits.
func thousands(n string) string {
	if len(n) <= 3 {
		return n
	}
	return thousands(n[:len(n)-3]) + "," + n[len(n)-3:]
}

func fmtRatio(f float64) string {
	if math.IsNaN(f) {
		return "–"
	}
	return fmt.Sprintf("%.2f×", f)
}

// Markdown renders the report: the environment, the results table, the CPU
// table and the targets.
func (r *Report) Markdown() string {
	var b strings.Builder
	b.WriteString("# Benchmarks\n\n")
	if r.Quick {
		b.WriteString("**Smoke run (-quick): too small to judge the targets by.**\n\n")
	}
	b.WriteString("Written by `make bench` (`go run ./tools/bench/cmd`); rerun it rather than editing this file.\n\n")
	fmt.Fprintf(&b, "- Date: %s\n", r.Date.UTC().Format("2006-01-02 15:04 MST"))
	fmt.Fprintf(&b, "- Machine: %s/%s, %d CPUs", r.OS, r.Arch, r.CPUs)
	if r.LoadStart != "" {
		fmt.Fprintf(&b, " (load average %s before, %s after)", r.LoadStart, orDash(r.LoadEnd))
	}
	b.WriteString("\n")
	fmt.Fprintf(&b, "- CLI: %s; Go: %s; provider source: %s\n", orDash(r.CLIVersion), orDash(r.GoVersion), orDash(r.Source))
	fmt.Fprintf(&b, "- Server: keymint-local on loopback, API calls counted through its %s\n", orDash(r.CallCounting))
	fmt.Fprintf(&b, "- Duration of the run: %s\n\n", r.Elapsed.Round(time.Second))

	fmt.Fprintf(&b, "Each repetition runs every variant in a fresh workspace, in an order rotated from one repetition to "+
		"the next: `apply -auto-approve`, `plan -detailed-exitcode` (which must find no change) and "+
		"`destroy -auto-approve`, with `-parallelism=%d`. Times are medians of wall time; "+
		"× floor divides by the `noop` variant's (a provider on the same framework and protocol with the same schema "+
		"that makes no API call), so it shows what the provider's own work costs. `terraform_data` lives inside the "+
		"CLI and pays no plugin cost at all: a reference, not a target.\n\n", r.parallelism())
	if r.hasFleet() {
		b.WriteString("A fleet scenario holds its N hosts in one `keymint_license_activations` (variants `keymint` and `noop`) " +
			"or in one `terraform_data` whose input holds the same set of host IDs, what the CLI itself costs for a resource " +
			"with an N-element set; there × floor divides by `terraform_data`'s. `keymint+perhost` is the same N hosts as N " +
			"`keymint_device_activation` resources, in the same repetitions.\n\n")
	}

	b.WriteString("| Scenario | Variant | Reps | apply s | plan s | destroy s | total s | × floor (total) | × floor (apply / plan / destroy) | get-key / plan | API calls / resource | provider peak RSS MB |\n")
	b.WriteString("|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n")
	sums := r.Summaries()
	for _, s := range sums {
		rss := "–"
		if s.PeakRSS > 0 {
			rss = fmt.Sprintf("%.1f", mb(s.PeakRSS))
		}
		fmt.Fprintf(&b, "| %s | %s | %d | %.2f | %.2f | %.2f | %.2f | %s | %s / %s / %s | %s | %.2f | %s |\n",
			scenarioLabel(s.Scenario), s.Variant.Name, s.Reps,
			s.Phase[Apply].Seconds(), s.Phase[Plan].Seconds(), s.Phase[Destroy].Seconds(), s.Total.Seconds(),
			fmtRatio(s.Ratio), fmtRatio(s.PhaseRatio[Apply]), fmtRatio(s.PhaseRatio[Plan]), fmtRatio(s.PhaseRatio[Destroy]),
			trimFloat(s.GetKeyPerPlan), s.CallsPerResource, rss)
	}

	r.writeCallTable(&b, sums)
	r.writeLimitTable(&b, sums)

	b.WriteString("\nCPU time, medians in seconds over apply + plan + destroy: CLI + provider is the CLI and every " +
		"process it waited for, provider the provider processes alone (sampled), keymint-local the server. CPU time " +
		"varies less than wall time when other work competes for the CPUs: other load is how many CPUs the rest of " +
		"the machine kept busy meanwhile, and spread is (max − min) / median of the total wall times.\n\n")
	b.WriteString("| Scenario | Variant | CLI + provider CPU s | × floor (CPU) | provider CPU s | keymint-local CPU s | other load (CPUs) | spread |\n")
	b.WriteString("|---|---|--:|--:|--:|--:|--:|--:|\n")
	for _, s := range sums {
		other := "–"
		if s.OtherLoad >= 0 {
			other = fmt.Sprintf("%.2f", s.OtherLoad)
		}
		fmt.Fprintf(&b, "| %s | %s | %.2f | %s | %.2f | %.2f | %s | %.0f%% |\n", scenarioLabel(s.Scenario), s.Variant.Name,
			s.CPU.Seconds(), fmtRatio(s.CPURatio), s.ProviderCPU.Seconds(), s.ServerCPU.Seconds(), other, 100*s.Spread)
	}

	b.WriteString("\n## Targets\n\nReported, not asserted: timings depend on the machine.\n\n")
	for _, t := range r.Targets() {
		measured := ""
		if t.Measured != "" {
			measured = ": " + t.Measured
		}
		fmt.Fprintf(&b, "- **%s**: %s%s\n", t.Status(), t.Goal, measured)
	}
	b.WriteString("\n<details><summary>Every run</summary>\n\n")
	b.WriteString("| Scenario | Rep | Order | Variant | apply s | plan s | destroy s | total s | CPU s | API calls | 429s | provider processes | other load (CPUs) |\n")
	b.WriteString("|---|--:|--:|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n")
	for _, run := range r.Runs {
		other := "–"
		if l := run.OtherLoad(); l >= 0 {
			other = fmt.Sprintf("%.2f", l)
		}
		fmt.Fprintf(&b, "| %s | %d | %d | %s | %.2f | %.2f | %.2f | %.2f | %.2f | %d | %d | %d | %s |\n", run.Scenario, run.Rep, run.Position,
			run.Variant, run.Phases[Apply].Wall.Seconds(), run.Phases[Plan].Wall.Seconds(), run.Phases[Destroy].Wall.Seconds(),
			run.Total().Seconds(), run.CPU().Seconds(), run.APICalls(), run.RateLimited(), run.ProviderProcesses, other)
	}
	b.WriteString("\n</details>\n")
	r.writeServerSection(&b)
	b.WriteString("\nRerun with `make bench` (or `go run ./tools/bench/cmd -h` for scenarios, repetitions and variants).\n")
	return b.String()
}

// writeCallTable writes the API calls per activation of each phase of the
// variants that make any (keymint).
func (r *Report) writeCallTable(b *strings.Builder, sums []Summary) {
	par := r.parallelism()
	fmt.Fprintf(b, "\nAPI calls per activation, by phase (medians; the number of calls in parentheses). The ideal is one "+
		"activation per resource in apply, one get-key per license in plan, and one deactivation per resource plus one "+
		"refresh read per license in destroy. The floor adds one read-back shared by each wave of -parallelism (%d) "+
		"activations: apply 1 + 1/parallelism, apply + plan + destroy 2 + 1/parallelism + 2·licenses/N. A fleet's one "+
		"resource needs one activation and one deactivation per host, and a few reads for the whole set: floor 1 / 2. "+
		"Under a rate limit, the calls answered 429 count too.\n\n", par)
	b.WriteString("| Scenario | Variant | apply | plan | destroy | apply + plan + destroy | floor: apply / apply + plan + destroy |\n")
	b.WriteString("|---|---|--:|--:|--:|--:|--:|\n")
	for _, s := range sums {
		if s.Variant.Kind != KindKeymint {
			continue
		}
		n := s.Scenario.N
		applyFloor, lifeFloor := applyCallFloor(par), lifecycleCallFloor(par, n, s.Scenario.Licenses)
		if s.Scenario.inOneResource(s.Variant) {
			applyFloor, lifeFloor = 1, 2
		}
		fmt.Fprintf(b, "| %s | %s | %s | %s | %s | %s | %.2f / %.3f |\n", scenarioLabel(s.Scenario), s.Variant.Name,
			perActivation(s.PhaseCalls[Apply], n), perActivation(s.PhaseCalls[Plan], n), perActivation(s.PhaseCalls[Destroy], n),
			perActivation(s.Calls, n), applyFloor, lifeFloor)
	}
}

// writeLimitTable writes, for the rate-limited scenarios, each phase's
// calls, 429 answers, wall time and its lower bound at the limit's rate.
func (r *Report) writeLimitTable(b *strings.Builder, sums []Summary) {
	var limited []Summary
	for _, s := range sums {
		if s.Limit != nil {
			limited = append(limited, s)
		}
	}
	if len(limited) == 0 {
		return
	}
	b.WriteString("\nRate-limited scenarios: keymint-local answers 429, with a Retry-After, to any request over R per " +
		"access token in a sliding window (only the keymint variants run: the others make no API call). Calls count " +
		"every request the server received, 429s included; the lower bound of the wall time is the calls not answered " +
		"429 divided by the limit's sustained rate R ÷ window (a fresh window lets R requests through at once, so a short " +
		"phase may beat it by up to one window). Medians.\n\n")
	b.WriteString("| Scenario | Variant | Reps | Phase | API calls / activation | 429s | wall s | lower bound s | wall ÷ lower bound |\n")
	b.WriteString("|---|---|--:|---|--:|--:|--:|--:|--:|\n")
	for _, s := range limited {
		l := s.Limit
		for k, name := range []string{Apply.String(), Plan.String(), Destroy.String(), "apply + plan + destroy"} {
			fmt.Fprintf(b, "| %s | %s | %d | %s | %s | %s | %.2f | %.2f | %s |\n", scenarioLabel(s.Scenario), s.Variant.Name, s.Reps,
				name, perActivation(l.Calls[k], s.Scenario.N), trimFloat(l.RateLimited[k]), l.Wall[k].Seconds(), l.Bound[k].Seconds(),
				fmtRatio(l.Ratio[k]))
		}
	}
}

func scenarioLabel(sc Scenario) string {
	if sc.Fleet {
		return fmt.Sprintf("fleet of %s hosts on 1 license", thousands(fmt.Sprint(sc.N)))
	}
	label := fmt.Sprintf("%s on 1 license", thousands(fmt.Sprint(sc.N)))
	if sc.Licenses > 1 {
		label = fmt.Sprintf("%s over %d licenses", thousands(fmt.Sprint(sc.N)), sc.Licenses)
	}
	if sc.Limited() {
		label += fmt.Sprintf(", limit %d requests / %s", sc.RateLimit.Requests, shortDuration(sc.RateLimit.Window))
	}
	return label
}

func orDash(s string) string {
	if s == "" {
		return "–"
	}
	return s
}
