package bench

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Scenario is one benchmark configuration: N activations spread over a
// number of licenses, measured Reps times, possibly with keymint-local
// rate-limited.
type Scenario struct {
	// Name is the scenario as written on the command line: "200", "1000",
	// "1000x10", "100@20/2s".
	Name string
	// N is the number of resources.
	N int
	// Licenses is the number of licenses the activations are spread over
	// (host i uses license i mod Licenses).
	Licenses int
	// Reps is the number of repetitions.
	Reps int
	// RateLimit is keymint-local's rate limit during the scenario; the zero
	// value means none.
	RateLimit RateLimit
	// Fleet makes the scenario hold its N hosts in one
	// keymint_license_activations (one terraform_data holding the set of
	// host IDs for that variant), beside N keymint_device_activation
	// resources as the per-host comparison (see scenarioVariants).
	Fleet bool
}

// floor is the variant the scenario's ratios divide by: the no-op provider,
// or in a fleet scenario terraform_data, the CLI's own cost for one
// resource holding a set of N elements.
func (sc Scenario) floor() string {
	if sc.Fleet {
		return string(KindTerraformData)
	}
	return FloorVariant
}

// inOneResource reports whether variant v holds the scenario's hosts in
// one resource: every variant of a fleet scenario but the per-host copy.
func (sc Scenario) inOneResource(v Variant) bool { return sc.Fleet && !v.PerHost }

// Limited reports whether keymint-local is rate-limited in the scenario.
func (sc Scenario) Limited() bool { return sc.RateLimit.Requests > 0 }

// slug is the scenario's name with only characters that license keys and
// file names take.
func (sc Scenario) slug() string {
	return strings.NewReplacer("@", "_at_", "/", "_per_").Replace(sc.Name)
}

// RateLimit is a limit of Requests API requests per access token in any
// interval of length Window, a strict sliding window, as keymint-local's
// -rate-limit and PUT /_local/rate-limit set it.
type RateLimit struct {
	Requests int
	Window   time.Duration
}

// Rate is the sustained rate the limit allows, in requests per second.
func (l RateLimit) Rate() float64 { return float64(l.Requests) / l.Window.Seconds() }

// PerMinute is the limit as whole requests a minute, rounded down (at
// least 1): what a user sets max_requests_per_minute to.
func (l RateLimit) PerMinute() int { return max(1, int(l.Rate()*60)) }

// String returns the limit as the scenarios write it: "20/2s", "100/1m".
func (l RateLimit) String() string { return fmt.Sprintf("%d/%s", l.Requests, shortDuration(l.Window)) }

// shortDuration writes d without the zero units time.Duration.String adds
// after minutes and hours: "1m" rather than "1m0s".
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// parseRateLimit parses R/WINDOW: R ≥ 1 requests per Go duration WINDOW > 0.
func parseRateLimit(s string) (RateLimit, bool) {
	r, w, ok := strings.Cut(s, "/")
	if !ok {
		return RateLimit{}, false
	}
	requests, err := strconv.Atoi(r)
	if err != nil || requests < 1 {
		return RateLimit{}, false
	}
	window, err := time.ParseDuration(w)
	if err != nil || window <= 0 {
		return RateLimit{}, false
	}
	return RateLimit{Requests: requests, Window: window}, true
}

// DefaultScenarios are the scenarios of `make bench`.
const DefaultScenarios = "200,1000,1000x10,100@20/2s,fleet"

// fleetPrefix starts a fleet scenario: fleetN, or fleet for
// DefaultFleetHosts hosts.
const fleetPrefix = "fleet"

// DefaultFleetHosts is the size of the fleet scenario "fleet".
const DefaultFleetHosts = 1000

// FleetReps is the default repetitions of a fleet scenario: its
// fleet-shaped variants take seconds, so a median of 3 costs little beside
// the per-host comparison.
const FleetReps = 3

// QuickScenarios is the smoke run of -quick.
const QuickScenarios = "20"

// DefaultReps returns the repetitions of a scenario of n resources when
// none are given: 5 up to 200 resources (on a shared machine the wall time
// of a single run varies by tens of percent, so a median of 3 is not
// enough to judge a 10% target), 1 above (a 1,000-resource round takes
// minutes). A rate-limited scenario gets 1 (ParseScenarios): its time is
// set by the limit, not by the machine.
func DefaultReps(n int) int {
	if n <= 200 {
		return 5
	}
	return 1
}

// ParseScenarios parses a comma-separated list of scenarios, each N or
// NxLICENSES, optionally followed by @R/WINDOW: keymint-local limited to
// R requests per access token in any WINDOW (a Go duration), as in
// 100@20/2s or 1000x10@100/1m; or fleetN (fleet: DefaultFleetHosts), N
// hosts in one keymint_license_activations on one license. reps > 0 sets
// the repetitions of every scenario; otherwise DefaultReps applies, 1 to a
// rate-limited one and FleetReps to a fleet.
func ParseScenarios(list string, reps int) ([]Scenario, error) {
	var out []Scenario
	seen := map[string]bool{}
	for _, item := range strings.Split(list, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		if rest, ok := strings.CutPrefix(strings.ToLower(item), fleetPrefix); ok {
			n := DefaultFleetHosts
			if rest != "" {
				var err error
				if n, err = strconv.Atoi(rest); err != nil || n < 1 {
					return nil, fmt.Errorf("scenario %q: want fleet or fleetN with N ≥ 1 hosts (one license, no rate limit)", item)
				}
			}
			name := fleetPrefix + strconv.Itoa(n)
			if seen[name] {
				continue
			}
			seen[name] = true
			r := reps
			if r <= 0 {
				r = FleetReps
			}
			out = append(out, Scenario{Name: name, N: n, Licenses: 1, Reps: r, Fleet: true})
			continue
		}
		size, limitPart, hasLimit := strings.Cut(strings.ToLower(item), "@")
		nPart, lPart, hasL := strings.Cut(size, "x")
		n, err := strconv.Atoi(nPart)
		if err != nil || n < 1 {
			return nil, fmt.Errorf("scenario %q: want N or NxLICENSES with N ≥ 1, optionally followed by @R/WINDOW", item)
		}
		licenses := 1
		if hasL {
			if licenses, err = strconv.Atoi(lPart); err != nil || licenses < 1 || licenses > n {
				return nil, fmt.Errorf("scenario %q: want 1 ≤ LICENSES ≤ N", item)
			}
		}
		var limit RateLimit
		if hasLimit {
			var ok bool
			if limit, ok = parseRateLimit(limitPart); !ok {
				return nil, fmt.Errorf("scenario %q: want @R/WINDOW with R ≥ 1 requests in a window such as 2s or 1m", item)
			}
		}
		name := strconv.Itoa(n)
		if licenses > 1 {
			name += "x" + strconv.Itoa(licenses)
		}
		if hasLimit {
			name += "@" + limit.String()
		}
		if seen[name] {
			continue
		}
		seen[name] = true
		r := reps
		switch {
		case r > 0:
		case hasLimit:
			r = 1
		default:
			r = DefaultReps(n)
		}
		out = append(out, Scenario{Name: name, N: n, Licenses: licenses, Reps: r, RateLimit: limit})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no scenario in %q", list)
	}
	return out, nil
}

// Kind is what serves keymint_device_activation in a variant.
type Kind string

// The kinds of variant.
const (
	// KindKeymint is the real provider, talking to keymint-local.
	KindKeymint Kind = "keymint"
	// KindNoop is the no-op provider (package noopprovider): the floor.
	KindNoop Kind = "noop"
	// KindTerraformData is terraform_data, built into the CLI: no plugin.
	KindTerraformData Kind = "terraform_data"
)

// Variant is one thing timed in each scenario: a kind, possibly with
// logging switched off.
type Variant struct {
	// Name is the variant as written on the command line, such as
	// "keymint" or "noop+logoff".
	Name string
	Kind Kind
	// Env is added to the CLI's environment (and so the provider's).
	Env []string
	// PerHost, in a fleet scenario, gives the variant one
	// keymint_device_activation per host instead of one
	// keymint_license_activations.
	PerHost bool
}

// DefaultVariants are the variants of `make bench`.
const DefaultVariants = "keymint,noop,terraform_data"

// FloorVariant is the variant the others are compared with.
const FloorVariant = "noop"

// variantSuffixes switch off plugin logging. The framework, terraform-plugin-go
// and the provider's own tflog calls log at TRACE unless told otherwise, and
// the CLI receives and parses every line even when it discards them.
var variantSuffixes = map[string][]string{
	// The provider's own logs (tflog): TF_LOG_PROVIDER.
	"provlogoff": {"TF_LOG_PROVIDER=off"},
	// The SDK's logs: terraform-plugin-go, its protocol subsystem and the
	// framework subsystem.
	"sdklogoff": {"TF_LOG_SDK=off", "TF_LOG_SDK_PROTO=off", "TF_LOG_SDK_FRAMEWORK=off"},
	// Everything the plugin logs.
	"logoff": {"TF_LOG_PROVIDER=off", "TF_LOG_SDK=off", "TF_LOG_SDK_PROTO=off", "TF_LOG_SDK_FRAMEWORK=off"},
}

// ParseVariants parses a comma-separated list of variants: keymint, noop or
// terraform_data, each optionally followed by +provlogoff
// (TF_LOG_PROVIDER=off), +sdklogoff (the SDK and framework loggers off) or
// +logoff (both).
func ParseVariants(list string) ([]Variant, error) {
	var out []Variant
	seen := map[string]bool{}
	for _, item := range strings.Split(list, ",") {
		item = strings.TrimSpace(item)
		if item == "" || seen[item] {
			continue
		}
		seen[item] = true
		base, suffix, hasSuffix := strings.Cut(item, "+")
		v := Variant{Name: item, Kind: Kind(base)}
		switch v.Kind {
		case KindKeymint, KindNoop, KindTerraformData:
		default:
			return nil, fmt.Errorf("variant %q: want keymint, noop or terraform_data, optionally with +provlogoff, +sdklogoff or +logoff", item)
		}
		if hasSuffix {
			env, ok := variantSuffixes[suffix]
			if !ok {
				return nil, fmt.Errorf("variant %q: unknown suffix +%s (want +provlogoff, +sdklogoff or +logoff)", item, suffix)
			}
			v.Env = env
		}
		out = append(out, v)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no variant in %q", list)
	}
	return out, nil
}

// PacedSuffix names the copy of a keymint variant that a rate-limited
// scenario adds: the provider told the limit with max_requests_per_minute,
// so that it paces its requests instead of reacting to 429s.
const PacedSuffix = "+paced"

// PerHostSuffix names the copy of a keymint variant that a fleet scenario
// adds: the same hosts as one keymint_device_activation each.
const PerHostSuffix = "+perhost"

// scenarioVariants returns the variants that run in sc: in a rate-limited
// scenario only the keymint ones, since the others make no API call, each
// once reacting to the server's 429s and once paced to the limit; in a
// fleet scenario every variant holds the fleet in one resource, and each
// keymint variant runs a second time with one resource per host.
func scenarioVariants(sc Scenario, vs []Variant) []Variant {
	if sc.Fleet {
		var out []Variant
		for _, v := range vs {
			out = append(out, v)
			if v.Kind == KindKeymint {
				perHost := v
				perHost.Name += PerHostSuffix
				perHost.PerHost = true
				out = append(out, perHost)
			}
		}
		return out
	}
	if !sc.Limited() {
		return vs
	}
	var out []Variant
	for _, v := range vs {
		if v.Kind == KindKeymint {
			paced := v
			paced.Name += PacedSuffix
			paced.Env = append(slices.Clone(v.Env), fmt.Sprintf("KEYMINT_MAX_REQUESTS_PER_MINUTE=%d", sc.RateLimit.PerMinute()))
			out = append(out, v, paced)
		}
	}
	return out
}

// rotate returns the variants in the order of round r: rotated left by r,
// so that over the rounds each variant runs first, second, … in turn and
// drift on the machine does not favour one of them.
func rotate(vs []Variant, r int) []Variant {
	out := make([]Variant, len(vs))
	for i := range vs {
		out[i] = vs[(i+r)%len(vs)]
	}
	return out
}
