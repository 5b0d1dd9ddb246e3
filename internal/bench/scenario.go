package bench

import (
	"fmt"
	"strconv"
	"strings"
)

// Scenario is one benchmark configuration: N activations spread over a
// number of licenses, measured Reps times.
type Scenario struct {
	// Name is the scenario as written on the command line: "200", "1000",
	// "1000x10".
	Name string
	// N is the number of resources.
	N int
	// Licenses is the number of licenses the activations are spread over
	// (host i uses license i mod Licenses).
	Licenses int
	// Reps is the number of repetitions.
	Reps int
}

// DefaultScenarios are the scenarios of `make bench`.
const DefaultScenarios = "200,1000,1000x10"

// QuickScenarios is the smoke run of -quick.
const QuickScenarios = "20"

// DefaultReps returns the repetitions of a scenario when none are given:
// 5 up to 200 resources (on a shared machine the wall time of a single run
// varies by tens of percent, so a median of 3 is not enough to judge a 10%
// target), 1 above (a 1,000-resource round takes minutes).
func DefaultReps(n int) int {
	if n <= 200 {
		return 5
	}
	return 1
}

// ParseScenarios parses a comma-separated list of scenarios, each N or
// NxLICENSES. reps > 0 sets the repetitions of every scenario; otherwise
// DefaultReps applies.
func ParseScenarios(list string, reps int) ([]Scenario, error) {
	var out []Scenario
	seen := map[string]bool{}
	for _, item := range strings.Split(list, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		nPart, lPart, hasL := strings.Cut(strings.ToLower(item), "x")
		n, err := strconv.Atoi(nPart)
		if err != nil || n < 1 {
			return nil, fmt.Errorf("scenario %q: want N or NxLICENSES with N ≥ 1", item)
		}
		licenses := 1
		if hasL {
			if licenses, err = strconv.Atoi(lPart); err != nil || licenses < 1 || licenses > n {
				return nil, fmt.Errorf("scenario %q: want 1 ≤ LICENSES ≤ N", item)
			}
		}
		name := strconv.Itoa(n)
		if licenses > 1 {
			name += "x" + strconv.Itoa(licenses)
		}
		if seen[name] {
			continue
		}
		seen[name] = true
		r := reps
		if r <= 0 {
			r = DefaultReps(n)
		}
		out = append(out, Scenario{Name: name, N: n, Licenses: licenses, Reps: r})
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
