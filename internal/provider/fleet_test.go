package provider

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-framework/types/basetypes"
	"github.com/hashicorp/terraform-plugin-go/tftypes"

	"github.com/keymint-dev/terraform-provider-keymint/internal/keymint"
	"github.com/keymint-dev/terraform-provider-keymint/internal/localserver"
)

const (
	fleetTestToken   = "at_fleet_test_token"
	fleetTestProduct = "prod_fleet_test_0000000"
	fleetTestKey     = "LK-FLEET-TEST-0000-0000"
)

func TestHostSetEquality(t *testing.T) {
	ctx := t.Context()
	abc := newHostSet([]string{"a", "b", "c"})
	tests := []struct {
		name string
		a, b hostSetValue
		want bool
	}{
		{"same order", abc, newHostSet([]string{"a", "b", "c"}), true},
		{"other order", abc, newHostSet([]string{"c", "a", "b"}), true},
		{"one differs", abc, newHostSet([]string{"a", "b", "d"}), false},
		{"one more", abc, newHostSet([]string{"a", "b", "c", "d"}), false},
		{"empty and empty", newHostSet(nil), newHostSet([]string{}), true},
		{"empty and null", newHostSet(nil), hostSetNull(), false},
		{"null and null", hostSetNull(), hostSetNull(), true},
		{"unknown and unknown", hostSetUnknown(), hostSetUnknown(), true},
		{"unknown and known", hostSetUnknown(), abc, false},
		{"unknown element", hostSetValue{SetValue: basetypes.NewSetValueMust(types.StringType, []attr.Value{types.StringUnknown()})},
			hostSetValue{SetValue: basetypes.NewSetValueMust(types.StringType, []attr.Value{types.StringValue("")})}, false},
	}
	for _, tt := range tests {
		if got := tt.a.Equal(tt.b); got != tt.want {
			t.Errorf("%s: Equal = %v, want %v", tt.name, got, tt.want)
		}
		if got := tt.b.Equal(tt.a); got != tt.want {
			t.Errorf("%s: Equal (swapped) = %v, want %v", tt.name, got, tt.want)
		}
		// The framework's own comparison agrees.
		if got := tt.a.SetValue.Equal(tt.b.SetValue); got != tt.want {
			t.Errorf("%s: the framework's Equal = %v, want %v (the test is wrong)", tt.name, got, tt.want)
		}
		if tt.a.IsNull() || tt.a.IsUnknown() {
			continue
		}
		eq, diags := tt.a.SetSemanticEquals(ctx, tt.b)
		if diags.HasError() || eq != tt.want {
			t.Errorf("%s: SetSemanticEquals = %v, %v; want %v", tt.name, eq, diags, tt.want)
		}
	}
	if abc.Equal(abc.SetValue) {
		t.Error("a host set equals a plain set value")
	}
	v, err := hostSetOf.ValueFromTerraform(ctx, mustTF(t, abc))
	if err != nil || !v.Equal(abc) {
		t.Errorf("ValueFromTerraform round trip = %v, %v", v, err)
	}
	if !hostSetOf.Equal(hostSetOf) || hostSetOf.Equal(basetypes.SetType{ElemType: types.StringType}) {
		t.Error("hostSetType.Equal is wrong")
	}
	hosts, known := newHostSet([]string{"b", "a"}).hosts()
	if !known || !slices.Equal(hosts, []string{"a", "b"}) {
		t.Errorf("hosts() = %v, %v", hosts, known)
	}
	if _, known := hostSetUnknown().hosts(); known {
		t.Error("an unknown set's hosts are known")
	}
}

func mustTF(t *testing.T, v attr.Value) tftypes.Value {
	t.Helper()
	tv, err := v.ToTerraformValue(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return tv
}

// BenchmarkHostSetEqual compares host_ids of 1,000 hosts as the framework's
// set does (a linear search per element) and as hostSetValue does.
func BenchmarkHostSetEqual(b *testing.B) {
	hosts := make([]string, 1000)
	for i := range hosts {
		hosts[i] = fmt.Sprintf("i-%016x", i*7919)
	}
	reversed := slices.Clone(hosts)
	slices.Reverse(reversed)
	x, y := newHostSet(hosts), newHostSet(reversed)
	b.Run("framework", func(b *testing.B) {
		for b.Loop() {
			if !x.SetValue.Equal(y.SetValue) {
				b.Fatal("unequal")
			}
		}
	})
	b.Run("hostset", func(b *testing.B) {
		for b.Loop() {
			if !x.Equal(y) {
				b.Fatal("unequal")
			}
		}
	})
}

func testLicense(seats int, devs ...keymint.Device) *keymint.License {
	lic := &keymint.License{Devices: devs, Activations: int64(len(devs))}
	if seats > 0 {
		m := int64(seats)
		lic.MaxActivations = &m
	}
	return lic
}

func TestPlanFleet(t *testing.T) {
	ci := fleetScope{tag: "ci"}
	all := fleetScope{}
	lic := testLicense(6,
		keymint.Device{HostID: "ci-1", DeviceTag: "ci"},
		keymint.Device{HostID: "ci-2", DeviceTag: "ci"},
		keymint.Device{HostID: "stray", DeviceTag: "ci"},
		keymint.Device{HostID: "desk", DeviceTag: "desktop"},
		keymint.Device{HostID: "untagged"},
	)
	tests := []struct {
		name        string
		lic         *keymint.License
		scope       fleetScope
		prior, want []string
		exclusive   bool
		frees       []string
		strays      []string
		takes       []string
		retags      []string
	}{
		{name: "create", lic: lic, scope: ci, want: []string{"ci-1", "new"}, takes: []string{"new"}},
		{name: "create exclusive", lic: lic, scope: ci, want: []string{"ci-1", "new"}, exclusive: true,
			frees: []string{"ci-2", "stray"}, strays: []string{"ci-2", "stray"}, takes: []string{"new"}},
		{name: "shrink", lic: lic, scope: ci, prior: []string{"ci-1", "ci-2"}, want: []string{"ci-1"}, frees: []string{"ci-2"}},
		{name: "shrink, the host already gone", lic: lic, scope: ci, prior: []string{"ci-1", "gone"}, want: []string{"ci-1"}},
		{name: "exclusive keeps other tags", lic: lic, scope: ci, prior: []string{"ci-1", "ci-2", "stray"}, want: []string{"ci-1"}, exclusive: true,
			frees: []string{"ci-2", "stray"}},
		{name: "a listed desktop is re-tagged", lic: lic, scope: ci, prior: []string{"ci-1"}, want: []string{"ci-1", "desk"}, retags: []string{"desk"}},
		{name: "a managed host that left the scope is not freed", lic: lic, scope: ci, prior: []string{"desk"}, want: nil},
		{name: "no tag: every device is in scope", lic: lic, scope: all, want: []string{"desk"}, exclusive: true,
			frees: []string{"ci-1", "ci-2", "stray", "untagged"}, strays: []string{"ci-1", "ci-2", "stray", "untagged"}},
		{name: "no tag: a tagged host is adopted as it is", lic: lic, scope: all, want: []string{"desk", "ci-1"}},
		{name: "unreadable", lic: nil, scope: ci, prior: []string{"a", "b"}, want: []string{"b", "c"}, frees: []string{"a"}, takes: []string{"c"}},
	}
	for _, tt := range tests {
		tt.scope.productID = fleetTestProduct
		c := planFleet(tt.lic, tt.scope, tt.prior, tt.want, tt.exclusive)
		for _, f := range []struct {
			what      string
			got, want []string
		}{{"frees", c.frees, tt.frees}, {"strays", c.strays, tt.strays}, {"takes", c.takes, tt.takes}, {"retags", c.retags, tt.retags}} {
			if !slices.Equal(f.got, f.want) {
				t.Errorf("%s: %s = %q, want %q", tt.name, f.what, f.got, f.want)
			}
		}
	}
}

func TestFleetSeats(t *testing.T) {
	ci := fleetScope{productID: fleetTestProduct, tag: "ci"}
	full := testLicense(3,
		keymint.Device{HostID: "desk", DeviceTag: "desktop"},
		keymint.Device{HostID: "ci-1", DeviceTag: "ci"},
		keymint.Device{HostID: "ci-2", DeviceTag: "ci"},
	)
	// Two leave, two come: fits only because frees come first.
	swap := planFleet(full, ci, []string{"ci-1", "ci-2"}, []string{"ci-3", "ci-4"}, false)
	if !swap.fits(full) {
		t.Error("a shrink-and-grow of equal size does not fit a full license")
	}
	grow := planFleet(full, ci, []string{"ci-1", "ci-2"}, []string{"ci-1", "ci-2", "ci-3"}, false)
	if grow.fits(full) {
		t.Fatal("a third host fits a full license")
	}
	msg := seatShortage(full, ci, grow, false)
	for _, want := range []string{
		`host_ids lists 1 host that hold`, `the license has 0 free seats: 1 short. Nothing was changed.`,
		`Hosts that need a seat: "ci-3".`, `3 of 3 seats are in use, held by: "desk", "ci-1", "ci-2".`, `set exclusive = true`,
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("the shortage message lacks %q:\n%s", want, msg)
		}
	}
	// A re-tag gives back the seat it takes.
	retag := planFleet(full, ci, []string{"ci-1", "ci-2"}, []string{"ci-1", "ci-2", "desk"}, false)
	if len(retag.retags) != 1 || !retag.fits(full) {
		t.Errorf("re-tagging on a full license: %+v, fits %v", retag, retag.fits(full))
	}
	unlimited := testLicense(0, keymint.Device{HostID: "x"})
	if !planFleet(unlimited, ci, nil, hostIDsN(500), false).fits(unlimited) {
		t.Error("an unlimited license is full")
	}
	over := testLicense(1, keymint.Device{HostID: "a", DeviceTag: "ci"}, keymint.Device{HostID: "b", DeviceTag: "ci"})
	if c := planFleet(over, ci, []string{"a", "b"}, []string{"a"}, false); !c.fits(over) || freeSeats(over, len(c.frees)) != 1 {
		t.Errorf("a license over its limit: frees %v, free seats %d", c.frees, freeSeats(over, len(c.frees)))
	}
}

func hostIDsN(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("host-%04d", i)
	}
	return out
}

func TestForEachHost(t *testing.T) {
	hosts := hostIDsN(57)
	var inFlight, peak atomic.Int64
	var mu sync.Mutex
	called := map[string]int{}
	errs := forEachHost(t.Context(), hosts, func(_ context.Context, h string) error {
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		time.Sleep(2 * time.Millisecond)
		mu.Lock()
		called[h]++
		mu.Unlock()
		if h == "host-0003" {
			return fmt.Errorf("refused")
		}
		return nil
	})
	if len(called) != len(hosts) {
		t.Errorf("%d hosts called, want %d", len(called), len(hosts))
	}
	for h, n := range called {
		if n != 1 {
			t.Errorf("%s called %d times", h, n)
		}
	}
	if p := peak.Load(); p > fleetConcurrency || p < 2 {
		t.Errorf("peak concurrency %d, want 2 to %d", p, fleetConcurrency)
	}
	for i, err := range errs {
		if (err != nil) != (hosts[i] == "host-0003") {
			t.Errorf("%s: err = %v", hosts[i], err)
		}
	}

	// Once the context ends, the hosts not started are not sent. The calls
	// after the fifth wait for its cancel: otherwise the fifth could be
	// preempted between counting itself and cancelling, while the other
	// workers ran through every host.
	ctx, cancel := context.WithCancel(t.Context())
	var sent atomic.Int64
	errs = forEachHost(ctx, hosts, func(context.Context, string) error {
		switch n := sent.Add(1); {
		case n == 5:
			cancel()
		case n > 5:
			<-ctx.Done()
		}
		return nil
	})
	skipped := 0
	for _, err := range errs {
		if activationOutcome(err) == notSent {
			skipped++
		}
	}
	// At most the fifth, the other workers' one each and the one the
	// dispatcher handed over before it saw the cancel are sent.
	if limit := 5 + fleetConcurrency; int(sent.Load()) > limit || int(sent.Load())+skipped != len(hosts) {
		t.Errorf("after cancel: %d sent, %d not sent, of %d", sent.Load(), skipped, len(hosts))
	}
}

func TestParseFleetImportID(t *testing.T) {
	t.Setenv("KEYMINT_TEST_FLEET_KEY", "LK-FROM-ENV-0000")
	const prod = "prod_0123456789abcdefghij"
	tests := []struct {
		id                string
		product, key, tag string
		wantErr           string
	}{
		{id: prod + "/LK-1/ci", product: prod, key: "LK-1", tag: "ci"},
		{id: prod + "/LK-1/*", product: prod, key: "LK-1", tag: ""},
		{id: prod + "/LK-1/team/ci", product: prod, key: "LK-1", tag: "team/ci"},
		{id: prod + "/env:KEYMINT_TEST_FLEET_KEY/ci", product: prod, key: "LK-FROM-ENV-0000", tag: "ci"},
		{id: prod + "/LK-1", wantErr: `expected 3 in the form <product_id>/<license_key>/<device_tag or *>`},
		{id: prod + "/LK-1/", wantErr: "the device_tag part of the import ID is empty"},
		{id: prod + "//ci", wantErr: "the license_key part of the import ID is empty"},
		{id: prod + "/LK-1/" + strings.Repeat("t", 65), wantErr: "must be 1 to 64 characters, or * for every device"},
		{id: "prod_1/LK-1/ci", wantErr: "the product_id part of the import ID must be 22 to 256 characters"},
	}
	for _, tt := range tests {
		p, k, tag, err := parseFleetImportID(tt.id)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("%q: err = %v, want %q", tt.id, err, tt.wantErr)
			}
			if err != nil && strings.Contains(err.Error(), "LK-1") {
				t.Errorf("%q: the error repeats the license key: %v", tt.id, err)
			}
			continue
		}
		if err != nil || p != tt.product || k != tt.key || tag != tt.tag {
			t.Errorf("%q = (%q, %q, %q, %v)", tt.id, p, k, tag, err)
		}
	}
	id := FleetID(prod, "LK-SECRET-0000", "")
	if strings.Contains(id, "SECRET") || !strings.HasSuffix(id, "/*") || FleetID(prod, "LK-SECRET-0000", "ci") == id {
		t.Errorf("FleetID = %q", id)
	}
}

// meddling decides what happens to one API call for one host.
type meddling int

const (
	pass       meddling = iota
	loseAnswer          // handle the call, then close the connection
	fail500             // answer 500 without handling it
)

// fleetTestServer is a local server with one license of the given seats (0
// = unlimited), behind a handler that meddles with activate and deactivate
// calls as meddle says (op is "activate" or "deactivate").
func fleetTestServer(t *testing.T, seats int, meddle func(op, host string) meddling) (*localserver.Server, *keymint.Client) {
	t.Helper()
	lic := localserver.LicenseSeed{Key: fleetTestKey}
	if seats > 0 {
		lic.MaxActivations = &seats
	}
	srv, err := localserver.New(localserver.Options{Seed: localserver.Seed{
		AccessTokens: []string{fleetTestToken},
		Products:     []localserver.ProductSeed{{ID: fleetTestProduct, Licenses: []localserver.LicenseSeed{lic}}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	api := srv.Handler()
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		op := strings.TrimPrefix(strings.TrimSuffix(r.URL.Path, "-key"), "/")
		if meddle != nil && (op == "activate" || op == "deactivate") {
			body, _ := io.ReadAll(r.Body)
			r.Body = io.NopCloser(bytes.NewReader(body))
			var req struct {
				HostID string `json:"hostId"`
			}
			_ = json.Unmarshal(body, &req)
			switch meddle(op, req.HostID) {
			case loseAnswer:
				api.ServeHTTP(httptest.NewRecorder(), r)
				panic(http.ErrAbortHandler)
			case fail500:
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusInternalServerError)
				_, _ = io.WriteString(w, `{"message":"Server error","code":1}`)
				return
			}
		}
		api.ServeHTTP(w, r)
	}))
	t.Cleanup(hs.Close)
	retries := 0
	client, err := keymint.New(keymint.Config{
		BaseURL: hs.URL, AccessToken: fleetTestToken, APIVersion: keymint.APIv1,
		MaxRetries: &retries, RetryWaitMin: time.Millisecond, RetryWaitMax: time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	return srv, client
}

func serverHosts(t *testing.T, srv *localserver.Server) []string {
	t.Helper()
	devs, err := srv.Devices(fleetTestProduct, fleetTestKey)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]string, len(devs))
	for i, d := range devs {
		out[i] = d.HostID
	}
	slices.Sort(out)
	return out
}

// fleetModel is a planned keymint_license_activations with device tag "ci".
func fleetModel(hosts []string, exclusive bool) licenseActivationsModel {
	return licenseActivationsModel{
		ProductID: types.StringValue(fleetTestProduct), LicenseKey: types.StringValue(fleetTestKey),
		HostIDs: newHostSet(hosts), DeviceTag: types.StringValue("ci"), Exclusive: types.BoolValue(exclusive),
		Devices: types.MapUnknown(fleetDeviceType),
	}
}

func diagsText(diags diag.Diagnostics) string {
	var b strings.Builder
	for _, d := range diags {
		fmt.Fprintf(&b, "%s: %s\n%s\n\n", d.Severity(), d.Summary(), d.Detail())
	}
	return b.String()
}

// TestConvergeLostAnswers: every call's answer is lost after the server made
// the change, and no retry is allowed. The outcomes are unknown; the read
// after the calls shows that every goal was met, so state holds exactly what
// the server holds and nothing is reported as failed.
func TestConvergeLostAnswers(t *testing.T) {
	srv, client := fleetTestServer(t, 0, func(string, string) meddling { return loseAnswer })
	r := &licenseActivationsResource{data: &providerData{client: client, warnings: &onceWarnings{}}}
	for _, h := range []string{"old-1", "old-2"} {
		if err := srv.ActivateDevice(fleetTestProduct, fleetTestKey, h, "ci", "10.0.0.1"); err != nil {
			t.Fatal(err)
		}
	}
	want := hostIDsN(25)
	m := fleetModel(want, false)
	var diags diag.Diagnostics
	if !r.converge(t.Context(), &m, []string{"old-1", "old-2"}, types.MapNull(fleetDeviceType), &diags) {
		t.Fatalf("converge changed nothing:\n%s", diagsText(diags))
	}
	if diags.HasError() {
		t.Fatalf("errors although every change was made:\n%s", diagsText(diags))
	}
	got, _ := m.HostIDs.hosts()
	if !slices.Equal(got, want) || !slices.Equal(serverHosts(t, srv), want) {
		t.Fatalf("state %v, server %v, want %v", got, serverHosts(t, srv), want)
	}
	if n := len(m.Devices.Elements()); n != len(want) {
		t.Errorf("devices has %d entries, want %d", n, len(want))
	}
}

// TestConvergePartialFailure: some hosts' calls fail for good (a server
// error on every attempt). The others are made; state holds exactly what the
// server holds (the hosts that failed to leave stay, those that failed to
// come are absent), and the errors list the hosts that failed.
func TestConvergePartialFailure(t *testing.T) {
	bad := map[string]bool{"host-0003": true, "host-0007": true, "old-2": true}
	srv, client := fleetTestServer(t, 0, func(_, h string) meddling {
		if bad[h] {
			return fail500
		}
		return pass
	})
	r := &licenseActivationsResource{data: &providerData{client: client, warnings: &onceWarnings{}}}
	for _, h := range []string{"old-1", "old-2", "desk"} {
		tag := "ci"
		if h == "desk" {
			tag = "desktop"
		}
		if err := srv.ActivateDevice(fleetTestProduct, fleetTestKey, h, tag, "10.0.0.1"); err != nil {
			t.Fatal(err)
		}
	}
	want := hostIDsN(10)
	m := fleetModel(want, true)
	var diags diag.Diagnostics
	r.converge(t.Context(), &m, []string{"old-1"}, types.MapNull(fleetDeviceType), &diags)
	got, _ := m.HostIDs.hosts()
	server := serverHosts(t, srv)
	var wantState []string
	for _, h := range server {
		if h != "desk" {
			wantState = append(wantState, h)
		}
	}
	if !slices.Equal(got, wantState) {
		t.Errorf("state holds %v, the server (in scope) %v", got, wantState)
	}
	if slices.Contains(server, "host-0003") || slices.Contains(server, "old-1") || !slices.Contains(server, "old-2") || !slices.Contains(server, "desk") {
		t.Errorf("server holds %v", server)
	}
	text := diagsText(diags)
	for _, want := range []string{
		`Cannot activate 2 hosts of the license of product ` + fleetTestProduct + ` (device tag "ci")`, `"host-0003", "host-0007"`,
		`Cannot deactivate 1 host of`, `"old-2"`, `HTTP 500`, `KeyMint answered with a server error`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("the errors lack %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, fleetTestKey) {
		t.Errorf("an error holds the license key:\n%s", text)
	}
}

// TestConvergeSeatLimitChangesNothing: when the new hosts do not fit, the
// apply stops before its first call, frees included.
func TestConvergeSeatLimitChangesNothing(t *testing.T) {
	srv, client := fleetTestServer(t, 3, nil)
	r := &licenseActivationsResource{data: &providerData{client: client, warnings: &onceWarnings{}}}
	for _, h := range []string{"a", "b"} {
		if err := srv.ActivateDevice(fleetTestProduct, fleetTestKey, h, "ci", "10.0.0.1"); err != nil {
			t.Fatal(err)
		}
	}
	srv.ResetCalls()
	m := fleetModel([]string{"a", "c", "d", "e"}, false)
	var diags diag.Diagnostics
	if r.converge(t.Context(), &m, []string{"a", "b"}, types.MapNull(fleetDeviceType), &diags) {
		t.Fatal("converge reported a change")
	}
	if text := diagsText(diags); !strings.Contains(text, "License seat limit reached") || !strings.Contains(text, "host_ids lists 3 hosts that hold no seat") {
		t.Errorf("no seat-limit error:\n%s", text)
	}
	if got := serverHosts(t, srv); !slices.Equal(got, []string{"a", "b"}) {
		t.Errorf("the server holds %v, want it unchanged", got)
	}
	if calls := srv.TotalCalls(); calls != 1 {
		t.Errorf("%d API calls (%v), want the one read", calls, srv.Calls())
	}
}

// TestConvergeRetag: a listed host that holds a seat under another tag is
// activated again with the fleet's tag.
func TestConvergeRetag(t *testing.T) {
	srv, client := fleetTestServer(t, 2, nil)
	r := &licenseActivationsResource{data: &providerData{client: client, warnings: &onceWarnings{}}}
	if err := srv.ActivateDevice(fleetTestProduct, fleetTestKey, "h", "old", "10.0.0.1"); err != nil {
		t.Fatal(err)
	}
	m := fleetModel([]string{"h"}, false)
	var diags diag.Diagnostics
	r.converge(t.Context(), &m, nil, types.MapNull(fleetDeviceType), &diags)
	devs, _ := srv.Devices(fleetTestProduct, fleetTestKey)
	if diags.HasError() || len(devs) != 1 || devs[0].DeviceTag != "ci" {
		t.Errorf("devices %+v\n%s", devs, diagsText(diags))
	}
}
