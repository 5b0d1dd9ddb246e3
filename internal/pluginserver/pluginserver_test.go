package pluginserver

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
	"weak"

	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-go/tftypes"

	"github.com/keymint-dev/terraform-provider-keymint/internal/localserver"
	"github.com/keymint-dev/terraform-provider-keymint/internal/provider"
)

func framework() tfprotov6.ProviderServer {
	return providerserver.NewProtocol6(provider.New("test")())()
}

func TestWrapperKeepsExtensions(t *testing.T) {
	inner := framework()
	wrapped := NewServer(inner)
	if _, ok := wrapped.(*releasingServer); !ok {
		t.Fatalf("the framework's server (%T) was not wrapped: it lacks an extension fullServer expects", inner)
	}
	// These are the extension interfaces tf6server looks for today.
	//nolint:staticcheck // deprecated only in favour of a future ProviderServer
	checks := map[string]func(tfprotov6.ProviderServer) bool{
		"actions": func(s tfprotov6.ProviderServer) bool { _, ok := s.(tfprotov6.ProviderServerWithActions); return ok },
		"list resources": func(s tfprotov6.ProviderServer) bool {
			_, ok := s.(tfprotov6.ProviderServerWithListResource)
			return ok
		},
		"state stores": func(s tfprotov6.ProviderServer) bool { _, ok := s.(tfprotov6.ProviderServerWithStateStores); return ok },
	}
	for name, has := range checks {
		if has(inner) != has(wrapped) {
			t.Errorf("%s: the framework's server has it: %v, the wrapper: %v", name, has(inner), has(wrapped))
		}
	}
}

// Releases happen while requests run concurrently, and never fail one.
func TestReleaseDuringRequests(t *testing.T) {
	s := NewServer(framework())
	ctx := context.Background()
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 3 * releaseEvery / 8 {
				resp, err := s.GetProviderSchema(ctx, &tfprotov6.GetProviderSchemaRequest{})
				if err != nil || len(resp.Diagnostics) > 0 || resp.ResourceSchemas["keymint_device_activation"] == nil {
					t.Errorf("GetProviderSchema: %v %v", err, resp)
					return
				}
			}
		})
	}
	wg.Wait()
	rs := s.(*releasingServer)
	if got := rs.ended.Load(); got != 3*releaseEvery {
		t.Errorf("%d requests counted, want %d", got, 3*releaseEvery)
	}
	// The last request to end finds none in flight.
	if rs.releases.Load() == 0 {
		t.Error("no release after all requests ended")
	}
}

func TestQuietUnlessAsked(t *testing.T) {
	for _, v := range append([]string{"TF_LOG", "TF_LOG_PATH", "TF_LOG_CORE", "TF_ACC_LOG_PATH"}, sdkLogVariables...) {
		t.Setenv(v, "")
		_ = os.Unsetenv(v)
	}
	QuietUnlessAsked()
	for _, v := range sdkLogVariables {
		if got := os.Getenv(v); got != "off" {
			t.Errorf("%s = %q with no TF_LOG* set, want off", v, got)
		}
		_ = os.Unsetenv(v)
	}
	t.Setenv("TF_LOG", "DEBUG")
	QuietUnlessAsked()
	for _, v := range sdkLogVariables {
		if got, set := os.LookupEnv(v); set {
			t.Errorf("%s = %q although TF_LOG asks for logs", v, got)
		}
	}
}

// Tests against real in-process servers: the provider's framework server,
// wrapped as the provider binary serves it, talking to keymint-local over
// loopback HTTP with a latency.

const (
	testToken   = "km_pluginserver_test_token"
	testProduct = "prod_pluginserver_0123456789"
	testKey     = "lk_pluginserver_0123456789"
	resetAction = "keymint_license_reset"
	licenseData = "keymint_license"
)

// keyMint is keymint-local serving one license over loopback HTTP, every
// API request answered after latency.
type keyMint struct {
	srv *localserver.Server
	url string
}

func newKeyMint(t *testing.T, latency time.Duration, hosts ...string) *keyMint {
	t.Helper()
	srv, err := localserver.New(localserver.Options{
		Seed: localserver.Seed{
			AccessTokens: []string{testToken},
			Products: []localserver.ProductSeed{{ID: testProduct, Licenses: []localserver.LicenseSeed{
				{Key: testKey, MaxActivations: new(5)},
			}}},
		},
		Faults: localserver.FaultConfig{Latency: latency},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range hosts {
		if err := srv.ActivateDevice(testProduct, testKey, h, "", "127.0.0.1"); err != nil {
			t.Fatal(err)
		}
	}
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(func() {
		ts.Close()
		_ = srv.Close()
	})
	return &keyMint{srv: srv, url: ts.URL}
}

// waitForCall waits until a request has reached the server, which then holds
// it for its latency.
func (k *keyMint) waitForCall(t *testing.T) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); k.srv.TotalCalls() == 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("no request reached keymint-local")
		}
	}
}

// server is the wrapped framework server with every extension.
type server interface {
	tfprotov6.ProviderServer
	tfprotov6.ActionServer
}

// configuredServer starts the provider as the binary serves it and
// configures it for the server at url, as Terraform does.
func configuredServer(t *testing.T, url string) (server, *tfprotov6.GetProviderSchemaResponse) {
	t.Helper()
	s, ok := NewServer(framework()).(server)
	if !ok {
		t.Fatal("the wrapped server does not serve actions")
	}
	schemas, err := s.GetProviderSchema(context.Background(), &tfprotov6.GetProviderSchemaRequest{})
	if err != nil || hasError(schemas.Diagnostics) {
		t.Fatalf("GetProviderSchema: %v %s", err, diagText(schemas.Diagnostics))
	}
	cfg := dynamicValue(t, schemas.Provider, map[string]string{
		"access_token": testToken, "base_url": url, "api_version": "v1", "request_timeout": "30s",
	})
	resp, err := s.ConfigureProvider(context.Background(), &tfprotov6.ConfigureProviderRequest{TerraformVersion: "1.14.0", Config: cfg})
	if err != nil || hasError(resp.Diagnostics) {
		t.Fatalf("ConfigureProvider: %v %s", err, diagText(resp.Diagnostics))
	}
	return s, schemas
}

// dynamicValue is a configuration of the schema with the given string
// attributes set and every other attribute null.
func dynamicValue(t *testing.T, schema *tfprotov6.Schema, set map[string]string) *tfprotov6.DynamicValue {
	t.Helper()
	typ := schema.ValueType().(tftypes.Object)
	attrs := map[string]tftypes.Value{}
	for name, at := range typ.AttributeTypes {
		attrs[name] = tftypes.NewValue(at, nil)
	}
	for name, v := range set {
		if _, ok := attrs[name]; !ok {
			t.Fatalf("the schema has no attribute %s", name)
		}
		attrs[name] = tftypes.NewValue(tftypes.String, v)
	}
	v, err := tfprotov6.NewDynamicValue(typ, tftypes.NewValue(typ, attrs))
	if err != nil {
		t.Fatal(err)
	}
	return &v
}

func hasError(diags []*tfprotov6.Diagnostic) bool {
	for _, d := range diags {
		if d.Severity == tfprotov6.DiagnosticSeverityError {
			return true
		}
	}
	return false
}

func diagText(diags []*tfprotov6.Diagnostic) string {
	var b strings.Builder
	for _, d := range diags {
		fmt.Fprintf(&b, "%s: %s\n", d.Summary, d.Detail)
	}
	return b.String()
}

// payload is carried by a request's context. It stays reachable while the
// framework keeps the context, so a weak pointer to it tells whether the
// context was released.
type payload struct{ _ [64]byte }

type payloadKey struct{}

// tracedContext returns a request context and a weak pointer to its payload.
func tracedContext() (context.Context, weak.Pointer[payload]) {
	p := new(payload)
	return context.WithValue(context.Background(), payloadKey{}, p), weak.Make(p)
}

// held counts the payloads still reachable after a garbage collection.
func held(traces []weak.Pointer[payload]) int {
	runtime.GC()
	n := 0
	for _, w := range traces {
		if w.Value() != nil {
			n++
		}
	}
	return n
}

// waitReleased waits until the framework keeps none of the traced contexts.
func waitReleased(t *testing.T, traces []weak.Pointer[payload]) {
	t.Helper()
	n := held(traces)
	for deadline := time.Now().Add(5 * time.Second); n > 0 && time.Now().Before(deadline); n = held(traces) {
		time.Sleep(20 * time.Millisecond)
	}
	if n > 0 {
		t.Errorf("the framework still keeps %d of %d request contexts: no release happened", n, len(traces))
	}
}

// getMetadata sends a GetMetadata with a traced context and reports how long
// it took.
func getMetadata(t *testing.T, s server) (weak.Pointer[payload], time.Duration) {
	t.Helper()
	ctx, w := tracedContext()
	start := time.Now()
	resp, err := s.GetMetadata(ctx, &tfprotov6.GetMetadataRequest{})
	took := time.Since(start)
	if err != nil || hasError(resp.Diagnostics) || len(resp.Resources) == 0 {
		t.Errorf("GetMetadata: %v %s", err, diagText(resp.Diagnostics))
	}
	return w, took
}

// otherRequest sends the i-th of a mix of requests, with a traced context.
func otherRequest(t *testing.T, s server, actionCfg *tfprotov6.DynamicValue, i int) weak.Pointer[payload] {
	t.Helper()
	ctx, w := tracedContext()
	var diags []*tfprotov6.Diagnostic
	var err error
	switch i % 4 {
	case 0:
		var r *tfprotov6.GetMetadataResponse
		r, err = s.GetMetadata(ctx, &tfprotov6.GetMetadataRequest{})
		diags = r.Diagnostics
	case 1:
		var r *tfprotov6.GetProviderSchemaResponse
		r, err = s.GetProviderSchema(ctx, &tfprotov6.GetProviderSchemaRequest{})
		diags = r.Diagnostics
	case 2:
		var r *tfprotov6.ValidateActionConfigResponse
		r, err = s.ValidateActionConfig(ctx, &tfprotov6.ValidateActionConfigRequest{ActionType: resetAction, Config: actionCfg})
		diags = r.Diagnostics
	case 3:
		var r *tfprotov6.PlanActionResponse
		r, err = s.PlanAction(ctx, &tfprotov6.PlanActionRequest{ActionType: resetAction, Config: actionCfg})
		diags = r.Diagnostics
	}
	if err != nil || hasError(diags) {
		t.Errorf("request %d: %v %s", i, err, diagText(diags))
	}
	return w
}

// An action's work runs in its event stream, after InvokeAction has
// returned. Releases that fall due meanwhile must wait for the stream to
// end instead of cancelling the action, and happen once it has.
func TestActionInFlightSurvivesReleases(t *testing.T) {
	km := newKeyMint(t, 1500*time.Millisecond, "host-a", "host-b")
	s, schemas := configuredServer(t, km.url)
	cfg := dynamicValue(t, schemas.ActionSchemas[resetAction].Schema, map[string]string{"product_id": testProduct, "license_key": testKey})

	stream, err := s.InvokeAction(context.Background(), &tfprotov6.InvokeActionRequest{ActionType: resetAction, Config: cfg})
	if err != nil {
		t.Fatalf("InvokeAction: %v", err)
	}
	type invocation struct {
		progress  []string
		completed bool
		diags     []*tfprotov6.Diagnostic
	}
	done := make(chan invocation, 1)
	go func() {
		var inv invocation
		for ev := range stream.Events {
			switch e := ev.Type.(type) {
			case tfprotov6.ProgressInvokeActionEventType:
				inv.progress = append(inv.progress, e.Message)
			case tfprotov6.CompletedInvokeActionEventType:
				inv.completed, inv.diags = true, e.Diagnostics
			}
		}
		done <- inv
	}()
	km.waitForCall(t) // the action's first read waits at the server

	// Twice as many requests as make a release due, from four clients.
	var mu sync.Mutex
	var traces []weak.Pointer[payload]
	var wg sync.WaitGroup
	for c := range 4 {
		wg.Go(func() {
			for i := c; i < 2*releaseEvery; i += 4 {
				w := otherRequest(t, s, cfg, i)
				mu.Lock()
				traces = append(traces, w)
				mu.Unlock()
			}
		})
	}
	wg.Wait()

	var inv invocation
	select {
	case inv = <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("the action did not complete in 30 s")
	}
	if !inv.completed || hasError(inv.diags) {
		t.Fatalf("the action failed while other requests passed (completed: %v):\n%s", inv.completed, diagText(inv.diags))
	}
	if want := "2 devices freed"; len(inv.progress) == 0 || !strings.Contains(inv.progress[len(inv.progress)-1], want) {
		t.Errorf("progress = %q, want it to end saying %q", inv.progress, want)
	}
	if devices, err := km.srv.Devices(testProduct, testKey); err != nil || len(devices) != 0 {
		t.Errorf("the license still holds %v (%v)", devices, err)
	}
	// The releases put off while the action ran happen once it has ended.
	waitReleased(t, traces)
}

// A release never waits for a slow request, and no new request waits for a
// release: while a 3 s read is in flight and a release falls due, every
// GetMetadata is answered at once.
func TestSlowRequestDelaysNoOther(t *testing.T) {
	km := newKeyMint(t, 3*time.Second)
	s, schemas := configuredServer(t, km.url)
	cfg := dynamicValue(t, schemas.DataSourceSchemas[licenseData], map[string]string{"product_id": testProduct, "license_key": testKey})

	slow := make(chan string, 1)
	go func() {
		start := time.Now()
		resp, err := s.ReadDataSource(context.Background(), &tfprotov6.ReadDataSourceRequest{TypeName: licenseData, Config: cfg})
		switch {
		case err != nil || hasError(resp.Diagnostics):
			slow <- fmt.Sprintf("the slow read failed: %v %s", err, diagText(resp.Diagnostics))
		case time.Since(start) < 3*time.Second:
			slow <- fmt.Sprintf("the slow read took %v, less than the server's latency", time.Since(start))
		default:
			slow <- ""
		}
	}()
	km.waitForCall(t)

	// A release falls due within the first releaseEvery requests.
	var traces []weak.Pointer[payload]
	var slowest time.Duration
	for range releaseEvery + 20 {
		w, took := getMetadata(t, s)
		traces = append(traces, w)
		slowest = max(slowest, took)
		time.Sleep(time.Millisecond)
	}
	if slowest > 200*time.Millisecond {
		t.Errorf("a GetMetadata took %v while a slow request was in flight", slowest)
	}
	if msg := <-slow; msg != "" {
		t.Fatal(msg)
	}
	// The release put off while the read ran happens once it has ended.
	waitReleased(t, traces)
}

// The framework keeps every request's context until a release; the release
// happens after releaseEvery requests and frees them all.
func TestReleaseFreesContexts(t *testing.T) {
	s := NewServer(framework()).(server)
	var traces []weak.Pointer[payload]
	for range releaseEvery - 1 {
		w, _ := getMetadata(t, s)
		traces = append(traces, w)
	}
	if n := held(traces); n != len(traces) {
		t.Fatalf("the framework keeps %d of %d request contexts before any release; this test cannot tell a release", n, len(traces))
	}
	w, _ := getMetadata(t, s)
	waitReleased(t, append(traces, w))
}

// inFlight reports whether a request is in flight.
func inFlight(s *releasingServer) bool {
	if s.inFlight.TryLock() {
		s.inFlight.Unlock()
		return false
	}
	return true
}

// Every RPC of the framework's server but StopProvider is tracked: each
// counts as one request once it has ended, and a streamed answer is in
// flight until its iterator has yielded its last element. The framework
// answers these empty requests with diagnostics (no such resource type,
// action, function or state store), which is enough to pass through.
func TestEveryRequestTracked(t *testing.T) {
	s := NewServer(framework()).(*releasingServer)
	schemas, err := framework().GetProviderSchema(context.Background(), &tfprotov6.GetProviderSchemaRequest{})
	if err != nil {
		t.Fatal(err)
	}
	providerCfg := dynamicValue(t, schemas.Provider, nil)
	// The requests that need more than their zero value to reach the
	// provider without crashing it; the others name no type.
	requests := map[string]any{
		"ValidateProviderConfig": &tfprotov6.ValidateProviderConfigRequest{Config: providerCfg},
		"ConfigureProvider":      &tfprotov6.ConfigureProviderRequest{Config: providerCfg},
		"WriteStateBytes": &tfprotov6.WriteStateBytesStream{
			Chunks: func(func(*tfprotov6.WriteStateBytesChunk, []*tfprotov6.Diagnostic) bool) {},
		},
	}
	typ := reflect.TypeFor[fullServer]()
	tested := 0
	for i := range typ.NumMethod() {
		m := typ.Method(i)
		if m.Name == "StopProvider" {
			continue
		}
		tested++
		t.Run(m.Name, func(t *testing.T) {
			req := reflect.New(m.Type.In(1).Elem())
			if r, ok := requests[m.Name]; ok {
				req = reflect.ValueOf(r)
			}
			before := s.ended.Load()
			out := reflect.ValueOf(s).MethodByName(m.Name).Call([]reflect.Value{reflect.ValueOf(context.Background()), req})
			if err, _ := out[1].Interface().(error); err != nil {
				t.Fatalf("%s: %v", m.Name, err)
			}
			if seq := streamOf(out[0]); seq.IsValid() {
				if !inFlight(s) || s.ended.Load() != before {
					t.Errorf("%s counts as ended before its stream is ranged over", m.Name)
				}
				yielded := 0
				yield := reflect.MakeFunc(seq.Type().In(0), func([]reflect.Value) []reflect.Value {
					yielded++
					if !inFlight(s) {
						t.Errorf("%s counts as ended while its stream yields", m.Name)
					}
					return []reflect.Value{reflect.ValueOf(true)}
				})
				seq.Call([]reflect.Value{yield})
				if yielded == 0 {
					t.Errorf("%s's stream yielded nothing", m.Name)
				}
			}
			if inFlight(s) {
				t.Errorf("%s is still in flight after it ended", m.Name)
			}
			if got := s.ended.Load() - before; got != 1 {
				t.Errorf("%s counted as %d requests, want 1", m.Name, got)
			}
		})
	}
	if tested < 35 {
		t.Errorf("%d RPCs tested; terraform-plugin-go v0.31 has 35 besides StopProvider", tested)
	}
}

// streamOf returns the iterator of a streamed answer (a pointer to a struct
// whose only field is an iterator), or the zero Value.
func streamOf(resp reflect.Value) reflect.Value {
	if resp.Kind() != reflect.Pointer || resp.IsNil() || resp.Elem().NumField() != 1 {
		return reflect.Value{}
	}
	if f := resp.Elem().Field(0); f.Kind() == reflect.Func {
		return f
	}
	return reflect.Value{}
}

// A consumer that stops early, or never ranges over a stream, leaves the
// request in flight until its context is done: what the stream started may
// still run, with a context that a release would cancel.
func TestStreamLeftEarlyEndsWithItsContext(t *testing.T) {
	for _, early := range []string{"stopped after the first event", "never ranged over"} {
		t.Run(early, func(t *testing.T) {
			s := NewServer(framework()).(*releasingServer)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			// An unknown action: the framework streams one completed event
			// with the error.
			stream, err := s.InvokeAction(ctx, &tfprotov6.InvokeActionRequest{ActionType: "keymint_nothing"})
			if err != nil {
				t.Fatal(err)
			}
			if early == "stopped after the first event" {
				for range stream.Events {
					break
				}
			}
			if !inFlight(s) {
				t.Fatal("the request ended although its stream was left early and its context is live")
			}
			cancel()
			for deadline := time.Now().Add(5 * time.Second); inFlight(s); time.Sleep(time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatal("the request is still in flight after its context was cancelled")
				}
			}
			if got := s.ended.Load(); got != 1 {
				t.Errorf("%d requests ended, want 1", got)
			}
		})
	}
}
