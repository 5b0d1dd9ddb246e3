//go:build unix

package e2e

import (
	"context"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/keymint-dev/terraform-provider-keymint/internal/localserver"
)

// TestNothingLostUnderFaults: 50 activations against a server that fails 15%
// of requests with a 5xx, rate-limits 10% and loses 10% of its answers after
// making the change. Apply succeeds, the server holds exactly the 50 hosts
// (on a license of exactly 50 seats, so a seat taken twice would fail), the
// re-plan is empty, and destroy under the same faults frees every seat.
func TestNothingLostUnderFaults(t *testing.T) {
	const n = 50
	e := newEnv(t, n)
	e.writeFleet(n)
	faults := localserver.FaultConfig{
		ServerErrorRate: 0.15, RateLimitRate: 0.10, LostAnswerRate: 0.10,
		RetryAfter: time.Second, Seed: 42,
	}
	if err := e.srv.SetFaults(faults); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Minute)
	defer cancel()

	apply := e.run(ctx, "apply", "-auto-approve", "-input=false", "-no-color")
	if got, want := e.hosts(), hostIDs(n); !slices.Equal(got, want) {
		t.Fatalf("after apply the server holds %d hosts %v, want exactly the %d configured", len(got), got, n)
	}
	if got := e.stateHosts(ctx); !slices.Equal(got, hostIDs(n)) {
		t.Fatalf("state holds %d activations, want %d", len(got), n)
	}
	plan := time.Now()
	e.expectPlanEmpty(ctx)
	planTime := time.Since(plan)
	destroy := e.run(ctx, "destroy", "-auto-approve", "-input=false", "-no-color")
	if got := e.hosts(); len(got) != 0 {
		t.Fatalf("after destroy the server still holds %v", got)
	}
	st := e.srv.FaultStats()
	if st.ServerErrors == 0 || st.RateLimited == 0 || st.LostAnswers == 0 {
		t.Fatalf("not every kind of fault was injected: %+v", st)
	}
	t.Logf("faults injected: %d server errors, %d rate limits, %d lost answers, in %d requests (%d API calls by path: %v)",
		st.ServerErrors, st.RateLimited, st.LostAnswers, st.Requests, e.srv.TotalCalls(), e.srv.Calls())
	t.Logf("seats expected %d, found %d after apply, 0 after destroy; wall time apply %s, plan %s, destroy %s",
		n, n, apply.Duration.Round(time.Millisecond), planTime.Round(time.Millisecond), destroy.Duration.Round(time.Millisecond))
}

// TestInterruptedApply: Ctrl-C during an apply of 100 activations, then apply
// again: the server ends with exactly the 100 hosts, the state agrees, and
// destroy frees them all.
func TestInterruptedApply(t *testing.T) {
	const n = 100
	e := newEnv(t, n)
	e.writeFleet(n)
	// Slow answers, so that the interrupt lands mid-way.
	if err := e.srv.SetFaults(localserver.FaultConfig{Latency: 40 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Minute)
	defer cancel()

	p, err := e.ws.Start(ctx, "apply", "-auto-approve", "-input=false", "-no-color")
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	for len(e.hosts()) < n/4 {
		select {
		case <-p.Done():
			t.Fatalf("apply ended before it could be interrupted:\n%s", p.Stderr())
		case <-time.After(20 * time.Millisecond):
		}
	}
	// Like Ctrl-C in a terminal: SIGINT to the whole process group, the
	// provider included.
	if err := syscall.Kill(-p.Pid(), syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	res, err := p.Wait()
	if err == nil {
		t.Fatalf("the interrupted apply succeeded; it was meant to stop early:\n%s", res.Stdout)
	}
	atInterrupt := e.hosts()
	inState := e.stateHosts(ctx)
	if len(atInterrupt) >= n {
		t.Fatalf("all %d hosts were activated before the interrupt took effect; nothing was tested", n)
	}
	// Whatever the interrupted apply recorded is really on the server, unless
	// it is marked tainted: an activation cut off by the interrupt, whose
	// outcome was unknown, kept so that the next apply or destroy settles it.
	tainted := e.taintedHosts(ctx)
	for _, h := range inState {
		if !slices.Contains(atInterrupt, h) && !tainted[h] {
			t.Errorf("state records %s, which holds no seat and is not tainted", h)
		}
	}
	t.Logf("interrupted after %s: %d seats taken, %d activations in state (%d tainted)",
		time.Since(start).Round(time.Millisecond), len(atInterrupt), len(inState), len(tainted))

	if err := e.srv.SetFaults(localserver.FaultConfig{}); err != nil {
		t.Fatal(err)
	}
	e.run(ctx, "apply", "-auto-approve", "-input=false", "-no-color")
	if got := e.hosts(); !slices.Equal(got, hostIDs(n)) {
		t.Fatalf("after the second apply the server holds %d hosts, want exactly %d", len(got), n)
	}
	if got := e.stateHosts(ctx); !slices.Equal(got, hostIDs(n)) {
		t.Fatalf("after the second apply state holds %d activations, want %d", len(got), n)
	}
	e.expectPlanEmpty(ctx)
	e.run(ctx, "destroy", "-auto-approve", "-input=false", "-no-color")
	if got := e.hosts(); len(got) != 0 {
		t.Fatalf("after destroy the server still holds %v", got)
	}
}

// TestSeatLimitUnderParallelism: 20 hosts applied at -parallelism=20 on a
// 10-seat license: exactly 10 succeed, the other 10 fail with the seat-limit
// error and nothing else, state and server agree, and destroy frees all.
func TestSeatLimitUnderParallelism(t *testing.T) {
	e := newEnv(t, 10)
	e.writeFleet(20)
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()

	res, err := e.ws.Run(ctx, "apply", "-auto-approve", "-input=false", "-no-color", "-parallelism=20")
	if err == nil {
		t.Fatal("apply of 20 hosts on 10 seats succeeded")
	}
	errs := regexp.MustCompile(`(?m)^Error: (.*)$`).FindAllStringSubmatch(res.Stderr, -1)
	seatErrors := 0
	for _, m := range errs {
		if m[1] == "License seat limit reached" {
			seatErrors++
		} else {
			t.Errorf("unexpected error: %s", m[1])
		}
	}
	if seatErrors != 10 {
		t.Errorf("%d seat-limit errors, want 10:\n%s", seatErrors, res.Stderr)
	}
	if !strings.Contains(res.Stderr, "10 of 10 seats are in use") {
		t.Errorf("the error does not say how many seats are used:\n%s", res.Stderr)
	}
	server, state := e.hosts(), e.stateHosts(ctx)
	if len(server) != 10 || !slices.Equal(server, state) {
		t.Fatalf("server holds %v, state %v; want the same 10", server, state)
	}
	e.run(ctx, "destroy", "-auto-approve", "-input=false", "-no-color")
	if got := e.hosts(); len(got) != 0 {
		t.Fatalf("after destroy the server still holds %v", got)
	}
}

// TestPlanReadsEachLicenseOnce: a plan of N activations of one license makes
// exactly one get-key call, however many activations share the license.
func TestPlanReadsEachLicenseOnce(t *testing.T) {
	const n = 120
	e := newEnv(t, 0)
	e.writeFleet(n)
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	apply := e.run(ctx, "apply", "-auto-approve", "-input=false", "-no-color")
	applyCalls := e.srv.Calls()
	e.srv.ResetCalls()
	e.expectPlanEmpty(ctx)
	getKey := "/get-key"
	if e.apiV2() {
		getKey = "/key"
	}
	if got := e.srv.Calls()[getKey]; got != 1 {
		t.Errorf("a plan of %d activations of one license made %d get-key calls, want 1", n, got)
	}
	if got := e.srv.TotalCalls(); got != 1 {
		t.Errorf("a plan made %d API calls (%v), want 1", got, e.srv.Calls())
	}
	t.Logf("apply of %d: %v in %s", n, applyCalls, apply.Duration.Round(time.Millisecond))
	e.run(ctx, "destroy", "-auto-approve", "-input=false", "-no-color")
}

func (e *env) apiV2() bool {
	for _, kv := range e.ws.Env {
		if kv == "KEYMINT_API_VERSION=v2" {
			return true
		}
	}
	return false
}

// TestMisroutedRequestsLoseNothing: with a base_url that points at a path
// the server does not serve (every call answers 404 "Not found"), a refresh
// must not drop activations from state and a destroy must not report seats
// freed; once base_url is fixed, destroy frees them.
func TestMisroutedRequestsLoseNothing(t *testing.T) {
	e := newEnv(t, 2)
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	e.writeFleet(2)
	e.run(ctx, "apply", "-auto-approve", "-input=false", "-no-color")

	e.ws.Setenv("KEYMINT_BASE_URL=" + e.url + "/wrong-prefix")
	for _, args := range [][]string{
		{"plan", "-input=false", "-no-color"},
		{"destroy", "-auto-approve", "-input=false", "-no-color"},
	} {
		res, err := e.ws.Run(ctx, args...)
		if err == nil {
			t.Fatalf("%s with a misrouted base_url succeeded, want an error:\n%s", args[0], res.Stdout)
		}
		if !strings.Contains(res.Stderr, "HTTP 404") || strings.Contains(res.Stderr, "License not found") {
			t.Errorf("%s: want the 404 reported as it is, not as a license that is gone:\n%s", args[0], res.Stderr)
		}
		if got := e.stateHosts(ctx); len(got) != 2 {
			t.Fatalf("after a failed %s the state holds %q, want both activations", args[0], got)
		}
		if got := e.hosts(); len(got) != 2 {
			t.Fatalf("after a failed %s the server holds %q, want both seats still taken", args[0], got)
		}
	}

	e.ws.Setenv("KEYMINT_BASE_URL=" + e.url)
	e.run(ctx, "destroy", "-auto-approve", "-input=false", "-no-color")
	if got := e.hosts(); len(got) != 0 {
		t.Fatalf("after destroy the server holds %q", got)
	}
}
