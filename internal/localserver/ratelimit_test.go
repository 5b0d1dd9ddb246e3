package localserver

import (
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

func TestRateLimit(t *testing.T) {
	f := newFixture(t, "")
	const other = "at_other_token_0123456789ab"
	f.srv.AddToken(other)
	if err := f.srv.SetRateLimit(3); err != nil {
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
	// Requests without a valid token do not count.
	for range 5 {
		if resp, _ := send("at_wrong_token_0123456789ab"); resp.StatusCode != 401 {
			t.Fatalf("wrong token: %d", resp.StatusCode)
		}
	}
	// 3 requests a minute, in either generation; the local aids do not count.
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
	}
	// The 4th gets a 429 and has to wait for 1/3 minute; nothing is done.
	resp, raw, err := f.try(http.MethodPost, "/activate-key", testToken, body(productA, keyLimited, "host-1", ""))
	if err != nil {
		t.Fatal(err)
	}
	wantRateLimited(t, "4th request", resp, raw, "20")
	if devices, _ := f.srv.Devices(productA, keyLimited); len(devices) != 0 {
		t.Errorf("a rate-limited activation took a seat: %v", devices)
	}
	// Other tokens have their own allowance.
	if resp, raw := send(other); resp.StatusCode != 200 {
		t.Errorf("other token: %d %s", resp.StatusCode, raw)
	}
	// The allowance refills continuously.
	f.clock.Advance(15 * time.Second)
	resp, raw = send(testToken)
	wantRateLimited(t, "after 15 s", resp, raw, "5")
	f.clock.Advance(5 * time.Second)
	if resp, raw := send(testToken); resp.StatusCode != 200 {
		t.Errorf("after 20 s: %d %s", resp.StatusCode, raw)
	}
	// A configured Retry-After wins.
	f.setFaults(FaultConfig{RetryAfter: 90 * time.Second})
	resp, raw = send(testToken)
	wantRateLimited(t, "with FaultConfig.RetryAfter", resp, raw, "90")

	if got := f.srv.FaultStats(); got.RateLimited != 3 {
		t.Errorf("FaultStats.RateLimited = %d, want 3", got.RateLimited)
	}
	// Lifting the limit, or setting it again, gives a full allowance.
	if err := f.srv.SetRateLimit(0); err != nil {
		t.Fatal(err)
	}
	for range 10 {
		if resp, _ := send(testToken); resp.StatusCode != 200 {
			t.Fatalf("without a limit: %d", resp.StatusCode)
		}
	}
	if err := f.srv.SetRateLimit(1); err != nil {
		t.Fatal(err)
	}
	if resp, _ := send(testToken); resp.StatusCode != 200 {
		t.Errorf("first request under a new limit: %d", resp.StatusCode)
	}
	if f.srv.RateLimit() != 1 {
		t.Errorf("RateLimit() = %d", f.srv.RateLimit())
	}
	if err := f.srv.SetRateLimit(-1); err == nil || !strings.Contains(err.Error(), "negative") {
		t.Errorf("SetRateLimit(-1): %v", err)
	}
	if _, err := New(Options{RateLimitPerMinute: -5}); err == nil {
		t.Error("New accepted a negative rate limit")
	}
}

func TestRateLimitFromOptions(t *testing.T) {
	c := &clock{t: testNow}
	srv, err := New(Options{Seed: testSeed(), Now: c.Now, RateLimitPerMinute: 1})
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{t: t, srv: srv, url: startServer(t, srv), clock: c}
	f.post("/get-key", body(productA, keyLimited, "", ""))
	resp, raw, err := f.try(http.MethodPost, "/get-key", testToken, body(productA, keyLimited, "", ""))
	if err != nil {
		t.Fatal(err)
	}
	wantRateLimited(t, "2nd request", resp, raw, "60")
}
