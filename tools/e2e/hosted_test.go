//go:build unix

package e2e

import (
	"context"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/keymint-dev/terraform-provider-keymint/internal/localserver"
)

// The tests of this file run the provider against keymint-local shaped like
// the hosted service as some users meet it: a plan's rate limit, a token
// that may activate but not read, a custom key format, a server that serves
// only the /key/... paths.

// TestFleetUnderRateLimit: 30 activations at -parallelism=10 against a limit
// of 3 requests per 3 seconds. Every request of the provider waits for the
// moment the server names, so nothing fails: apply, an empty re-plan and
// destroy all succeed, and the server ends empty.
func TestFleetUnderRateLimit(t *testing.T) {
	const n = 30
	e := newEnvWith(t, envOptions{seats: n, rateLimit: localserver.RateLimit{Requests: 3, Window: 3 * time.Second}})
	e.writeFleet(n)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Minute)
	defer cancel()

	apply := e.run(ctx, "apply", "-auto-approve", "-input=false", "-no-color", "-parallelism=10")
	if got := e.hosts(); !slices.Equal(got, hostIDs(n)) {
		t.Fatalf("after apply the server holds %d hosts, want the %d configured:\n%s", len(got), n, apply.Stdout)
	}
	limited := e.srv.FaultStats().RateLimited
	if limited == 0 {
		t.Fatalf("the server never answered 429 (%d API calls): the test proves nothing", e.srv.TotalCalls())
	}
	e.expectPlanEmpty(ctx)
	destroy := e.run(ctx, "destroy", "-auto-approve", "-input=false", "-no-color", "-parallelism=10")
	if got := e.hosts(); len(got) != 0 {
		t.Fatalf("after destroy the server still holds %v", got)
	}
	for _, out := range []string{apply.Stdout + apply.Stderr, destroy.Stdout + destroy.Stderr} {
		if strings.Contains(out, "Error") {
			t.Fatalf("the CLI reported an error:\n%s", out)
		}
	}
	t.Logf("%d API calls (%v), %d answered 429; apply %s, destroy %s", e.srv.TotalCalls(), e.srv.Calls(),
		e.srv.FaultStats().RateLimited, apply.Duration.Round(time.Millisecond), destroy.Duration.Round(time.Millisecond))
}

// TestRateLimitGiveUp: with a rate_limit_wait shorter than the server's
// Retry-After, the activations the limit refuses fail with an error that
// says they were rate-limited, how long they waited, what the server said
// and what to do; the ones that got through are in state, and state and
// server agree.
func TestRateLimitGiveUp(t *testing.T) {
	const n = 5
	e := newEnvWith(t, envOptions{
		seats:     n,
		rateLimit: localserver.RateLimit{Requests: 2, Window: time.Minute},
		env:       []string{"KEYMINT_RATE_LIMIT_WAIT=2s"},
	})
	e.writeFleet(n)
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()

	res, err := e.ws.Run(ctx, "apply", "-auto-approve", "-input=false", "-no-color")
	if err == nil {
		t.Fatalf("apply succeeded against a limit of 2 requests a minute:\n%s", res.Stdout)
	}
	out := res.Stdout + res.Stderr
	for _, want := range []string{
		"KeyMint rate limit",
		"rate-limited",
		"Too many requests. Please try again later.",
		"RATE_LIMIT_EXCEEDED",
		"-parallelism",
		"max_requests_per_minute",
		"rate_limit_wait",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the error does not say %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, e.key) || strings.Contains(out, e.token) {
		t.Errorf("the output holds a secret:\n%s", out)
	}
	if res.Duration > 90*time.Second {
		t.Errorf("apply took %s: it should give up after rate_limit_wait (2s), not wait for the server's minute", res.Duration)
	}
	stateHosts, serverHosts := e.stateHosts(ctx), e.hosts()
	for _, h := range serverHosts {
		if !slices.Contains(stateHosts, h) {
			t.Errorf("the server holds %q, which state does not: a leaked seat (state %v, server %v)", h, stateHosts, serverHosts)
		}
	}
	if len(serverHosts) == n {
		t.Errorf("every activation got through (%v): the limit did not bite", serverHosts)
	}
}

// TestActivateOnlyToken: a "client" token that may activate but not read
// creates two activations without tainting them, warns once what it cannot
// see, plans empty afterwards, and destroys them.
func TestActivateOnlyToken(t *testing.T) {
	client := localserver.TokenSeed{Token: "at_client_" + randomHex(16), Scopes: []string{localserver.ScopeLicensesActivate}}
	e := newEnvWith(t, envOptions{seats: 2, tokens: []localserver.TokenSeed{client}})
	e.writeFleet(2)
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()

	apply := e.run(ctx, "apply", "-auto-approve", "-input=false", "-no-color")
	if got := e.hosts(); !slices.Equal(got, hostIDs(2)) {
		t.Fatalf("after apply the server holds %v, want %v", got, hostIDs(2))
	}
	if tainted := e.taintedHosts(ctx); len(tainted) != 0 {
		t.Fatalf("activations made with an activate-only token are tainted: %v", tainted)
	}
	const warning = "The access token cannot read licenses"
	if c := strings.Count(apply.Stdout+apply.Stderr, warning); c != 1 {
		t.Errorf("apply warned %q %d times, want once:\n%s", warning, c, apply.Stdout)
	}
	if out := apply.Stdout + apply.Stderr; !strings.Contains(out, "licenses:read") {
		t.Errorf("the warning does not name the missing scope:\n%s", out)
	}
	e.expectPlanEmpty(ctx)
	e.run(ctx, "destroy", "-auto-approve", "-input=false", "-no-color")
	if got := e.hosts(); len(got) != 0 {
		t.Fatalf("after destroy the server still holds %v", got)
	}
}

// TestCustomKeyFormat: a 17-character key, as KeyMint's custom formats make
// (its docs show 0B4ADFD8-8C47ECD0), is accepted from plan to destroy.
func TestCustomKeyFormat(t *testing.T) {
	e := newEnvWith(t, envOptions{seats: 2, key: "0B4ADFD8-8C47ECD0"})
	e.writeFleet(2)
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()

	e.lifecycle(ctx, 2)
}

// TestOnlyGeneration2WithDefaults: against a server that serves only the
// /key/... paths, the provider with default settings (api_version auto)
// finds them after one call answered as an unknown route, says so once per
// run, and works from apply to destroy.
func TestOnlyGeneration2WithDefaults(t *testing.T) {
	e := newEnvWith(t, envOptions{seats: 3, api: "v2"})
	e.ws.Unsetenv("KEYMINT_API_VERSION")
	log := logFile(t)
	e.ws.Setenv("TF_LOG_PROVIDER=INFO", "TF_LOG_PATH="+log)
	e.writeFleet(3)
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()

	e.lifecycle(ctx, 3)
	raw, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	data := string(raw)
	// Terraform starts a provider process for each plan and each apply.
	// Each process that calls the API starts on the seed's paths, and
	// switches once, when a call is answered there as an unknown route: the
	// calls already in flight by then (at most the 3 hosts) may each try
	// the seed's paths once too.
	processes := strings.Count(data, "configuring server automatic mTLS")
	switches := strings.Count(data, "using the generation-2 paths (/key/...) from now on")
	if switches < 1 || switches > processes {
		t.Errorf("the log says it switched %d times in %d provider processes, want at most once each:\n%s", switches, processes, tail(data, 3000))
	}
	calls := e.srv.Calls()
	v1 := calls["/activate-key"] + calls["/deactivate-key"] + calls["/get-key"]
	if v1 < switches || v1 > 3*switches {
		t.Errorf("the provider called the generation-1 paths %d times (%v) in %d runs that switched; want one to three each", v1, calls, switches)
	}
	if calls["/key/activate"] != 3 || calls["/key/deactivate"] != 3 {
		t.Errorf("calls by path = %v; want 3 activations and 3 deactivations on the /key/... paths", calls)
	}
}

// lifecycle applies the fleet of n that the workspace holds, checks that the
// server holds exactly its hosts and that a re-plan is empty, destroys it and
// checks that every seat is free again.
func (e *env) lifecycle(ctx context.Context, n int) {
	e.t.Helper()
	e.run(ctx, "apply", "-auto-approve", "-input=false", "-no-color")
	if got := e.hosts(); !slices.Equal(got, hostIDs(n)) {
		e.t.Fatalf("after apply the server holds %v, want %v", got, hostIDs(n))
	}
	e.expectPlanEmpty(ctx)
	e.run(ctx, "destroy", "-auto-approve", "-input=false", "-no-color")
	if got := e.hosts(); len(got) != 0 {
		e.t.Fatalf("after destroy the server still holds %v", got)
	}
}

// tail is the end of s, for messages.
func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}

// TestMachineCreateBeforeDestroy: a machine with create_before_destroy and
// an activation that depends on it (host_id is the machine's ID). Terraform
// passes create_before_destroy on to what a resource depends on, not to
// what depends on it, so the activation is replaced destroy-first: the old
// machine's seat is freed before the new machine's is taken, and a license
// of one seat is enough for the replacement.
func TestMachineCreateBeforeDestroy(t *testing.T) {
	e := newEnv(t, 1)
	config := preamble + `
variable "generation" { type = string }

resource "terraform_data" "machine" {
  triggers_replace = var.generation
  lifecycle {
    create_before_destroy = true
  }
}

resource "keymint_device_activation" "machine" {
  product_id  = var.product_id
  license_key = var.license_key
  host_id     = terraform_data.machine.id
}
`
	if err := e.ws.WriteFile("main.tf", config); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()

	e.run(ctx, "apply", "-auto-approve", "-input=false", "-no-color", "-var=generation=1")
	first := e.hosts()
	if len(first) != 1 {
		t.Fatalf("after the first apply the server holds %v, want one machine", first)
	}
	res := e.run(ctx, "apply", "-auto-approve", "-input=false", "-no-color", "-var=generation=2")
	t.Logf("replacement:\n%s", res.Stdout)
	second := e.hosts()
	if len(second) != 1 || second[0] == first[0] {
		t.Fatalf("after replacing the machine the server holds %v (before: %v), want the new machine only:\n%s", second, first, res.Stdout)
	}
	e.run(ctx, "destroy", "-auto-approve", "-input=false", "-no-color", "-var=generation=2")
	if got := e.hosts(); len(got) != 0 {
		t.Fatalf("after destroy the server still holds %v", got)
	}
}
