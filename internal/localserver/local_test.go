package localserver

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"
)

// local sends an authenticated request to a local aid with a raw body
// ("" = none) and decodes the answer.
func (f *fixture) local(method, path, rawBody string) (int, map[string]any) {
	f.t.Helper()
	status, raw := f.request(method, path, testToken, strings.NewReader(rawBody))
	return status, decodeObject(f.t, raw)
}

func TestLocalEndpointsNeedAToken(t *testing.T) {
	f := newFixture(t, "")
	for _, ep := range []struct{ method, path string }{
		{http.MethodGet, "/_local/faults"},
		{http.MethodPut, "/_local/faults"},
		{http.MethodGet, "/_local/rate-limit"},
		{http.MethodPut, "/_local/rate-limit"},
		{http.MethodGet, "/_local/calls"},
		{http.MethodPost, "/_local/calls/reset"},
		{http.MethodGet, "/_local/licenses"},
	} {
		for _, token := range []string{"", "at_wrong_token_0123456789ab"} {
			status, raw := f.request(ep.method, ep.path, token, strings.NewReader(`{"server_error_rate":1,"per_minute":1}`))
			wantError(t, ep.method+" "+ep.path, status, decodeObject(t, raw), 401, 1, "Invalid access token")
		}
	}
	if f.srv.Faults() != (FaultConfig{}) || f.srv.RateLimit() != (RateLimit{}) {
		t.Errorf("unauthorized requests changed the settings: %+v, %+v", f.srv.Faults(), f.srv.RateLimit())
	}
}

func TestFaultsEndpoint(t *testing.T) {
	f := newFixture(t, "")
	status, got := f.local(http.MethodGet, "/_local/faults", "")
	wantAnswer(t, "initial faults", status, got, 200, map[string]any{
		"config": map[string]any{"server_error_rate": 0, "rate_limit_rate": 0, "lost_answer_rate": 0, "seed": 0, "retry_after": "0s", "latency": "0s"},
		"stats":  map[string]any{"server_errors": 0, "rate_limited": 0, "lost_answers": 0, "requests": 0},
	})

	config := map[string]any{"server_error_rate": 1, "rate_limit_rate": 0.5, "lost_answer_rate": 0.25, "seed": 7, "retry_after": "2s", "latency": "1ms"}
	data, _ := json.Marshal(config)
	status, got = f.local(http.MethodPut, "/_local/faults", string(data))
	wantStatus := map[string]any{"server_errors": 0, "rate_limited": 0, "lost_answers": 0, "requests": 0}
	wantAnswer(t, "PUT faults", status, got, 200, map[string]any{"config": config, "stats": wantStatus})
	want := FaultConfig{ServerErrorRate: 1, RateLimitRate: 0.5, LostAnswerRate: 0.25, Seed: 7, RetryAfter: 2 * time.Second, Latency: time.Millisecond}
	if got := f.srv.Faults(); got != want {
		t.Errorf("Faults() = %+v, want %+v", got, want)
	}
	f.request(http.MethodPost, "/get-key", testToken, strings.NewReader("{}"))
	status, got = f.local(http.MethodGet, "/_local/faults", "")
	wantStatus["server_errors"], wantStatus["requests"] = 1, 1
	wantAnswer(t, "GET faults", status, got, 200, map[string]any{"config": config, "stats": wantStatus})

	// Invalid configurations change nothing.
	for _, tc := range []struct{ body, message string }{
		{`{"server_error_rate":1.5}`, "server_error_rate must be between 0 and 1"},
		{`{"lost_answer_rate":-0.5}`, "lost_answer_rate must be between 0 and 1"},
		{`{"latency":"-1s"}`, "latency must not be negative"},
		{`{"retry_after":5}`, `retry_after must be a duration string such as "250ms" or "2s"`},
		{`{"latency":"soon"}`, `latency must be a duration string such as "250ms" or "2s"`},
		{`{"server_error_rate":"high"}`, "server_error_rate must be a number"},
		{`{"server_error_rate":0.1,"typo":1}`, `Invalid JSON body: json: unknown field "typo"`},
		{`{"server_error_rate":0.1} {}`, "Invalid JSON body: unexpected data after the JSON value"},
		{`{`, "Invalid JSON body: unexpected EOF"},
		{``, "Invalid JSON body: EOF"},
	} {
		status, got := f.local(http.MethodPut, "/_local/faults", tc.body)
		wantError(t, tc.body, status, got, 400, 1, tc.message)
	}
	if got := f.srv.Faults(); got != want {
		t.Errorf("an invalid PUT changed the config to %+v", got)
	}

	// Fields left out are zero: PUT replaces the whole configuration.
	status, got = f.local(http.MethodPut, "/_local/faults", `{"latency":"250ms"}`)
	if status != 200 || f.srv.Faults() != (FaultConfig{Latency: 250 * time.Millisecond}) {
		t.Errorf("partial PUT: %d %v, config %+v", status, got, f.srv.Faults())
	}
}

func TestRateLimitEndpoint(t *testing.T) {
	f := newFixture(t, "")
	noLimit := map[string]any{"requests": 0, "window": "0s"}
	status, got := f.local(http.MethodGet, "/_local/rate-limit", "")
	wantAnswer(t, "initial", status, got, 200, noLimit)
	status, got = f.local(http.MethodPut, "/_local/rate-limit", `{"requests":2,"window":"3s"}`)
	wantAnswer(t, "PUT", status, got, 200, map[string]any{"requests": 2, "window": "3s"})
	status, got = f.local(http.MethodGet, "/_local/rate-limit", "")
	wantAnswer(t, "GET", status, got, 200, map[string]any{"requests": 2, "window": "3s"})
	if got := f.srv.RateLimit(); got != (RateLimit{2, 3 * time.Second}) {
		t.Errorf("RateLimit() = %+v", got)
	}
	for i := range 3 {
		status, _ := f.post("/get-key", body(productA, keyLimited, "", ""))
		if want := map[bool]int{true: 200, false: 429}[i < 2]; status != want {
			t.Errorf("request %d: %d, want %d", i+1, status, want)
		}
	}
	f.clock.Advance(3 * time.Second)
	if status, got := f.post("/get-key", body(productA, keyLimited, "", "")); status != 200 {
		t.Errorf("after the window: %d %v", status, got)
	}

	// Other forms: the older per_minute, and no limit.
	for _, tc := range []struct {
		body string
		want map[string]any
		l    RateLimit
	}{
		{`{"per_minute":5}`, map[string]any{"requests": 5, "window": "1m0s"}, RateLimit{5, time.Minute}},
		{`{"per_minute":0}`, noLimit, RateLimit{}},
		{`{"requests":10,"window":"1h"}`, map[string]any{"requests": 10, "window": "1h0m0s"}, RateLimit{10, time.Hour}},
		{`{"requests":0}`, noLimit, RateLimit{}},
		{`{"requests":0,"window":"1m"}`, noLimit, RateLimit{}},
		{`{"requests":1,"window":"1m30s"}`, map[string]any{"requests": 1, "window": "1m30s"}, RateLimit{1, 90 * time.Second}},
	} {
		status, got := f.local(http.MethodPut, "/_local/rate-limit", tc.body)
		wantAnswer(t, tc.body, status, got, 200, tc.want)
		if f.srv.RateLimit() != tc.l {
			t.Errorf("%s: RateLimit() = %+v, want %+v", tc.body, f.srv.RateLimit(), tc.l)
		}
	}

	f.local(http.MethodPut, "/_local/rate-limit", `{"requests":2,"window":"3s"}`)
	const form = `want {"requests":N,"window":"DURATION"} such as {"requests":10,"window":"1m"}, or {"per_minute":N}; 0 requests for no limit`
	for _, tc := range []struct{ body, message string }{
		{`{}`, form},
		{`{"window":"1m"}`, form},
		{`{"requests":null,"window":"1m"}`, form},
		{`{"requests":-1,"window":"1m"}`, "the number of requests must not be negative; " + form},
		{`{"requests":3}`, "the window must be longer than 0; " + form},
		{`{"requests":3,"window":"0s"}`, "the window must be longer than 0; " + form},
		{`{"requests":3,"window":"-1s"}`, "the window must not be negative; " + form},
		{`{"requests":3,"window":"soon"}`, `window must be a duration string such as "1m" or "3s"`},
		{`{"requests":3,"window":60}`, "Invalid JSON body: json: cannot unmarshal number into Go struct field rateLimitSetting.window of type string"},
		{`{"requests":1.5,"window":"1m"}`, "Invalid JSON body: json: cannot unmarshal number 1.5 into Go struct field rateLimitSetting.requests of type int"},
		{`{"per_minute":-1}`, "the number of requests must not be negative; " + form},
		{`{"per_minute":null}`, form},
		{`{"per_minute":5,"requests":5}`, "give requests and window, or per_minute, not both"},
		{`{"per_minute":5,"window":"1m"}`, "give requests and window, or per_minute, not both"},
		{`{"perMinute":5}`, `Invalid JSON body: json: unknown field "perMinute"`},
	} {
		status, got := f.local(http.MethodPut, "/_local/rate-limit", tc.body)
		wantError(t, tc.body, status, got, 400, 1, tc.message)
	}
	if got := f.srv.RateLimit(); got != (RateLimit{2, 3 * time.Second}) {
		t.Errorf("an invalid PUT changed the limit to %+v", got)
	}
}

func TestCallsEndpoint(t *testing.T) {
	f := newFixture(t, "")
	f.setFaults(FaultConfig{ServerErrorRate: 1})
	f.post("/activate-key", body(productA, keyLimited, "host-1", ""))
	f.post("/key/activate", body(productA, keyLimited, "host-1", ""))
	f.post("/key/activate", body(productA, keyLimited, "host-1", ""))
	f.request(http.MethodGet, "/_local/seats", testToken, nil)
	status, got := f.local(http.MethodGet, "/_local/calls", "")
	wantAnswer(t, "calls", status, got, 200, map[string]any{"total": 3, "by_path": map[string]any{"/activate-key": 1, "/key/activate": 2}})
	if f.srv.FaultStats().ServerErrors != 3 {
		t.Errorf("FaultStats = %+v", f.srv.FaultStats())
	}
	if agents := f.srv.UserAgents(); len(agents) != 1 || agents["Go-http-client/1.1"] != 3 {
		t.Errorf("UserAgents = %v, want the 3 API requests under Go's User-Agent", agents)
	}
	status, got = f.local(http.MethodPost, "/_local/calls/reset", "")
	wantAnswer(t, "reset", status, got, 200, map[string]any{"total": 0, "by_path": map[string]any{}})
	if f.srv.TotalCalls() != 0 || f.srv.FaultStats() != (FaultStats{}) {
		t.Errorf("after reset: %d calls, %+v", f.srv.TotalCalls(), f.srv.FaultStats())
	}
	if agents := f.srv.UserAgents(); len(agents) != 0 {
		t.Errorf("after reset: UserAgents = %v", agents)
	}
	if f.srv.Faults().ServerErrorRate != 1 {
		t.Error("reset changed the fault config")
	}
}

func TestLicensesEndpoint(t *testing.T) {
	f := newFixture(t, "")
	f.post("/activate-key", body(productA, keyLimited, "host-1", ""))
	f.post("/activate-key", body(productA, keyUnlimited, "host-1", ""))
	f.post("/activate-key", body(productA, keyUnlimited, "host-2", ""))
	status, raw := f.request(http.MethodGet, "/_local/licenses", testToken, nil)
	if status != 200 {
		t.Fatalf("licenses: %d %s", status, raw)
	}
	noKeyIn(t, "/_local/licenses", string(raw), keyLimited, keyUnlimited, keyBlocked, keyExpired, keyInactive, keyExpiring, keyOther, testToken)
	var rows []map[string]any
	if err := json.Unmarshal(raw, &rows); err != nil {
		t.Fatal(err)
	}
	checkSnakeCase(t, "", rows)
	row := func(product, key string, limit any, activations int, blocked bool) map[string]any {
		return map[string]any{"product_id": product, "masked_key": MaskKey(key), "max_activations": limit, "activations": activations, "blocked": blocked}
	}
	want := []map[string]any{ // sorted by product and key
		row(productA, keyBlocked, 5, 0, true),
		row(productA, keyExpired, 5, 0, false),
		row(productA, keyExpiring, 5, 0, false),
		row(productA, keyInactive, 5, 0, false),
		row(productA, keyLimited, 2, 1, false),
		row(productA, keyUnlimited, nil, 2, false),
		row(productB, keyOther, 1, 0, false),
	}
	if !jsonEqual(rows, want) {
		t.Errorf("licenses = %v\nwant       %v", rows, want)
	}
	if got := f.srv.Licenses(); len(got) != len(want) || got[5].Activations != 2 || got[5].MaxActivations != nil {
		t.Errorf("Licenses() = %+v", got)
	}
}

func TestRemoveLicense(t *testing.T) {
	path := t.TempDir() + "/state.json"
	f := newFixture(t, path)
	f.post("/activate-key", body(productA, keyLimited, "host-1", ""))
	if err := f.srv.RemoveLicense(productB, keyLimited); !errors.Is(err, errInvalidKey) {
		t.Errorf("RemoveLicense with the wrong product: %v", err)
	}
	if err := f.srv.RemoveLicense(productA, keyLimited); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/get-key", "/activate-key", "/deactivate-key"} {
		status, got := f.post(path, body(productA, keyLimited, "host-1", ""))
		wantError(t, path+" of a removed key", status, got, 404, 1, "Invalid license key")
	}
	status, got := f.getKeyV2(productA, keyLimited, "")
	wantError(t, "GET /key of a removed key", status, got, 404, 1, "Invalid license key")
	if seats := f.srv.Seats(); len(seats) != 0 {
		t.Errorf("seats of a removed key: %v", seats)
	}
	for _, l := range f.srv.Licenses() {
		if l.MaskedKey == MaskKey(keyLimited) {
			t.Errorf("Licenses() lists the removed key")
		}
	}
	err := f.srv.RemoveLicense(productA, keyLimited)
	if !errors.Is(err, errInvalidKey) {
		t.Errorf("second RemoveLicense: %v", err)
	}
	noKeyIn(t, "RemoveLicense error", err.Error(), keyLimited)
	st, err := readStateFile(path)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := json.Marshal(st)
	if strings.Contains(string(data), keyLimited) {
		t.Error("the state file still holds the removed key")
	}
	// The product stays: a new key can be added to it.
	if err := f.srv.AddLicense(productA, LicenseSeed{Key: keyLimited}); err != nil {
		t.Errorf("AddLicense after RemoveLicense: %v", err)
	}
}
