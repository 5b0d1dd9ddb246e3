package keymint

import (
	"context"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// scripted answers the n-th request (from 0) with answers[n]; past the end,
// with the last one. It records each request's Idempotency-Key.
type scripted struct {
	mu      sync.Mutex
	answers []func(w http.ResponseWriter)
	n       int
	keys    []string
}

func (s *scripted) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	s.mu.Lock()
	i := min(s.n, len(s.answers)-1)
	s.n++
	s.keys = append(s.keys, r.Header.Get("Idempotency-Key"))
	s.mu.Unlock()
	s.answers[i](w)
}

func (s *scripted) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.n
}

func status(code int, body string, headers ...string) func(http.ResponseWriter) {
	return func(w http.ResponseWriter) {
		for i := 0; i+1 < len(headers); i += 2 {
			w.Header().Set(headers[i], headers[i+1])
		}
		w.WriteHeader(code)
		_, _ = io.WriteString(w, body)
	}
}

// hangUp closes the connection without an answer, as when an answer is lost
// after the server made the change.
func hangUp(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err == nil {
		_ = conn.Close()
	}
}

// cutOff promises a longer body than it sends, then closes the connection.
func cutOff(w http.ResponseWriter) {
	conn, buf, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return
	}
	_, _ = buf.WriteString("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n{\"code\":0,")
	_ = buf.Flush()
	_ = conn.Close()
}

var ok200 = status(200, `{"code":0,"message":"Device deactivated"}`)

func retryClient(t *testing.T, h http.Handler, cfg Config) *Client {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	cfg.BaseURL, cfg.AccessToken = srv.URL, testToken
	if cfg.RetryWaitMin == 0 {
		cfg.RetryWaitMin = 5 * time.Millisecond
	}
	if cfg.RetryWaitMax == 0 {
		cfg.RetryWaitMax = 50 * time.Millisecond
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestRetriesTransientFailures(t *testing.T) {
	cases := map[string]func(http.ResponseWriter){
		"500":          status(500, `{"message":"Server error","code":1}`),
		"502 no JSON":  status(502, `bad gateway`),
		"503":          status(503, ``),
		"429":          status(429, `{"message":"Too many requests","code":3}`),
		"lost answer":  hangUp,
		"cut-off body": cutOff,
	}
	for name, fail := range cases {
		t.Run(name, func(t *testing.T) {
			s := &scripted{answers: []func(http.ResponseWriter){fail, fail, ok200}}
			c := retryClient(t, s, Config{})
			if _, err := c.Deactivate(context.Background(), testProduct, testKey, "h"); err != nil {
				t.Fatalf("Deactivate after two failures: %v", err)
			}
			if got := s.count(); got != 3 {
				t.Errorf("%d requests, want 3", got)
			}
			// Every attempt of the one operation carries the same key.
			if s.keys[0] == "" || s.keys[0] != s.keys[1] || s.keys[1] != s.keys[2] {
				t.Errorf("Idempotency-Key across retries: %q", s.keys)
			}
		})
	}
}

func TestIdempotencyKeyPerOperation(t *testing.T) {
	s := &scripted{answers: []func(http.ResponseWriter){ok200}}
	c := retryClient(t, s, Config{})
	for range 2 {
		if _, err := c.Deactivate(context.Background(), testProduct, testKey, "h"); err != nil {
			t.Fatal(err)
		}
	}
	if s.keys[0] == s.keys[1] {
		t.Error("two operations share an Idempotency-Key")
	}
	if _, err := c.GetKey(context.Background(), testProduct, testKey); err == nil {
		t.Fatal("want a decoding error for a deactivate answer")
	}
	if s.keys[2] != "" {
		t.Error("a read carries an Idempotency-Key")
	}
}

func TestNoRetryOnOtherClientErrors(t *testing.T) {
	for _, code := range []int{400, 401, 403, 404, 409, 501} {
		t.Run(strconv.Itoa(code), func(t *testing.T) {
			s := &scripted{answers: []func(http.ResponseWriter){status(code, `{"message":"no","code":1}`), ok200}}
			c := retryClient(t, s, Config{})
			_, err := c.Deactivate(context.Background(), testProduct, testKey, "h")
			if e, ok := AsError(err); !ok || e.StatusCode != code {
				t.Fatalf("err = %v, want HTTP %d", err, code)
			}
			if got := s.count(); got != 1 {
				t.Errorf("%d requests, want 1 (no retry)", got)
			}
		})
	}
}

func TestRetriesExhausted(t *testing.T) {
	s := &scripted{answers: []func(http.ResponseWriter){status(500, `{"message":"Server error","code":1}`)}}
	c := retryClient(t, s, Config{MaxRetries: ptr(3)})
	_, err := c.Deactivate(context.Background(), testProduct, testKey, "h")
	if !IsServerError(err) {
		t.Fatalf("err = %v, want the last answer, a server error", err)
	}
	if got := s.count(); got != 4 {
		t.Errorf("%d requests, want 1 + 3 retries", got)
	}
	s2 := &scripted{answers: []func(http.ResponseWriter){hangUp}}
	c2 := retryClient(t, s2, Config{MaxRetries: ptr(2)})
	_, err = c2.Deactivate(context.Background(), testProduct, testKey, "h")
	if err == nil || IsServerError(err) || strings.Contains(err.Error(), testKey) {
		t.Fatalf("err = %v, want a transport error without secrets", err)
	}
	if got := s2.count(); got != 3 {
		t.Errorf("%d requests, want 3", got)
	}
}

func TestRetryAfterIsHonoured(t *testing.T) {
	for name, value := range map[string]string{
		"seconds": "1",
		"date":    time.Now().Add(3 * time.Second).UTC().Format(http.TimeFormat),
	} {
		t.Run(name, func(t *testing.T) {
			s := &scripted{answers: []func(http.ResponseWriter){status(429, `{"message":"slow down","code":3}`, "Retry-After", value), ok200}}
			c := retryClient(t, s, Config{RetryWaitMax: 5 * time.Second})
			start := time.Now()
			if _, err := c.Deactivate(context.Background(), testProduct, testKey, "h"); err != nil {
				t.Fatal(err)
			}
			// An HTTP date has whole-second precision: at least 1 s remains.
			if d := time.Since(start); d < time.Second {
				t.Errorf("retried after %v, before Retry-After (%s)", d, value)
			}
		})
	}
}

func TestCancelStopsRetryWait(t *testing.T) {
	s := &scripted{answers: []func(http.ResponseWriter){status(503, `{}`, "Retry-After", "30")}}
	c := retryClient(t, s, Config{RetryWaitMax: time.Minute})
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	start := time.Now()
	_, err := c.Deactivate(ctx, testProduct, testKey, "h")
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
	if d := time.Since(start); d > 500*time.Millisecond {
		t.Errorf("returned %v after start; the context was cancelled at 100ms", d)
	}
}

func TestRequestTimeoutPerAttempt(t *testing.T) {
	var calls atomic.Int32
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body) // so that the server notices the client leave
		if calls.Add(1) == 1 {
			select { // the first attempt hangs
			case <-r.Context().Done():
			case <-time.After(10 * time.Second):
			}
			return
		}
		ok200(w)
	})
	c := retryClient(t, h, Config{RequestTimeout: time.Second})
	start := time.Now()
	if _, err := c.Deactivate(context.Background(), testProduct, testKey, "h"); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %v; the first attempt should time out after 1s", d)
	}
}

func TestRetrySettingsValidated(t *testing.T) {
	bad := []Config{
		{MaxRetries: ptr(MaxMaxRetries + 1)},
		{RetryWaitMin: -time.Second},
		{RetryWaitMin: 10 * time.Second, RetryWaitMax: time.Second},
		{RetryWaitMax: MaxRetryWait + time.Second},
		{RequestTimeout: time.Millisecond},
		{RequestTimeout: MaxRequestTimeout + time.Second},
		{RateLimitWait: ptr(-time.Second)},
		{RateLimitWait: ptr(MaxRateLimitWait + time.Second)},
		{MaxRequestsPerMinute: -1},
		{MaxRequestsPerMinute: MaxMaxRequestsPerMinute + 1},
		{APIVersion: "v3"},
	}
	for _, cfg := range bad {
		cfg.BaseURL, cfg.AccessToken = DefaultBaseURL, testToken
		if _, err := New(cfg); err == nil {
			t.Errorf("New accepted %+v", cfg)
		}
	}
}

func TestBackoffBounds(t *testing.T) {
	for attempt := range 40 {
		d := backoff(time.Second, 30*time.Second, attempt)
		if d < time.Second || d > 30*time.Second {
			t.Fatalf("attempt %d: backoff %v outside [1s, 30s]", attempt, d)
		}
	}
	// It grows: the fifth retry waits longer than the first could.
	if d := backoff(time.Second, time.Hour, 5); d < 16*time.Second {
		t.Errorf("attempt 5: %v, want at least 16s", d)
	}
}

func TestRetryAfterParsing(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := map[string]time.Duration{
		"0":                             0,
		"120":                           2 * time.Minute,
		"9999999999999":                 24 * time.Hour,
		"Thu, 01 Jan 2026 00:00:30 GMT": 30 * time.Second,
		"Wed, 31 Dec 2025 23:00:00 GMT": 0, // in the past
	}
	for v, want := range tests {
		if got, ok := retryAfter(v, now); !ok || got != want {
			t.Errorf("retryAfter(%q) = %v, %v; want %v", v, got, ok, want)
		}
	}
	for _, v := range []string{"", "-5", "soon", "1.5", "99999999999999999999999"} {
		if _, ok := retryAfter(v, now); ok {
			t.Errorf("retryAfter(%q) parsed", v)
		}
	}
}

// Retries reach a real listener that refuses connections at first.
func TestRetriesConnectionRefused(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close() // refused until the server below starts
	c, err := New(Config{BaseURL: "http://" + addr, AccessToken: testToken, RetryWaitMin: 100 * time.Millisecond, RetryWaitMax: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		time.Sleep(150 * time.Millisecond)
		l2, err := net.Listen("tcp", addr)
		if err != nil {
			return
		}
		srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { ok200(w) }), ReadHeaderTimeout: time.Second}
		t.Cleanup(func() { _ = srv.Close() })
		_ = srv.Serve(l2)
	}()
	if _, err := c.Deactivate(context.Background(), testProduct, testKey, "h"); err != nil {
		t.Fatalf("Deactivate: %v", err)
	}
}

// A certificate the client does not trust is not retried: every retry would
// fail the same way.
func TestNoRetryOnUntrustedCertificate(t *testing.T) {
	var handshakes atomic.Int32
	srv := httptest.NewUnstartedServer(ok200Handler())
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			handshakes.Add(1)
		}
	}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	c, err := New(Config{BaseURL: srv.URL, AccessToken: testToken, MaxRetries: ptr(3), RetryWaitMin: 10 * time.Millisecond, RetryWaitMax: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Deactivate(context.Background(), testProduct, testKey, "h")
	if err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("err = %v, want a certificate error", err)
	}
	if got := handshakes.Load(); got != 1 {
		t.Errorf("%d connections, want 1 (no retry)", got)
	}
}

func ok200Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { ok200(w) })
}
