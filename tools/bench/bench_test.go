package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"net/http"
	"os"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/keymint-dev/terraform-provider-keymint/tools/clirun"
)

func TestParseScenarios(t *testing.T) {
	got, err := ParseScenarios(" 200,1000, 1000x10,200,5X1", 0)
	if err != nil {
		t.Fatal(err)
	}
	want := []Scenario{
		{Name: "200", N: 200, Licenses: 1, Reps: 5},
		{Name: "1000", N: 1000, Licenses: 1, Reps: 1},
		{Name: "1000x10", N: 1000, Licenses: 10, Reps: 1},
		{Name: "5", N: 5, Licenses: 1, Reps: 5},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v\nwant %+v", got, want)
	}
	got, _ = ParseScenarios("20", 2)
	if got[0].Reps != 2 {
		t.Errorf("reps = %d, want 2", got[0].Reps)
	}

	got, err = ParseScenarios("100@20/2s, 100, 1000X10@100/60s, 100@20/2000ms, 20@5/1h0m", 0)
	if err != nil {
		t.Fatal(err)
	}
	want = []Scenario{
		{Name: "100@20/2s", N: 100, Licenses: 1, Reps: 1, RateLimit: RateLimit{20, 2 * time.Second}},
		{Name: "100", N: 100, Licenses: 1, Reps: 5},
		{Name: "1000x10@100/1m", N: 1000, Licenses: 10, Reps: 1, RateLimit: RateLimit{100, time.Minute}},
		{Name: "20@5/1h", N: 20, Licenses: 1, Reps: 1, RateLimit: RateLimit{5, time.Hour}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v\nwant %+v", got, want)
	}
	if !got[0].Limited() || got[1].Limited() || got[0].RateLimit.Rate() != 10 || got[2].slug() != "1000x10_at_100_per_1m" {
		t.Errorf("limited %v %v, rate %v, slug %q", got[0].Limited(), got[1].Limited(), got[0].RateLimit.Rate(), got[2].slug())
	}
	if got, _ := ParseScenarios("100@20/2s", 3); got[0].Reps != 3 {
		t.Errorf("-reps 3 gives a rate-limited scenario %d repetitions", got[0].Reps)
	}
	if got, err := ParseScenarios(DefaultScenarios, 0); err != nil || len(got) != 5 || !got[3].Limited() || got[3].Reps != 1 ||
		!got[4].Fleet || got[4].N != DefaultFleetHosts {
		t.Errorf("DefaultScenarios: %+v, %v", got, err)
	}

	got, err = ParseScenarios("fleet, Fleet1000, fleet50", 0)
	if err != nil {
		t.Fatal(err)
	}
	want = []Scenario{
		{Name: "fleet1000", N: 1000, Licenses: 1, Reps: FleetReps, Fleet: true},
		{Name: "fleet50", N: 50, Licenses: 1, Reps: FleetReps, Fleet: true},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v\nwant %+v", got, want)
	}
	if got[0].floor() != "terraform_data" || (Scenario{N: 1}).floor() != "noop" {
		t.Errorf("floors: fleet %q, other %q", got[0].floor(), (Scenario{N: 1}).floor())
	}
	for _, bad := range []string{"", "0", "x", "abc", "10x0", "10x11", "10x", "10@", "10@20", "10@0/2s", "10@20/0s",
		"10@20/-1s", "10@x/2s", "10@20/2", "@20/2s", "10x2@20/2s/3", "fleet0", "fleetx", "fleet10x2", "fleet10@20/2s"} {
		if _, err := ParseScenarios(bad, 0); err == nil {
			t.Errorf("ParseScenarios(%q) succeeded", bad)
		}
	}
}

func TestParseVariantsAndRotate(t *testing.T) {
	vs, err := ParseVariants("keymint,noop,terraform_data,keymint+logoff,noop+provlogoff,noop+sdklogoff")
	if err != nil {
		t.Fatal(err)
	}
	if len(vs) != 6 || vs[3].Kind != KindKeymint || !reflect.DeepEqual(vs[4].Env, []string{"TF_LOG_PROVIDER=off"}) ||
		len(vs[3].Env) != 4 || len(vs[5].Env) != 3 || vs[0].Env != nil {
		t.Errorf("variants = %+v", vs)
	}
	for _, bad := range []string{"", "aws", "noop+quiet"} {
		if _, err := ParseVariants(bad); err == nil {
			t.Errorf("ParseVariants(%q) succeeded", bad)
		}
	}

	limited, _ := ParseScenarios("10@5/1s,10", 0)
	if got := scenarioVariants(limited[0], vs); len(got) != 4 || got[0].Name != "keymint" || got[1].Name != "keymint+paced" ||
		got[2].Name != "keymint+logoff" || got[3].Name != "keymint+logoff+paced" ||
		!slices.Contains(got[1].Env, "KEYMINT_MAX_REQUESTS_PER_MINUTE=300") || slices.Contains(got[0].Env, "KEYMINT_MAX_REQUESTS_PER_MINUTE=300") {
		t.Errorf("variants of a rate-limited scenario: %+v", got)
	}
	if got := scenarioVariants(limited[1], vs); len(got) != 6 {
		t.Errorf("variants of a scenario without limit: %+v", got)
	}

	vs, _ = ParseVariants(DefaultVariants)
	names := func(vs []Variant) string {
		var n []string
		for _, v := range vs {
			n = append(n, v.Name)
		}
		return strings.Join(n, ",")
	}
	for r, want := range []string{
		"keymint,noop,terraform_data", "noop,terraform_data,keymint", "terraform_data,keymint,noop", "keymint,noop,terraform_data",
	} {
		if got := names(rotate(vs, r)); got != want {
			t.Errorf("round %d: %s, want %s", r, got, want)
		}
	}
}

func TestTerraformConfig(t *testing.T) {
	keys := licenseKeys("7x2", 2)
	if len(keys[0]) < 23 {
		t.Errorf("license key %q is shorter than the API accepts", keys[0])
	}
	km := terraformConfig(KindKeymint, keys, 7, false)
	assertContains(t, "keymint config", km,
		`source = "keymint-dev/keymint"`, `provider "keymint" {}`, `resource "keymint_device_activation" "bench"`,
		`"bench-0" = "`+keys[0]+`"`, `"bench-1" = "`+keys[1]+`"`, `"bench-6" = "`+keys[0]+`"`,
	)
	if strings.Contains(km, "bench-7") {
		t.Errorf("keymint config has more than 7 hosts")
	}
	td := terraformConfig(KindTerraformData, keys, 7, false)
	if strings.Contains(td, "keymint") && strings.Contains(td, "required_providers") || !strings.Contains(td, `resource "terraform_data" "bench"`) {
		t.Errorf("terraform_data config:\n%s", td)
	}

	// A fleet: one resource holding the set, on the first license.
	fleet := terraformConfig(KindKeymint, keys, 7, true)
	assertContains(t, "fleet config", fleet,
		`resource "keymint_license_activations" "bench"`, `license_key = "`+keys[0]+`"`, `host_ids = toset([`,
		`"bench-0",`, `"bench-6",`, `host_ids    = local.host_ids`,
	)
	if strings.Contains(fleet, "bench-7") || strings.Contains(fleet, keys[1]) || strings.Contains(fleet, "for_each") {
		t.Errorf("fleet config:\n%s", fleet)
	}
	tdFleet := terraformConfig(KindTerraformData, keys, 7, true)
	if !strings.Contains(tdFleet, `resource "terraform_data" "bench"`) || !strings.Contains(tdFleet, "host_ids    = local.host_ids") ||
		strings.Contains(tdFleet, "keymint_license_activations") || strings.Contains(tdFleet, "required_providers") {
		t.Errorf("terraform_data fleet config:\n%s", tdFleet)
	}
}

func TestFleetReport(t *testing.T) {
	scs, _ := ParseScenarios("fleet", 0)
	vs, _ := ParseVariants(DefaultVariants)
	names := []string{}
	for _, v := range scenarioVariants(scs[0], vs) {
		names = append(names, v.Name)
	}
	if got := strings.Join(names, ","); got != "keymint,keymint+perhost,noop,terraform_data" {
		t.Fatalf("fleet variants %s", got)
	}
	rep := &Report{Scenarios: scs, Variants: vs, Parallelism: 10}
	for i := 1; i <= 3; i++ {
		rep.Runs = append(rep.Runs,
			callRunOf("fleet1000", "keymint", i, [3]float64{4, 3, 4}, 1001, 1, 1001),
			callRunOf("fleet1000", "keymint+perhost", i, [3]float64{20, 6, 30}, 1410, 1, 1001),
			callRunOf("fleet1000", "noop", i, [3]float64{4, 3, 3}, 0, 0, 0),
			callRunOf("fleet1000", "terraform_data", i, [3]float64{3, 3, 4}, 0, 0, 0))
	}
	for i := range rep.Runs {
		rep.Runs[i].ProviderPeakRSS = 80 << 20
	}
	sums := rep.Summaries()
	if len(sums) != 4 || sums[3].Variant.Name != "terraform_data" || sums[3].Ratio != 1 || math.Abs(sums[0].Ratio-11.0/10) > 1e-9 {
		t.Fatalf("fleet summaries: %+v", sums)
	}
	got := map[string]string{}
	for _, tg := range rep.Targets() {
		if strings.HasPrefix(tg.Goal, "a fleet of 1,000 hosts") || strings.Contains(tg.Goal, "peak RSS") {
			got[tg.Goal] = tg.Status() + " " + tg.Measured
		}
	}
	for goal, want := range map[string]string{
		"a fleet of 1,000 hosts in one keymint_license_activations: apply + plan + destroy within 1.10× of terraform_data holding the same set":       "PASS 1.10× (11.00s vs 10.00s; CPU time –)",
		"a fleet of 1,000 hosts in one keymint_license_activations: apply + plan + destroy within 0.25× of 1,000 keymint_device_activation resources": "PASS 0.20× (11.00s vs 56.00s; CPU time –)",
		"a fleet of 1,000 hosts in one keymint_license_activations: at most 2.05 API calls per host over apply + plan + destroy":                      "PASS 2.003 (2003 calls)",
		"N = 1,000: the provider's peak RSS under 100 MB": "PASS 80.0 MB (fleet1000)",
	} {
		if got[goal] != want {
			t.Errorf("%s: %q, want %q", goal, got[goal], want)
		}
	}
	md := rep.Markdown()
	assertContains(t, "Markdown", md,
		"| fleet of 1,000 hosts on 1 license | keymint | 3 | 4.00 | 3.00 | 4.00 | 11.00 | 1.10× |",
		"| fleet of 1,000 hosts on 1 license | keymint | 1.001 (1001 calls) | 0.001 (1 call) | 1.001 (1001 calls) | 2.003 (2003 calls) | 1.00 / 2.000 |",
		"| fleet of 1,000 hosts on 1 license | keymint+perhost | 1.410 (1410 calls) |",
		"there × floor divides by `terraform_data`'s",
	)
}

func TestParsers(t *testing.T) {
	for line, want := range map[string]string{
		"2026/11/26 03:38:01 POST /get-key 200 1.234ms":       "/get-key",
		"2026/11/26 03:38:01 GET /_local/health 200 35µs":     "/_local/health",
		"2026/11/26 03:38:01 POST /activate-key dropped 12ms": "/activate-key",
		"2026/11/26 03:38:01 shutting down":                   "",
		"keymint-local listening on http://127.0.0.1:1":       "",
	} {
		got, ok := parseRequestLine(line)
		if got != want || ok != (want != "") {
			t.Errorf("parseRequestLine(%q) = %q, %v; want %q", line, got, ok, want)
		}
	}
	stat := "4242 (terraform-provider (x)) S 1 4242 4242 0 -1 4194560 1000 0 0 0 150 25 0 0 20 0 12 0 99 0 0"
	if ticks, ok := parseStatCPU(stat); !ok || ticks != 175 {
		t.Errorf("parseStatCPU = %d, %v; want 175", ticks, ok)
	}
	if got := median([]time.Duration{3, 1, 2}); got != 2 {
		t.Errorf("median = %v", got)
	}
	if got := median([]float64{4, 1, 2, 3}); got != 2.5 {
		t.Errorf("median = %v", got)
	}
	if got := apiCalls(map[string]int{"/get-key": 2, "/key/activate": 1, "/_local/calls": 5}); got != 3 {
		t.Errorf("apiCalls = %d", got)
	}
	if got := getKeyCalls(map[string]int{"/get-key": 2, "/key": 3, "/key/activate": 1}); got != 5 {
		t.Errorf("getKeyCalls = %d", got)
	}
	if got := thousands("1000000"); got != "1,000,000" {
		t.Errorf("thousands = %s", got)
	}
}

// fakeRun is a run whose phases take the given seconds.
func fakeRun(scenario, variant string, rep int, secs [3]float64, getKeys, calls int, rss int64) RunResult {
	r := RunResult{Scenario: scenario, Variant: variant, Rep: rep, ProviderPeakRSS: rss, OtherCPU: -1}
	for i, s := range secs {
		r.Phases[i].Wall = time.Duration(s * float64(time.Second))
		r.Phases[i].Calls = map[string]int{}
	}
	if calls > 0 {
		r.Phases[Apply].Calls["/activate-key"] = calls - getKeys
		r.Phases[Plan].Calls["/get-key"] = getKeys
	}
	return r
}

func TestReport(t *testing.T) {
	scs, _ := ParseScenarios("200,1000,1000x10", 0)
	vs, _ := ParseVariants(DefaultVariants)
	rep := &Report{Date: time.Date(2026, 1, 2, 3, 4, 0, 0, time.UTC), CPUs: 2, OS: "linux", Arch: "amd64",
		CLIVersion: "Terraform v1.5.7", Scenarios: scs, Variants: vs}
	for i := 1; i <= 3; i++ {
		rep.Runs = append(rep.Runs,
			fakeRun("200", "keymint", i, [3]float64{2, 1, 2 + float64(i)}, 200, 1000, 40<<20),
			fakeRun("200", "noop", i, [3]float64{2, 1, 2}, 0, 0, 30<<20),
			fakeRun("200", "terraform_data", i, [3]float64{1, 0.5, 1}, 0, 0, 0))
	}
	rep.Runs = append(rep.Runs,
		fakeRun("1000", "keymint", 1, [3]float64{10, 5, 10}, 1, 3001, 90<<20),
		fakeRun("1000", "noop", 1, [3]float64{10, 5, 10}, 0, 0, 50<<20),
		fakeRun("1000x10", "keymint", 1, [3]float64{10, 5, 10}, 10, 3010, 120<<20))

	sums := rep.Summaries()
	if len(sums) != 6 {
		t.Fatalf("%d summaries, want 6", len(sums))
	}
	km := sums[0]
	if km.Variant.Name != "keymint" || km.Total != 7*time.Second || km.Phase[Destroy] != 4*time.Second ||
		math.Abs(km.Ratio-7.0/5) > 1e-9 || km.PhaseRatio[Destroy] != 2 || km.GetKeyPerPlan != 200 ||
		km.CallsPerResource != 5 || km.PeakRSS != 40<<20 || math.Abs(km.Spread-2.0/7) > 1e-9 {
		t.Errorf("keymint summary = %+v", km)
	}
	if x10 := sums[5]; x10.Scenario.Name != "1000x10" || !math.IsNaN(x10.Ratio) {
		t.Errorf("a scenario without a floor has ratio %v", x10.Ratio)
	}

	targets := rep.Targets()
	var status []string
	for _, tg := range targets {
		status = append(status, tg.Status())
	}
	// The floor ratio, get-key at 200 and 1,000, the API calls of apply,
	// plan, destroy and all three at 200, the peak RSS.
	// No rate-limited scenario ran, nor the server benchmarks.
	if want := []string{"FAIL", "FAIL", "PASS", "FAIL", "FAIL", "PASS", "FAIL", "not measured", "not measured", "FAIL", "not measured"}; !reflect.DeepEqual(status, want) {
		t.Errorf("target status = %v, want %v: %+v", status, want, targets)
	}
	if rss := targets[len(targets)-2]; !strings.Contains(rss.Measured, "90.0 MB (1000)") || !strings.Contains(rss.Measured, "120.0 MB (1000x10)") {
		t.Errorf("RSS target measured %q", rss.Measured)
	}

	md := rep.Markdown()
	assertContains(t, "Markdown", md,
		"# Benchmarks", "2026-01-02 03:04 UTC", "2 CPUs", "Terraform v1.5.7", "make bench",
		"| 200 on 1 license | keymint | 3 | 2.00 | 1.00 | 4.00 | 7.00 | 1.40× | 1.00× / 1.00× / 2.00× | 200 | 5.00 | 40.0 |",
		"| 200 on 1 license | terraform_data | 3 |", "| 1,000 over 10 licenses | keymint |",
		"**FAIL**: apply + plan + destroy of 200 activations within 1.10× of the no-op floor: 1.40×",
		"**PASS**: a plan of 1,000 activations of one license makes exactly 1 get-key call",
		"with `-parallelism=10`",
		"| 200 on 1 license | keymint | 4.000 (800 calls) | 1.000 (200 calls) | 0.000 (0 calls) | 5.000 (1000 calls) | 1.10 / 2.110 |",
		"| 1,000 over 10 licenses | keymint | 3.000 (3000 calls) | 0.010 (10 calls) | 0.000 (0 calls) | 3.010 (3010 calls) | 1.10 / 2.120 |",
	)

	empty := &Report{Scenarios: scs[:1], Variants: vs}
	for _, tg := range empty.Targets() {
		if tg.Status() != "not measured" {
			t.Errorf("target %q without runs: %s", tg.Goal, tg.Status())
		}
	}
}

// callRun is a keymint run of n activations on one license that makes the
// given API calls in apply, plan (all get-key) and destroy.
func callRun(scenario string, rep int, apply, plan, destroy int) RunResult {
	return callRunOf(scenario, "keymint", rep, [3]float64{1, 1, 1}, apply, plan, destroy)
}

// callRunOf is callRun for any variant and wall times.
func callRunOf(scenario, variant string, rep int, secs [3]float64, apply, plan, destroy int) RunResult {
	r := fakeRun(scenario, variant, rep, secs, 0, 0, 0)
	r.Phases[Apply].Calls["/activate-key"] = apply
	r.Phases[Plan].Calls["/get-key"] = plan
	r.Phases[Destroy].Calls["/deactivate-key"] = destroy
	return r
}

func TestCallTargets(t *testing.T) {
	scs, _ := ParseScenarios("200", 3)
	vs, _ := ParseVariants("keymint")
	rep := &Report{Scenarios: scs, Variants: vs, Parallelism: 10}
	// Medians: apply 220, plan 1, destroy 201, total 422 (the median of
	// 422, 421 and 500).
	rep.Runs = []RunResult{callRun("200", 1, 220, 1, 201), callRun("200", 2, 219, 1, 201), callRun("200", 3, 240, 2, 258)}
	s := rep.Summaries()[0]
	if s.PhaseCalls != [3]float64{220, 1, 201} || s.Calls != 422 {
		t.Fatalf("calls by phase %v, total %v", s.PhaseCalls, s.Calls)
	}
	calls := map[string]Target{}
	for _, tg := range rep.Targets() {
		for _, name := range []string{"apply makes", "plan makes", "destroy makes", "apply + plan + destroy make"} {
			if strings.Contains(tg.Goal, name) {
				calls[name] = tg
			}
		}
	}
	for name, want := range map[string]string{
		"apply makes":                 "PASS 1.100 (220 calls)",
		"plan makes":                  "PASS 1 API call (1 get-key) for 1 license",
		"destroy makes":               "PASS 1.005 (201 calls)",
		"apply + plan + destroy make": "FAIL 2.110 (422 calls)",
	} {
		if got := calls[name].Status() + " " + calls[name].Measured; got != want {
			t.Errorf("%s: %q, want %q", name, got, want)
		}
	}
	for _, want := range []string{"1 + 1/10 = 1.10", "2 + 1/10 + 2·1/200 = 2.110", "at most 1.15 API calls", "at most 2.05 API calls",
		"plus 1 refresh read per license (201)"} {
		found := false
		for _, tg := range calls {
			found = found || strings.Contains(tg.Goal, want)
		}
		if !found {
			t.Errorf("no goal says %q: %+v", want, calls)
		}
	}

	// Another parallelism measures nothing against them.
	rep.Parallelism = 5
	for _, tg := range rep.Targets() {
		if strings.Contains(tg.Goal, "-parallelism 10") && tg.Status() != "not measured" {
			t.Errorf("at -parallelism 5: %s %s", tg.Status(), tg.Goal)
		}
	}
	if md := rep.Markdown(); !strings.Contains(md, "| 1.20 / 2.210 |") || !strings.Contains(md, "`-parallelism=5`") {
		t.Errorf("the floors at -parallelism 5:\n%s", md)
	}
}

func TestLimitReport(t *testing.T) {
	scs, _ := ParseScenarios("100,100@20/2s,50x2@10/1s", 0)
	vs, _ := ParseVariants(DefaultVariants)
	rep := &Report{Scenarios: scs, Variants: vs, Parallelism: 10}
	limitedRun := func(scenario string, secs [3]float64, calls, limited [3]int) RunResult {
		r := fakeRun(scenario, "keymint", 1, secs, 0, 0, 0)
		r.Phases[Apply].Calls["/activate-key"] = calls[Apply]
		r.Phases[Plan].Calls["/get-key"] = calls[Plan]
		r.Phases[Destroy].Calls["/deactivate-key"] = calls[Destroy]
		for ph, n := range limited {
			r.Phases[ph].RateLimited = n
		}
		return r
	}
	rep.Runs = []RunResult{
		fakeRun("100", "keymint", 1, [3]float64{1, 1, 1}, 1, 300, 0),
		fakeRun("100", "noop", 1, [3]float64{1, 1, 1}, 0, 0, 0),
		// 20 requests per 2s: 10 a second. Apply: 130 calls, 20 of them
		// 429, 110 answered: at least 11 s. Plan: 1, 0.1 s. Destroy: 101,
		// 10.1 s. In all 21.2 s, and 23.32 s is 1.10×.
		limitedRun("100@20/2s", [3]float64{12.1, 0.52, 10.7}, [3]int{130, 1, 101}, [3]int{20, 0, 0}),
		// 10 a second, 10 s at least; 13 s is 1.30×.
		limitedRun("50x2@10/1s", [3]float64{6, 1, 6}, [3]int{50, 2, 48}, [3]int{0, 0, 0}),
	}
	var l *LimitSummary
	for _, s := range rep.Summaries() {
		if s.Scenario.Name == "100@20/2s" {
			l = s.Limit
			if s.Variant.Name != "keymint" || !math.IsNaN(s.Ratio) {
				t.Errorf("rate-limited summary: %+v", s)
			}
		} else if s.Limit != nil && s.Scenario.Name == "100" {
			t.Errorf("a scenario without limit has a LimitSummary")
		}
	}
	if l == nil {
		t.Fatal("no summary of 100@20/2s")
	}
	if l.Calls != [4]float64{130, 1, 101, 232} || l.RateLimited != [4]float64{20, 0, 0, 20} ||
		l.Bound[Apply] != 11*time.Second || l.Bound[lifecycle] != 21200*time.Millisecond ||
		math.Abs(l.Ratio[lifecycle]-23.32/21.2) > 1e-9 || math.Abs(l.Ratio[Plan]-5.2) > 1e-9 {
		t.Errorf("limit summary = %+v", *l)
	}

	var target Target
	for _, tg := range rep.Targets() {
		if strings.HasPrefix(tg.Goal, "rate-limited scenario, provider reacting to 429s") {
			target = tg
		}
	}
	if target.Status() != "FAIL" || target.Measured != "1.10× (23.32s vs 21.20s, 20 429s; 100@20/2s), 1.30× (13.00s vs 10.00s, 0 429s; 50x2@10/1s)" {
		t.Errorf("target: %s %q", target.Status(), target.Measured)
	}
	rep.Runs = rep.Runs[:3]
	for _, tg := range rep.Targets() {
		if strings.HasPrefix(tg.Goal, "rate-limited scenario, provider reacting to 429s: within 1.15× of the lower bound") && tg.Status() != "PASS" {
			t.Errorf("target with 100@20/2s alone: %s %q", tg.Status(), tg.Measured)
		}
	}

	md := rep.Markdown()
	assertContains(t, "Markdown", md,
		"| 100 on 1 license, limit 20 requests / 2s | keymint | 1 | apply | 1.300 (130 calls) | 20 | 12.10 | 11.00 | 1.10× |",
		"| 100 on 1 license, limit 20 requests / 2s | keymint | 1 | plan | 0.010 (1 call) | 0 | 0.52 | 0.10 | 5.20× |",
		"| 100 on 1 license, limit 20 requests / 2s | keymint | 1 | apply + plan + destroy | 2.320 (232 calls) | 20 | 23.32 | 21.20 | 1.10× |",
		"| 100 on 1 license, limit 20 requests / 2s | keymint | 1.300 (130 calls) |",
		"| 100@20/2s | 1 | 0 | keymint | 12.10 | 0.52 | 10.70 | 23.32 | 0.00 | 232 | 20 |",
	)
	if strings.Contains(md, "| 100 on 1 license, limit 20 requests / 2s | noop") {
		t.Errorf("a rate-limited scenario has a noop row:\n%s", md)
	}
}

func TestServerBench(t *testing.T) {
	if want := "go test -run '^$' -bench Server -benchtime 3s ./internal/localserver/"; ServerBenchCommand != want {
		t.Errorf("ServerBenchCommand = %s, want %s", ServerBenchCommand, want)
	}
	out := "goos: linux\ngoarch: amd64\npkg: example\n" +
		"BenchmarkServerGetKey/gen1-2          \t   58135\t     60732 ns/op\t     16466 req/s\n" +
		"BenchmarkServerGetKey/gen2-2          \t   59180\t     66666 ns/op\t        4200 req/s\n" +
		"BenchmarkServerActivateDeactivate-2   \t   55323\t     58850 ns/op\t     16992 req/s\nPASS\nok  \texample\t12.3s\n"
	lines := benchmarkLines(out)
	if len(lines) != 3 || !strings.HasSuffix(lines[2], "16992 req/s") {
		t.Fatalf("lines = %q", lines)
	}
	if name, rate, ok := benchmarkRate(lines[0]); !ok || name != "BenchmarkServerGetKey/gen1-2" || rate != 16466 {
		t.Errorf("benchmarkRate = %q, %v, %v", name, rate, ok)
	}
	if _, _, ok := benchmarkRate("BenchmarkX-2 10 5 ns/op"); ok {
		t.Error("a line without req/s has a rate")
	}

	rep := &Report{Server: &ServerBench{Lines: lines}}
	tg := rep.serverTarget()
	if tg.Status() != "FAIL" || tg.Measured != "lowest 4,200 requests a second (BenchmarkServerGetKey/gen2-2)" {
		t.Errorf("target: %s %q", tg.Status(), tg.Measured)
	}
	md := rep.Markdown()
	assertContains(t, "Markdown", md,
		"## keymint-local request rate\n\n`go test -run '^$' -bench Server -benchtime 3s ./internal/localserver/`, concurrent clients",
		"```\nBenchmarkServerGetKey/gen1-2          \t   58135\t     60732 ns/op\t     16466 req/s\nBenchmarkServerGetKey/gen2-2",
		"16992 req/s\n```\n",
	)
	rep.Server.Lines[1] = strings.Replace(rep.Server.Lines[1], "4200", "15000", 1)
	if tg := rep.serverTarget(); tg.Status() != "PASS" || !strings.Contains(tg.Measured, "15,000") {
		t.Errorf("target: %s %q", tg.Status(), tg.Measured)
	}

	rep.Server = &ServerBench{Err: "go test: exit status 1"}
	if tg := rep.serverTarget(); tg.Status() != "not measured" {
		t.Errorf("target of a failed benchmark: %s", tg.Status())
	}
	if md := rep.Markdown(); !strings.Contains(md, "Not measured:\n\n```\ngo test: exit status 1\n```") {
		t.Errorf("Markdown of a failed benchmark:\n%s", md)
	}
	rep.Server = nil
	if md := rep.Markdown(); strings.Contains(md, "request rate") {
		t.Errorf("Markdown without the benchmarks:\n%s", md)
	}
}

// TestServerCallCounting checks that both ways of counting API calls, the
// server's endpoint and its request log, agree.
func TestServerCallCounting(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and starts keymint-local")
	}
	dir := t.TempDir()
	bin, err := clirun.BuildBinary(t.Context(), dir, "keymint-local", "./cmd/keymint-local")
	if err != nil {
		t.Fatal(err)
	}
	keys := licenseKeys("count", 1)
	srv, err := startServer(t.Context(), bin, dir, "at_bench_test_token_0123456789", benchProduct, benchCustomer, keys)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.stop()
	if srv.mode != CountEndpoint {
		t.Logf("keymint-local has no GET /_local/calls: only the request log is tested")
	}
	send := func(path string, body map[string]string) *http.Response {
		data, _ := json.Marshal(body)
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, srv.url+path, bytes.NewReader(data))
		req.Header.Set("Authorization", "Bearer "+srv.token)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	post := func(path string, body map[string]string) {
		if resp := send(path, body); resp.StatusCode != http.StatusOK {
			t.Fatalf("POST %s: %s", path, resp.Status)
		}
	}
	counters := map[string]func() (map[string]int, error){
		"log": func() (map[string]int, error) { srv.mode = CountLog; return srv.calls(t.Context()) },
	}
	if srv.mode == CountEndpoint {
		counters["endpoint"] = func() (map[string]int, error) { srv.mode = CountEndpoint; return srv.calls(t.Context()) }
	}
	before := map[string]map[string]int{}
	for name, count := range counters {
		if before[name], err = count(); err != nil {
			t.Fatal(name, err)
		}
	}
	for i := range 3 {
		post("/activate-key", map[string]string{"productId": benchProduct, "licenseKey": keys[0], "hostId": hostID(i)})
	}
	for range 2 {
		post("/get-key", map[string]string{"productId": benchProduct, "licenseKey": keys[0]})
	}
	rows, err := srv.seats(t.Context())
	if err != nil || len(rows) != 3 {
		t.Errorf("seats: %v, %v", rows, err)
	}
	for name, count := range counters {
		after, err := count()
		if err != nil {
			t.Fatal(name, err)
		}
		d := diffCalls(before[name], after)
		if d["/activate-key"] != 3 || d["/get-key"] != 2 || apiCalls(d) != 5 {
			t.Errorf("%s: calls = %v, want 3 activations and 2 get-key", name, d)
		}
	}
	if cpu := processCPU(srv.pid()); runtime.GOOS == "linux" && cpu < 0 {
		t.Errorf("server CPU = %v", cpu)
	}

	// The rate limit is set, counted and removed.
	if srv.mode != CountEndpoint {
		return
	}
	limited0, err := srv.rateLimited(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.setRateLimit(t.Context(), RateLimit{2, time.Hour}); err != nil {
		t.Fatal(err)
	}
	getKey := map[string]string{"productId": benchProduct, "licenseKey": keys[0]}
	for i := range 3 {
		resp := send("/get-key", getKey)
		if want := map[bool]int{true: http.StatusOK, false: http.StatusTooManyRequests}[i < 2]; resp.StatusCode != want ||
			(i == 2 && resp.Header.Get("Retry-After") == "") {
			t.Errorf("request %d under a limit of 2/1h: %s, Retry-After %q", i+1, resp.Status, resp.Header.Get("Retry-After"))
		}
	}
	if n, err := srv.rateLimited(t.Context()); err != nil || n-limited0 != 1 {
		t.Errorf("429s counted: %d, %v; want 1", n-limited0, err)
	}
	if err := srv.setRateLimit(t.Context(), RateLimit{}); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		post("/get-key", getKey)
	}
}

// runThroughCLI runs the scenarios and variants, one repetition each and no
// warm-up, through the CLI that TF_ACC_TERRAFORM_PATH names, and returns
// the report; it skips the test without that CLI or under -short.
func runThroughCLI(t *testing.T, scenarios, variants string) *Report {
	t.Helper()
	cli := os.Getenv("TF_ACC_TERRAFORM_PATH")
	if cli == "" {
		t.Skip("TF_ACC_TERRAFORM_PATH is not set (make test sets it to the pinned Terraform)")
	}
	if testing.Short() {
		t.Skip("runs the CLI for a while")
	}
	scs, err := ParseScenarios(scenarios, 1)
	if err != nil {
		t.Fatal(err)
	}
	vs, err := ParseVariants(variants)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	var progress bytes.Buffer
	rep, err := Run(ctx, Config{Terraform: cli, Scenarios: scs, Variants: vs, NoWarmup: true, Quick: true, Progress: &progress})
	t.Log(progress.String())
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// activations and deactivations count a run's activation calls in apply
// and deactivation calls in destroy, on either path generation.
func activations(run RunResult) int {
	return run.Phases[Apply].Calls["/activate-key"] + run.Phases[Apply].Calls["/key/activate"]
}

func deactivations(run RunResult) int {
	return run.Phases[Destroy].Calls["/deactivate-key"] + run.Phases[Destroy].Calls["/key/deactivate"]
}

// assertContains reports each of wants that text (what) lacks.
func assertContains(t *testing.T, what, text string, wants ...string) {
	t.Helper()
	for _, want := range wants {
		if !strings.Contains(text, want) {
			t.Errorf("%s lacks %q:\n%s", what, want, text)
		}
	}
}

// TestQuick runs the -quick scenario end to end through the real CLI.
func TestQuick(t *testing.T) {
	rep := runThroughCLI(t, QuickScenarios, DefaultVariants)
	scs := rep.Scenarios
	n := scs[0].N
	byVariant := map[string]Summary{}
	for _, s := range rep.Summaries() {
		byVariant[s.Variant.Name] = s
	}
	if len(byVariant) != 3 {
		t.Fatalf("summaries for %d variants, want 3: %v", len(byVariant), byVariant)
	}
	km, noop, td := byVariant["keymint"], byVariant["noop"], byVariant["terraform_data"]
	if km.CallsPerResource < 2 || km.GetKeyPerPlan < 1 {
		t.Errorf("keymint made %.2f API calls per resource and %.0f get-key calls per plan", km.CallsPerResource, km.GetKeyPerPlan)
	}
	for _, run := range rep.Runs {
		if run.Variant == "keymint" {
			if got := activations(run); got != n {
				t.Errorf("keymint apply made %d activations, want %d: %v", got, n, run.Phases[Apply].Calls)
			}
			if got := deactivations(run); got != n {
				t.Errorf("keymint destroy made %d deactivations, want %d: %v", got, n, run.Phases[Destroy].Calls)
			}
		} else if run.APICalls() != 0 {
			t.Errorf("%s made API calls: %+v", run.Variant, run.Phases)
		}
	}
	if noop.CallsPerResource != 0 || td.CallsPerResource != 0 {
		t.Errorf("noop and terraform_data made API calls: %.2f, %.2f per resource", noop.CallsPerResource, td.CallsPerResource)
	}
	if runtime.GOOS == "linux" && (km.PeakRSS == 0 || noop.PeakRSS == 0 || td.PeakRSS != 0) {
		t.Errorf("peak RSS: keymint %d, noop %d, terraform_data %d; want the first two > 0", km.PeakRSS, noop.PeakRSS, td.PeakRSS)
	}
	if math.IsNaN(km.Ratio) || km.Total <= 0 || noop.Ratio != 1 {
		t.Errorf("ratios: keymint %v, noop %v", km.Ratio, noop.Ratio)
	}
	md := rep.Markdown()
	for _, v := range []string{"keymint", "noop", "terraform_data"} {
		if !strings.Contains(md, fmt.Sprintf("| %d on 1 license | %s |", n, v)) {
			t.Errorf("the table has no row for %s:\n%s", v, md)
		}
	}
	if !strings.Contains(md, "Smoke run") || !strings.Contains(md, "## Targets") {
		t.Errorf("Markdown:\n%s", md)
	}
}

// TestQuickFleet runs a small fleet scenario end to end through the real
// CLI: one keymint_license_activations, the same hosts as one
// keymint_device_activation each, the no-op provider's fleet resource and
// terraform_data holding the set.
func TestQuickFleet(t *testing.T) {
	rep := runThroughCLI(t, "fleet20", DefaultVariants)
	if len(rep.Runs) != 4 {
		t.Fatalf("%d runs, want 4 (keymint, keymint+perhost, noop, terraform_data)", len(rep.Runs))
	}
	for _, run := range rep.Runs {
		switch run.Variant {
		case "keymint", "keymint+perhost":
			// Run has already checked that keymint-local held 20 seats
			// after apply and none after destroy.
			if a, d := activations(run), deactivations(run); a != 20 || d != 20 {
				t.Errorf("%s: %d activations and %d deactivations, want 20 each: %+v", run.Variant, a, d, run.Phases)
			}
		default:
			if run.APICalls() != 0 {
				t.Errorf("%s made API calls: %+v", run.Variant, run.Phases)
			}
		}
	}
	md := rep.Markdown()
	assertContains(t, "Markdown", md, "| fleet of 20 hosts on 1 license | keymint |", "| fleet of 20 hosts on 1 license | keymint+perhost |",
		"| fleet of 20 hosts on 1 license | terraform_data | 1 |", "a fleet of 20 hosts in one keymint_license_activations: at most 2.05 API calls per host")
}

// TestRateLimited runs a small rate-limited scenario, then one without a
// limit, end to end through the real CLI.
func TestRateLimited(t *testing.T) {
	rep := runThroughCLI(t, "10@5/1s,10", "keymint,noop")
	ran := map[string]RunResult{}
	for _, run := range rep.Runs {
		ran[run.Scenario+" "+run.Variant] = run
	}
	if len(ran) != 4 || ran["10@5/1s keymint+paced"].Variant == "" {
		t.Errorf("runs: %v; want keymint and keymint+paced under the limit, keymint and noop without", slices.Collect(maps.Keys(ran)))
	}
	limited, free := ran["10@5/1s keymint"], ran["10 keymint"]
	// Ten activations at once against 5 a second: some must wait.
	if limited.Phases[Apply].RateLimited == 0 || limited.Phases[Apply].Wall < time.Second {
		t.Errorf("under the limit, apply had %d 429s and took %v", limited.Phases[Apply].RateLimited, limited.Phases[Apply].Wall)
	}
	if free.RateLimited() != 0 {
		t.Errorf("without a limit, %d 429s: the limit was not removed", free.RateLimited())
	}
	md := rep.Markdown()
	assertContains(t, "Markdown", md, "| 10 on 1 license, limit 5 requests / 1s | keymint | 1 | apply + plan + destroy |",
		"| 10 on 1 license, limit 5 requests / 1s | keymint+paced | 1 | apply + plan + destroy |", "rate-limited scenario, provider paced")
}
