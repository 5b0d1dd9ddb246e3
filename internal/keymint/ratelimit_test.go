package keymint

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// arrivals records when each request reached the server.
type arrivals struct {
	mu    sync.Mutex
	times []time.Time
}

func (a *arrivals) add() time.Time {
	now := time.Now()
	a.mu.Lock()
	a.times = append(a.times, now)
	a.mu.Unlock()
	return now
}

func (a *arrivals) list() []time.Time {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.times)
}

// rateLimitedAnswer is the body of the current SDKs' contract tests.
const rateLimitedAnswer = `{"message":"Request failed","code":1,"error":{"code":"RATE_LIMIT_EXCEEDED","message":"Too many requests. Please try again later."}}`

// Rate-limit answers do not use up MaxRetries, and Retry-After is honoured
// in full, beyond RetryWaitMax.
func TestRateLimitsDoNotUseRetries(t *testing.T) {
	var at arrivals
	s := &scripted{answers: []func(http.ResponseWriter){
		status(429, rateLimitedAnswer),
		status(429, rateLimitedAnswer),
		status(503, `{"message":"Maintenance","code":1}`, "Retry-After", "1"),
		ok200,
	}}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { at.add(); s.ServeHTTP(w, r) })
	c := retryClient(t, h, Config{MaxRetries: ptr(0), RetryWaitMax: 50 * time.Millisecond})
	if _, err := c.Deactivate(context.Background(), testProduct, testKey, "h"); err != nil {
		t.Fatalf("Deactivate after three rate-limit answers, with no retries allowed: %v", err)
	}
	times := at.list()
	if len(times) != 4 {
		t.Fatalf("%d requests, want 4", len(times))
	}
	if gap := times[3].Sub(times[2]); gap < time.Second {
		t.Errorf("sent again %v after a Retry-After of 1s (RetryWaitMax 50ms must not cut it)", gap)
	}
	if s.keys[0] == "" || s.keys[0] != s.keys[3] {
		t.Errorf("Idempotency-Key across rate-limit retries: %q", s.keys)
	}

	// A 503 without a Retry-After is a server error, which MaxRetries counts.
	s2 := &scripted{answers: []func(http.ResponseWriter){status(503, `{}`), ok200}}
	c2 := retryClient(t, s2, Config{MaxRetries: ptr(0)})
	if _, err := c2.Deactivate(context.Background(), testProduct, testKey, "h"); !IsServerError(err) {
		t.Errorf("err = %v, want the 503", err)
	}
}

// A call that is rate-limited over and over gives up once its next wait no
// longer fits in the budget, and says so.
func TestRateLimitBudgetRunsOut(t *testing.T) {
	s := &scripted{answers: []func(http.ResponseWriter){status(429, rateLimitedAnswer)}}
	// With RetryWaitMin = RetryWaitMax, each backoff is exactly 20ms: after
	// two (40ms), a third does not fit in 50ms.
	c := retryClient(t, s, Config{MaxRetries: ptr(0), RetryWaitMin: 20 * time.Millisecond, RetryWaitMax: 20 * time.Millisecond,
		RateLimitWait: ptr(50 * time.Millisecond)})
	_, err := c.Activate(context.Background(), ActivateInput{ProductID: testProduct, LicenseKey: testKey, HostID: "h"})
	e, ok := AsError(err)
	if !ok || !IsRateLimited(err) {
		t.Fatalf("err = %v, want a rate-limit *Error", err)
	}
	if got := s.count(); got != 3 {
		t.Errorf("%d requests, want 3", got)
	}
	if e.RateLimited != 3 || e.Waited != 40*time.Millisecond {
		t.Errorf("RateLimited = %d, Waited = %v; want 3, 40ms", e.RateLimited, e.Waited)
	}
	want := "KeyMint API activate: rate-limited 3 times; gave up after waiting 40ms in total (the rate-limit wait budget is 50ms; " +
		"the next wait would have been 20ms): HTTP 429 (code 1, RATE_LIMIT_EXCEEDED): Too many requests. Please try again later."
	if err.Error() != want {
		t.Errorf("Error() =\n  %s\nwant\n  %s", err, want)
	}
}

// A Retry-After longer than what is left of the budget ends the call at
// once: sleeping first would only delay the same failure.
func TestRetryAfterBeyondBudgetGivesUpAtOnce(t *testing.T) {
	s := &scripted{answers: []func(http.ResponseWriter){status(429, rateLimitedAnswer, "Retry-After", "3600"), ok200}}
	c := retryClient(t, s, Config{RateLimitWait: ptr(time.Minute)})
	start := time.Now()
	_, err := c.Deactivate(context.Background(), testProduct, testKey, "h")
	if !IsRateLimited(err) {
		t.Fatalf("err = %v, want a 429", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("gave up after %v; want at once", d)
	}
	if s.count() != 1 || !strings.Contains(err.Error(), "the next wait would have been 1h0m0s") {
		t.Errorf("%d requests; err = %v", s.count(), err)
	}
}

// A budget of 0 gives up at the first rate-limit answer. Another client
// with the same token then sends nothing while the server's window lasts.
func TestRateLimitBudgetZero(t *testing.T) {
	s := &scripted{answers: []func(http.ResponseWriter){status(429, rateLimitedAnswer, "Retry-After", "30")}}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	newClient := func() *Client {
		c, err := New(Config{BaseURL: srv.URL, AccessToken: testToken, RateLimitWait: ptr(time.Duration(0))})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	_, err := newClient().Activate(context.Background(), ActivateInput{ProductID: testProduct, LicenseKey: testKey, HostID: "h"})
	e, ok := AsError(err)
	if !ok || e.RateLimited != 1 || e.Waited != 0 {
		t.Fatalf("err = %#v", err)
	}
	if want := "KeyMint API activate: rate-limited once; gave up at once (the rate-limit wait budget is 0s): HTTP 429"; !strings.HasPrefix(err.Error(), want) {
		t.Errorf("Error() = %s\nwant it to start %s", err, want)
	}
	_, err = newClient().GetKey(context.Background(), testProduct, testKey)
	e, ok = AsError(err)
	if !ok || !IsRateLimited(err) || e.RateLimited != 0 || e.Operation != "get-key" {
		t.Fatalf("err = %#v, want the held-back 429", err)
	}
	if !strings.Contains(err.Error(), "KeyMint API get-key: not sent: requests with this access token are held back") {
		t.Errorf("Error() = %s", err)
	}
	if got := s.count(); got != 1 {
		t.Errorf("%d requests, want 1: the second call must not be sent into the window", got)
	}
}

// One 429 with a Retry-After holds back every request of the process to
// that server with that token, other clients' included, until the moment it
// named; nothing is sent into the window.
func TestRateLimitGateIsShared(t *testing.T) {
	var at arrivals
	var mu sync.Mutex
	var windowEnd time.Time // the end of the server's window, once it has refused
	refused := 0
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		now := at.add()
		mu.Lock()
		first := windowEnd.IsZero()
		inWindow := now.Before(windowEnd)
		if first {
			windowEnd = now.Add(time.Second)
		}
		if first || inWindow {
			refused++
		}
		mu.Unlock()
		if first || inWindow {
			status(429, rateLimitedAnswer, "Retry-After", "1")(w)
			return
		}
		ok200(w)
	})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	newClient := func(token string) *Client {
		c, err := New(Config{BaseURL: srv.URL, AccessToken: token, MaxRetries: ptr(0)})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	c1, c2 := newClient(testToken), newClient(testToken)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, 5)
	wg.Go(func() { _, err := c1.Deactivate(ctx, testProduct, testKey, "first"); errs <- err })
	// Wait until the first call's 429 has closed the gate.
	for until, _ := c1.limits.gate(); until.IsZero(); until, _ = c1.limits.gate() {
		if ctx.Err() != nil {
			t.Fatal("the gate never closed")
		}
		time.Sleep(time.Millisecond)
	}
	for i := range 4 {
		c := []*Client{c1, c2}[i%2]
		wg.Go(func() { _, err := c.Deactivate(ctx, testProduct, testKey, "h"); errs <- err })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	times := at.list()
	if len(times) != 6 || refused != 1 {
		t.Fatalf("%d requests with %d refused; want 6 with 1 refused (the first call twice, four others once)", len(times), refused)
	}
	for i, ti := range times[1:] {
		if ti.Before(windowEnd) {
			t.Errorf("request %d was sent %v before the time the server named", i+2, windowEnd.Sub(ti))
		}
	}
	// Another token has a gate of its own.
	if other := newClient("at_another_token"); other.limits == c1.limits {
		t.Error("clients with different tokens share a gate")
	} else if until, _ := other.limits.gate(); !until.IsZero() {
		t.Error("the other token's gate is closed")
	}
}

// A caller giving up while its request waits at the gate is not held.
func TestCancelWhileWaitingAtTheGate(t *testing.T) {
	s := &scripted{answers: []func(http.ResponseWriter){status(429, rateLimitedAnswer, "Retry-After", "30")}}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	c, err := New(Config{BaseURL: srv.URL, AccessToken: testToken, RateLimitWait: ptr(time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	c.limits.hold(time.Now().Add(30*time.Second), newError("activate", 429, []byte(rateLimitedAnswer), nil))
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	start := time.Now()
	_, err = c.GetKey(ctx, testProduct, testKey)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("returned %v after start; the context was cancelled at 50ms", d)
	}
	if s.count() != 0 {
		t.Error("a request was sent while the gate was closed")
	}
}

// The pacer spaces out the requests of every client with the token, and its
// waits do not count against the rate-limit budget.
func TestPacing(t *testing.T) {
	var at arrivals
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		at.add()
		ok200(w)
	})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	// 1,200 a minute: one every 50ms.
	paced, err := New(Config{BaseURL: srv.URL, AccessToken: testToken, MaxRequestsPerMinute: 1200, RateLimitWait: ptr(time.Duration(0))})
	if err != nil {
		t.Fatal(err)
	}
	// A client that sets no pace shares the token's pacer all the same.
	unpaced, err := New(Config{BaseURL: srv.URL, AccessToken: testToken, RateLimitWait: ptr(time.Duration(0))})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	var wg sync.WaitGroup
	for i := range 6 {
		c := []*Client{paced, unpaced}[i%2]
		wg.Go(func() {
			if _, err := c.Deactivate(context.Background(), testProduct, testKey, "h"); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	times := at.list()
	if len(times) != 6 {
		t.Fatalf("%d requests, want 6", len(times))
	}
	// The first goes at once, each further one 50ms after the one before.
	if last := slices.MaxFunc(times, time.Time.Compare); last.Sub(start) < 250*time.Millisecond {
		t.Errorf("6 requests at 1,200 a minute took %v, want at least 250ms", last.Sub(start))
	}
}
