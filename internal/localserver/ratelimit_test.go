package localserver

import (
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestRetryAfterSeconds(t *testing.T) {
	for _, tc := range []struct {
		d    time.Duration
		want int64
	}{
		{0, 1}, {time.Nanosecond, 1}, {time.Second, 1}, {time.Second + 1, 2}, {20 * time.Second, 20}, {-time.Second, 1},
		{time.Duration(1<<63 - 1), 9223372037},
	} {
		if got := retryAfterSeconds(tc.d); got != tc.want {
			t.Errorf("retryAfterSeconds(%v) = %d, want %d", tc.d, got, tc.want)
		}
	}
}

func TestParseRateLimit(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want RateLimit
	}{
		{"10/1m", RateLimit{10, time.Minute}},
		{"3/3s", RateLimit{3, 3 * time.Second}},
		{"20/2s", RateLimit{20, 2 * time.Second}},
		{"1000/1h", RateLimit{1000, time.Hour}},
		{"5/1m30s", RateLimit{5, 90 * time.Second}},
		{"2/250ms", RateLimit{2, 250 * time.Millisecond}},
		{"10", RateLimit{10, time.Minute}}, // a bare N is N a minute, as before
		{"1", RateLimit{1, time.Minute}},
		{"0", RateLimit{}},
		{"0/5s", RateLimit{}},
		{"+4/1s", RateLimit{4, time.Second}},
	} {
		got, err := ParseRateLimit(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("ParseRateLimit(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
			continue
		}
		// String gives the same limit back.
		if again, err := ParseRateLimit(got.String()); err != nil || again != got {
			t.Errorf("ParseRateLimit(%q.String() = %q) = %+v, %v", tc.in, got.String(), again, err)
		}
	}
	const syntax = "want N or N/DURATION"
	for _, tc := range []struct{ in, want string }{
		{"", syntax},
		{"ten", syntax},
		{"1.5/1m", syntax},
		{"/1m", syntax},
		{"10/", syntax},
		{"10/minute", syntax},
		{"3/3", syntax},
		{"3/3s/3s", syntax},
		{" 3/3s", syntax},
		{"3 /3s", syntax},
		{"-1", "the number of requests must not be negative"},
		{"-3/3s", "the number of requests must not be negative"},
		{"3/0s", "the window must be longer than 0"},
		{"3/-1s", "the window must not be negative"},
		{"99999999999999999999/1s", syntax},
	} {
		got, err := ParseRateLimit(tc.in)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), `"`+tc.in+`"`) {
			t.Errorf("ParseRateLimit(%q) = %+v, %v; want an error quoting the value and saying %q", tc.in, got, err, tc.want)
		}
		if got != (RateLimit{}) {
			t.Errorf("ParseRateLimit(%q) returned %+v with its error", tc.in, got)
		}
	}
}

func TestRateLimitValidateAndString(t *testing.T) {
	for _, tc := range []struct {
		l       RateLimit
		str     string
		invalid string
	}{
		{RateLimit{}, "0", ""},
		{RateLimit{0, time.Minute}, "0", ""},
		{RateLimit{10, time.Minute}, "10/1m0s", ""},
		{RateLimit{3, 3 * time.Second}, "3/3s", ""},
		{RateLimit{-1, time.Minute}, "-1/1m0s", "the number of requests must not be negative"},
		{RateLimit{3, 0}, "3/0s", "the window must be longer than 0"},
		{RateLimit{3, -time.Second}, "3/-1s", "the window must not be negative"},
	} {
		if got := tc.l.String(); got != tc.str {
			t.Errorf("%+v.String() = %q, want %q", tc.l, got, tc.str)
		}
		err := tc.l.Validate()
		if (err == nil) != (tc.invalid == "") || (err != nil && !strings.Contains(err.Error(), tc.invalid)) {
			t.Errorf("%+v.Validate() = %v, want %q", tc.l, err, tc.invalid)
		}
	}
}

// TestSlidingWindowModel checks the limiter against its definition over
// random request times: a request is accepted exactly when fewer than
// Requests accepted requests of its token lie within the Window before it
// (a request leaves the window once a whole Window has passed), and the
// wait of a refused request is the time until the oldest of them leaves.
func TestSlidingWindowModel(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, limit := range []RateLimit{{1, time.Second}, {3, 3 * time.Second}, {20, 2 * time.Second}, {10, time.Minute}} {
		var l rateLimiter
		l.set(limit)
		now := testNow
		accepted := map[string][]time.Time{}
		for i := range 5000 {
			// Steps of 0 to 1/5 of the window, some exactly on a boundary.
			step := time.Duration(rng.Int64N(int64(limit.Window / 5)))
			if rng.IntN(10) == 0 && len(accepted["a"]) > 0 {
				step = accepted["a"][max(0, len(accepted["a"])-limit.Requests)].Add(limit.Window).Sub(now)
			}
			now = now.Add(max(0, step))
			token := []string{"a", "b"}[rng.IntN(2)]
			var inWindow []time.Time
			for _, at := range accepted[token] {
				if now.Sub(at) < limit.Window {
					inWindow = append(inWindow, at)
				}
			}
			wantOK := len(inWindow) < limit.Requests
			wait, ok := l.take(token, now)
			if ok != wantOK {
				t.Fatalf("%v, request %d of %s at +%v: allowed %v, want %v (%d accepted in the window)", limit, i, token, now.Sub(testNow), ok, wantOK, len(inWindow))
			}
			if ok {
				accepted[token] = append(accepted[token], now)
				continue
			}
			if want := inWindow[len(inWindow)-limit.Requests].Add(limit.Window).Sub(now); wait != want || wait <= 0 {
				t.Fatalf("%v, request %d: wait %v, want %v", limit, i, wait, want)
			}
		}
		// Never more than Requests in any window-long interval [t, t+Window).
		for token, times := range accepted {
			for i := limit.Requests; i < len(times); i++ {
				if times[i].Sub(times[i-limit.Requests]) < limit.Window {
					t.Fatalf("%v: %s sent %d requests within %v", limit, token, limit.Requests+1, times[i].Sub(times[i-limit.Requests]))
				}
			}
			if len(times) < 5000/2/10 {
				t.Errorf("%v: only %d requests of %s accepted; the test exercises little", limit, len(times), token)
			}
		}
		if n := len(l.windows["a"]); n > limit.Requests {
			t.Errorf("%v: the limiter remembers %d requests of a token", limit, n)
		}
	}
}

func TestRateLimit(t *testing.T) {
	f := newFixture(t, "")
	const other = "at_other_token_0123456789ab"
	f.srv.AddToken(other)
	if err := f.srv.SetRateLimit(RateLimit{Requests: 3, Window: time.Minute}); err != nil {
		t.Fatal(err)
	}
	send := func(token string) (*http.Response, []byte) {
		t.Helper()
		resp, raw, err := f.try(http.MethodPost, "/get-key", token, body(productA, keyLimited, "", ""))
		if err != nil {
			t.Fatal(err)
		}
		return resp, raw
	}
	wantOK := func(what string, resp *http.Response, raw []byte) {
		t.Helper()
		if resp.StatusCode != 200 {
			t.Errorf("%s: %d %s, want 200", what, resp.StatusCode, raw)
		}
	}
	// Requests without a valid token, and requests to paths that are not
	// served, do not count.
	for range 5 {
		if resp, _ := send("at_wrong_token_0123456789ab"); resp.StatusCode != 401 {
			t.Fatalf("wrong token: %d", resp.StatusCode)
		}
		if status, _ := f.request(http.MethodPost, "/no-such-path", testToken, nil); status != 404 {
			t.Fatalf("unknown path: %d", status)
		}
	}
	// 3 requests a minute, in either generation, 10 s apart; the local aids
	// do not count.
	for i := range 3 {
		if status, _ := f.request(http.MethodGet, "/_local/seats", testToken, nil); status != 200 {
			t.Fatalf("/_local/seats: %d", status)
		}
		var status int
		if i == 1 {
			status, _ = f.getKeyV2(productA, keyLimited, "")
		} else {
			resp, _ := send(testToken)
			status = resp.StatusCode
		}
		if status != 200 {
			t.Fatalf("request %d: %d", i+1, status)
		}
		if i < 2 {
			f.clock.Advance(10 * time.Second)
		}
	}
	// The 4th, 20 s after the first, gets a 429 and has to wait until the
	// first is a minute old; nothing is done.
	resp, raw, err := f.try(http.MethodPost, "/activate-key", testToken, body(productA, keyLimited, "host-1", ""))
	if err != nil {
		t.Fatal(err)
	}
	wantRateLimited(t, "4th request", resp, raw, "40")
	if devices, _ := f.srv.Devices(productA, keyLimited); len(devices) != 0 {
		t.Errorf("a rate-limited activation took a seat: %v", devices)
	}
	// Other tokens have their own allowance.
	resp, raw = send(other)
	wantOK("other token", resp, raw)
	// Refused requests take no place in the window, and the wait is
	// rounded up to whole seconds.
	f.clock.Advance(39*time.Second + 500*time.Millisecond)
	resp, raw = send(testToken)
	wantRateLimited(t, "half a second early", resp, raw, "1")
	f.clock.Advance(500 * time.Millisecond)
	resp, raw = send(testToken)
	wantOK("a minute after the first", resp, raw)
	// The window slides: the next place frees when the second request is a
	// minute old, 10 s later.
	resp, raw = send(testToken)
	wantRateLimited(t, "right after", resp, raw, "10")
	f.clock.Advance(10 * time.Second)
	resp, raw = send(testToken)
	wantOK("a minute after the second", resp, raw)
	// A configured Retry-After wins.
	f.setFaults(FaultConfig{RetryAfter: 90 * time.Second})
	resp, raw = send(testToken)
	wantRateLimited(t, "with FaultConfig.RetryAfter", resp, raw, "90")

	if got := f.srv.FaultStats(); got.RateLimited != 4 {
		t.Errorf("FaultStats.RateLimited = %d, want 4", got.RateLimited)
	}
	// Lifting the limit, or setting it again, gives a full allowance.
	if err := f.srv.SetRateLimit(RateLimit{}); err != nil {
		t.Fatal(err)
	}
	for range 10 {
		if resp, _ := send(testToken); resp.StatusCode != 200 {
			t.Fatalf("without a limit: %d", resp.StatusCode)
		}
	}
	if err := f.srv.SetRateLimit(RateLimit{Requests: 1, Window: 3 * time.Second}); err != nil {
		t.Fatal(err)
	}
	resp, raw = send(testToken)
	wantOK("first request under a new limit", resp, raw)
	resp, raw = send(testToken)
	wantRateLimited(t, "second request under a new limit", resp, raw, "90")
	if got := f.srv.RateLimit(); got != (RateLimit{1, 3 * time.Second}) {
		t.Errorf("RateLimit() = %+v", got)
	}
	// Invalid limits are refused and change nothing.
	for _, l := range []RateLimit{{-1, time.Minute}, {1, 0}, {1, -time.Second}} {
		if err := f.srv.SetRateLimit(l); err == nil {
			t.Errorf("SetRateLimit(%+v) accepted", l)
		}
		if _, err := New(Options{RateLimit: l}); err == nil {
			t.Errorf("New accepted the rate limit %+v", l)
		}
	}
	if got := f.srv.RateLimit(); got != (RateLimit{1, 3 * time.Second}) {
		t.Errorf("RateLimit() after invalid limits = %+v", got)
	}
	// No requests with a zero window is no limit at all.
	if err := f.srv.SetRateLimit(RateLimit{Requests: 0, Window: time.Minute}); err != nil || f.srv.RateLimit() != (RateLimit{}) {
		t.Errorf("SetRateLimit(0 requests a minute): %v, RateLimit() = %+v", err, f.srv.RateLimit())
	}
}

func TestRateLimitFromOptions(t *testing.T) {
	for _, tc := range []struct {
		limit      RateLimit
		retryAfter string
	}{
		{RateLimit{1, time.Minute}, "60"},
		{RateLimit{3, 3 * time.Second}, "3"},
		{RateLimit{2, 1500 * time.Millisecond}, "2"},
	} {
		c := &clock{t: testNow}
		srv, err := New(Options{Seed: testSeed(), Now: c.Now, RateLimit: tc.limit})
		if err != nil {
			t.Fatal(err)
		}
		f := &fixture{t: t, srv: srv, url: startServer(t, srv), clock: c}
		for range tc.limit.Requests {
			if status, got := f.post("/get-key", body(productA, keyLimited, "", "")); status != 200 {
				t.Fatalf("%v: %d %v", tc.limit, status, got)
			}
		}
		resp, raw, err := f.try(http.MethodPost, "/get-key", testToken, body(productA, keyLimited, "", ""))
		if err != nil {
			t.Fatal(err)
		}
		wantRateLimited(t, tc.limit.String(), resp, raw, tc.retryAfter)
		c.Advance(tc.limit.Window)
		if status, got := f.post("/get-key", body(productA, keyLimited, "", "")); status != 200 {
			t.Errorf("%v: after a window: %d %v", tc.limit, status, got)
		}
	}
}
