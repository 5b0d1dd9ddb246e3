//go:build unix

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keymint-dev/terraform-provider-keymint/internal/localserver"
)

// The tests of keymint_license_activations through the built binary: a
// fleet in one resource, under faults.

// writeActivations writes a configuration of one keymint_license_activations
// named "fleet" that holds hosts, with the device tag "ci".
func (e *env) writeActivations(hosts []string, exclusive bool) {
	e.t.Helper()
	quoted := make([]string, len(hosts))
	for i, h := range hosts {
		quoted[i] = fmt.Sprintf("%q", h)
	}
	config := preamble + fmt.Sprintf(`
resource "keymint_license_activations" "fleet" {
  product_id  = var.product_id
  license_key = var.license_key
  host_ids    = [%s]
  device_tag  = "ci"
  exclusive   = %t
}
`, strings.Join(quoted, ", "), exclusive)
	if err := e.ws.WriteFile("main.tf", config); err != nil {
		e.t.Fatal(err)
	}
}

// fleetState returns host_ids of keymint_license_activations.fleet as
// Terraform's state records it, sorted, and whether the resource is in
// state at all.
func (e *env) fleetState(ctx context.Context) ([]string, bool) {
	e.t.Helper()
	res := e.run(ctx, "show", "-json")
	var doc struct {
		Values struct {
			RootModule struct {
				Resources []struct {
					Address string `json:"address"`
					Values  struct {
						HostIDs []string `json:"host_ids"`
					} `json:"values"`
				} `json:"resources"`
			} `json:"root_module"`
		} `json:"values"`
	}
	if strings.TrimSpace(res.Stdout) == "" {
		return nil, false
	}
	if err := json.Unmarshal([]byte(res.Stdout), &doc); err != nil {
		e.t.Fatalf("show -json: %v", err)
	}
	for _, r := range doc.Values.RootModule.Resources {
		if r.Address == "keymint_license_activations.fleet" {
			return slices.Sorted(slices.Values(r.Values.HostIDs)), true
		}
	}
	return nil, false
}

// expectFleet fails the test unless the server holds exactly the fleet's
// hosts and others, and state records exactly the fleet's hosts.
func (e *env) expectFleet(ctx context.Context, step string, fleet []string, others ...string) {
	e.t.Helper()
	want := slices.Sorted(slices.Values(append(slices.Clone(fleet), others...)))
	if got := e.hosts(); !slices.Equal(got, want) {
		e.t.Fatalf("%s: the server holds %d hosts %q, want %d %q", step, len(got), got, len(want), want)
	}
	got, _ := e.fleetState(ctx)
	if w := slices.Sorted(slices.Values(fleet)); !slices.Equal(got, w) {
		e.t.Fatalf("%s: state records %d hosts %q, want %d %q", step, len(got), got, len(w), w)
	}
}

// TestFleetNothingLostUnderFaults: a fleet of 50 in one resource against a
// server that fails 15% of requests with a 5xx, rate-limits 10% and loses
// 10% of its answers after making the change. The license has exactly the
// seats the fleet and a desktop need once a stray CI device is freed, so a
// seat taken twice, or a take before the free, would fail. Apply, a shrink,
// a grow past a new stray and destroy all converge: the server holds
// exactly what state records (and the desktop), the re-plans are empty, and
// destroy frees every seat of the fleet and nothing else.
func TestFleetNothingLostUnderFaults(t *testing.T) {
	const n = 50
	e := newEnv(t, n+1)
	for _, d := range []struct{ host, tag string }{{"desk-1", "desktop"}, {"runner-gone", "ci"}} {
		if err := e.srv.ActivateDevice(e.product, e.key, d.host, d.tag, "10.0.0.9"); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.srv.SetFaults(localserver.FaultConfig{
		ServerErrorRate: 0.15, RateLimitRate: 0.10, LostAnswerRate: 0.10,
		RetryAfter: time.Second, Seed: 42,
	}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Minute)
	defer cancel()

	all := hostIDs(n)
	e.writeActivations(all, true)
	apply := e.run(ctx, "apply", "-auto-approve", "-input=false", "-no-color")
	e.expectFleet(ctx, "apply", all, "desk-1")
	e.expectPlanEmpty(ctx)

	// 20 runners scale in.
	e.writeActivations(all[:30], true)
	e.run(ctx, "apply", "-auto-approve", "-input=false", "-no-color")
	e.expectFleet(ctx, "shrink", all[:30], "desk-1")
	e.expectPlanEmpty(ctx)

	// A runner registers itself and dies between two runs; the group grows
	// back to 50, which fits only once the stray's seat is freed.
	if err := e.srv.ActivateDevice(e.product, e.key, "runner-stray", "ci", "10.0.0.9"); err != nil {
		t.Fatal(err)
	}
	e.writeActivations(all, true)
	e.run(ctx, "apply", "-auto-approve", "-input=false", "-no-color")
	e.expectFleet(ctx, "grow", all, "desk-1")

	destroy := e.run(ctx, "destroy", "-auto-approve", "-input=false", "-no-color")
	if got := e.hosts(); !slices.Equal(got, []string{"desk-1"}) {
		t.Fatalf("after destroy the server holds %q, want the desktop only", got)
	}
	st := e.srv.FaultStats()
	if st.ServerErrors == 0 || st.RateLimited == 0 || st.LostAnswers == 0 {
		t.Fatalf("not every kind of fault was injected: %+v", st)
	}
	t.Logf("faults injected: %d server errors, %d rate limits, %d lost answers, in %d requests (%v)",
		st.ServerErrors, st.RateLimited, st.LostAnswers, st.Requests, e.srv.Calls())
	t.Logf("wall time: first apply %s, destroy %s", apply.Duration.Round(time.Millisecond), destroy.Duration.Round(time.Millisecond))
}

// TestFleetPartialFailureRecorded: a fleet grows by three hosts, and every
// activation of one of them fails (a 500, whatever the retries). The apply
// fails naming that host, the others take their seats, and state records
// exactly what the server holds, untainted; once the server recovers, the
// next apply activates only that host, and destroy frees every seat.
func TestFleetPartialFailureRecorded(t *testing.T) {
	e := newEnv(t, 10, "KEYMINT_MAX_RETRIES=2")
	var healed atomic.Bool
	n := newNetWatch(e)
	proxy := n.proxy(func(w http.ResponseWriter, r *http.Request) bool {
		if healed.Load() || operation(r) != "activate" {
			return false
		}
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		if !strings.Contains(string(body), `"host-0003"`) {
			return false
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = io.WriteString(w, `{"message":"Server error","code":1}`)
		return true
	}, nil)
	n.setBase(proxy.url)
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()

	hosts := hostIDs(6)
	e.writeActivations(hosts[:3], false)
	e.run(ctx, "apply", "-auto-approve", "-input=false", "-no-color")
	e.expectFleet(ctx, "the first apply", hosts[:3])

	e.writeActivations(hosts, false)
	res := e.mustFail(ctx, "apply", "-auto-approve", "-input=false", "-no-color")
	out := strings.Join(strings.Fields(res.Stderr), " ")
	for _, want := range []string{`Cannot activate 1 host of the license of product ` + e.product + ` (device tag "ci")`, `Hosts: "host-0003".`, `HTTP 500`} {
		if !strings.Contains(out, want) {
			t.Errorf("the error lacks %q:\n%s", want, res.Stderr)
		}
	}
	want := slices.DeleteFunc(slices.Clone(hosts), func(h string) bool { return h == "host-0003" })
	e.expectFleet(ctx, "the failed apply", want)
	if show := e.run(ctx, "show", "-no-color").Stdout; strings.Contains(show, "tainted") {
		t.Fatalf("the fleet is tainted after a failed update:\n%s", show)
	}

	healed.Store(true)
	e.srv.ResetCalls()
	plan := e.run(ctx, "plan", "-input=false", "-no-color").Stdout
	if !strings.Contains(plan, `+ "host-0003"`) || !strings.Contains(plan, "1 to change") {
		t.Errorf("the plan after the failure does not add host-0003 in place:\n%s", plan)
	}
	e.run(ctx, "apply", "-auto-approve", "-input=false", "-no-color")
	e.expectFleet(ctx, "the next apply", hosts)
	if a := e.srv.Calls()["/activate-key"] + e.srv.Calls()["/key/activate"]; a != 1 {
		t.Errorf("the plan and apply after the failure made %d activations (%v), want 1", a, e.srv.Calls())
	}
	e.expectPlanEmpty(ctx)
	e.run(ctx, "destroy", "-auto-approve", "-input=false", "-no-color")
	if got := e.hosts(); len(got) != 0 {
		t.Fatalf("after destroy the server holds %q", got)
	}
}
