package localserver

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"
)

// setFaults configures the faults of the fixture's server.
func (f *fixture) setFaults(cfg FaultConfig) {
	f.t.Helper()
	if err := f.srv.SetFaults(cfg); err != nil {
		f.t.Fatal(err)
	}
}

func TestFaultConfigJSON(t *testing.T) {
	cfg := FaultConfig{ServerErrorRate: 0.1, RateLimitRate: 0.25, RetryAfter: 1500 * time.Millisecond, Latency: 20 * time.Millisecond, LostAnswerRate: 1, Seed: -7}
	data, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"server_error_rate": 0.1, "rate_limit_rate": 0.25, "retry_after": "1.5s", "latency": "20ms", "lost_answer_rate": 1.0, "seed": -7.0}
	if !jsonEqual(m, want) {
		t.Errorf("JSON = %s, want %v", data, want)
	}
	var back FaultConfig
	if err := json.Unmarshal(data, &back); err != nil || back != cfg {
		t.Errorf("round trip: %+v, %v", back, err)
	}
	// Fields left out are zero; durations may be left out or empty.
	if err := json.Unmarshal([]byte(`{"latency":"2s","retry_after":""}`), &back); err != nil || back != (FaultConfig{Latency: 2 * time.Second}) {
		t.Errorf("partial config: %+v, %v", back, err)
	}

	for _, tc := range []struct{ json, want string }{
		{`{"latency":250}`, `latency must be a duration string such as "250ms" or "2s"`},
		{`{"retry_after":"soon"}`, `retry_after must be a duration string such as "250ms" or "2s"`},
		{`{"server_error_rate":"often"}`, "server_error_rate must be a number"},
		{`{"seed":1.5}`, "seed must be a number"},
		{`{"server_error":0.1}`, `unknown field "server_error"`},
		{`[]`, "cannot unmarshal"},
	} {
		err := json.Unmarshal([]byte(tc.json), &back)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want %q", tc.json, err, tc.want)
		}
	}
}

func TestFaultConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		cfg  FaultConfig
		want string
	}{
		{FaultConfig{}, ""},
		{FaultConfig{ServerErrorRate: 1, RateLimitRate: 1, LostAnswerRate: 1, RetryAfter: time.Hour, Latency: time.Second}, ""},
		{FaultConfig{ServerErrorRate: 1.01}, "server_error_rate must be between 0 and 1"},
		{FaultConfig{RateLimitRate: -0.1}, "rate_limit_rate must be between 0 and 1"},
		{FaultConfig{LostAnswerRate: math.NaN()}, "lost_answer_rate must be between 0 and 1"},
		{FaultConfig{RetryAfter: -time.Second}, "retry_after must not be negative"},
		{FaultConfig{Latency: -1}, "latency must not be negative"},
	} {
		err := tc.cfg.Validate()
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || err.Error() != tc.want) {
			t.Errorf("Validate(%+v) = %v, want %q", tc.cfg, err, tc.want)
		}
	}
	s, err := New(Options{Seed: testSeed()})
	if err != nil {
		t.Fatal(err)
	}
	good := FaultConfig{ServerErrorRate: 0.5, Seed: 3}
	if err := s.SetFaults(good); err != nil {
		t.Fatal(err)
	}
	if err := s.SetFaults(FaultConfig{ServerErrorRate: 2}); err == nil || !strings.Contains(err.Error(), "server_error_rate") {
		t.Errorf("SetFaults of an invalid config: %v", err)
	}
	if got := s.Faults(); got != good {
		t.Errorf("an invalid config replaced the old one: %+v", got)
	}
	if _, err := New(Options{Faults: FaultConfig{Latency: -time.Second}}); err == nil {
		t.Error("New accepted an invalid fault config")
	}
}

func TestInjectedServerError(t *testing.T) {
	f := newFixture(t, "")
	f.setFaults(FaultConfig{ServerErrorRate: 1})
	for _, path := range []string{"/activate-key", "/key/activate"} {
		status, got := f.post(path, body(productA, keyLimited, "host-1", ""))
		wantError(t, path, status, got, 500, 1, "Server error")
	}
	// Before anything else: even without a token, or on an unknown path.
	status, raw := f.request(http.MethodPost, "/get-key", "", strings.NewReader("{}"))
	wantError(t, "no token", status, decodeObject(t, raw), 500, 1, "Server error")
	status, raw = f.request(http.MethodGet, "/nope", testToken, nil)
	wantError(t, "unknown path", status, decodeObject(t, raw), 500, 1, "Server error")

	if devices, _ := f.srv.Devices(productA, keyLimited); len(devices) != 0 {
		t.Errorf("a 500 changed the state: %v", devices)
	}
	// Never on the local aids.
	if status, _ := f.request(http.MethodGet, "/_local/seats", testToken, nil); status != 200 {
		t.Errorf("/_local/seats: %d", status)
	}
	if got, want := f.srv.FaultStats(), (FaultStats{ServerErrors: 4, Requests: 4}); got != want {
		t.Errorf("FaultStats = %+v, want %+v", got, want)
	}
}

func TestInjectedRateLimit(t *testing.T) {
	f := newFixture(t, "")
	for _, tc := range []struct {
		retryAfter time.Duration
		want       string
	}{
		{0, "1"},
		{time.Millisecond, "1"},
		{1500 * time.Millisecond, "2"},
		{60 * time.Second, "60"},
	} {
		f.setFaults(FaultConfig{RateLimitRate: 1, RetryAfter: tc.retryAfter})
		resp, raw, err := f.try(http.MethodPost, "/activate-key", testToken, body(productA, keyLimited, "host-1", ""))
		if err != nil {
			t.Fatal(err)
		}
		wantRateLimited(t, fmt.Sprint("retry after ", tc.retryAfter), resp, raw, tc.want)
	}
	if devices, _ := f.srv.Devices(productA, keyLimited); len(devices) != 0 {
		t.Errorf("a 429 changed the state: %v", devices)
	}
	if got, want := f.srv.FaultStats(), (FaultStats{RateLimited: 4, Requests: 4}); got != want {
		t.Errorf("FaultStats = %+v, want %+v", got, want)
	}
}

// wantRateLimited checks a 429 answer and its Retry-After.
func wantRateLimited(t *testing.T, what string, resp *http.Response, raw []byte, retryAfter string) {
	t.Helper()
	want := map[string]any{"message": "Request failed", "code": 1, "error": map[string]any{"code": "RATE_LIMIT_EXCEEDED", "message": "Too many requests. Please try again later."}}
	wantAnswer(t, what, resp.StatusCode, decodeObject(t, raw), 429, want)
	if got := resp.Header.Get("Retry-After"); got != retryAfter {
		t.Errorf("%s: Retry-After %q, want %q", what, got, retryAfter)
	}
}

func TestLostAnswer(t *testing.T) {
	f := newFixture(t, "")
	f.setFaults(FaultConfig{LostAnswerRate: 1})
	_, _, err := f.try(http.MethodPost, "/activate-key", testToken, body(productA, keyLimited, "host-1", ""))
	if err == nil {
		t.Fatal("the client got an answer")
	}
	_, _, err = f.try(http.MethodPost, "/key/activate", testToken, body(productA, keyLimited, "host-2", "tag"))
	if err == nil {
		t.Fatal("the client got an answer")
	}
	// The changes were made all the same.
	devices, _ := f.srv.Devices(productA, keyLimited)
	if got := hostIDs(devices); !slices.Equal(got, []string{"host-1", "host-2"}) {
		t.Errorf("hosts after lost answers = %v", got)
	}
	if got, want := f.srv.FaultStats(), (FaultStats{LostAnswers: 2, Requests: 2}); got != want {
		t.Errorf("FaultStats = %+v, want %+v", got, want)
	}
	// Retrying the activation is safe, and the answer comes once the faults stop.
	f.setFaults(FaultConfig{})
	status, got := f.post("/activate-key", body(productA, keyLimited, "host-1", ""))
	wantAnswer(t, "retry", status, got, 200, okActivation("Jane Doe", "jane@example.com"))
}

func TestLostAnswerIsSavedFirst(t *testing.T) {
	path := t.TempDir() + "/state.json"
	f := newFixture(t, path)
	f.setFaults(FaultConfig{LostAnswerRate: 1})
	if _, _, err := f.try(http.MethodPost, "/activate-key", testToken, body(productA, keyLimited, "host-1", "")); err == nil {
		t.Fatal("the client got an answer")
	}
	if st, _ := readStateFile(path); stateLicenseHosts(st, keyLimited) != "host-1" {
		t.Error("the lost activation is not in the state file")
	}
}

func TestLatency(t *testing.T) {
	f := newFixture(t, "")
	const latency = 150 * time.Millisecond
	f.setFaults(FaultConfig{Latency: latency})
	start := time.Now()
	status, _ := f.post("/activate-key", body(productA, keyLimited, "host-1", ""))
	if elapsed := time.Since(start); status != 200 || elapsed < latency {
		t.Errorf("status %d after %v, want 200 after at least %v", status, elapsed, latency)
	}
	start = time.Now()
	if status, _ := f.request(http.MethodGet, "/_local/seats", testToken, nil); status != 200 || time.Since(start) >= latency {
		t.Errorf("/_local/seats: status %d after %v, want no latency", status, time.Since(start))
	}
}

func TestLatencyStopsWhenTheClientGoesAway(t *testing.T) {
	f := newFixture(t, "")
	// Long enough to notice, short enough that a failure does not hang.
	const latency = 30 * time.Second
	f.setFaults(FaultConfig{Latency: latency})
	ts := httptest.NewServer(f.srv.Handler())
	defer ts.Close()
	for _, path := range []string{"/activate-key", "/key/activate"} {
		ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
		data, _ := json.Marshal(body(productA, keyLimited, "host-1", ""))
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, ts.URL+path, bytes.NewReader(data))
		req.Header.Set("Authorization", "Bearer "+testToken)
		resp, err := http.DefaultClient.Do(req)
		cancel()
		if err == nil {
			resp.Body.Close()
			t.Fatalf("%s: answered despite %v of latency", path, latency)
		}
	}
	// Close waits for the handlers: they must have stopped waiting.
	closed := make(chan struct{})
	go func() { ts.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("the handlers still wait after the clients went away")
	}
	if devices, _ := f.srv.Devices(productA, keyLimited); len(devices) != 0 {
		t.Errorf("a request whose client went away was handled: %v", devices)
	}
}

// outcome sends POST /get-key and describes the answer: its status, or
// "lost" for a transport error.
func (f *fixture) outcome() string {
	f.t.Helper()
	resp, _, err := f.try(http.MethodPost, "/get-key", testToken, body(productA, keyLimited, "", ""))
	if err != nil {
		return "lost"
	}
	return fmt.Sprint(resp.StatusCode)
}

func TestFaultsAreRepeatable(t *testing.T) {
	cfg := FaultConfig{ServerErrorRate: 0.25, RateLimitRate: 0.25, LostAnswerRate: 0.25, Seed: 42}
	run := func(f *fixture) []string {
		var outcomes []string
		for range 40 {
			outcomes = append(outcomes, f.outcome())
		}
		return outcomes
	}
	f := newFixture(t, "")
	f.setFaults(cfg)
	first := run(f)
	for _, want := range []string{"200", "500", "429", "lost"} {
		if !slices.Contains(first, want) {
			t.Errorf("no %s in %v", want, first)
		}
	}
	f.setFaults(cfg) // reseeds
	if again := run(f); !slices.Equal(again, first) {
		t.Errorf("same seed, other decisions:\n%v\n%v", first, again)
	}
	other, err := New(Options{Seed: testSeed(), Faults: cfg})
	if err != nil {
		t.Fatal(err)
	}
	g := &fixture{t: t, srv: other, url: startServer(t, other)}
	if fresh := run(g); !slices.Equal(fresh, first) {
		t.Errorf("same seed in Options, other decisions:\n%v\n%v", first, fresh)
	}
	cfg.Seed = 43
	f.setFaults(cfg)
	if different := run(f); slices.Equal(different, first) {
		t.Errorf("seeds 42 and 43 gave the same 40 decisions: %v", first)
	}
}
