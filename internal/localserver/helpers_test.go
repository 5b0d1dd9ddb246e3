package localserver

import (
	"bytes"
	"encoding/json"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	testToken = "at_test_token_0123456789abcdef"

	productA = "prod_aaaaaaaaaaaaaaaaaaaaaa"
	productB = "prod_bbbbbbbbbbbbbbbbbbbbbb"

	keyLimited   = "lk_limited_0123456789abcdef" // 2 seats, active customer
	keyUnlimited = "lk_unlimited_0123456789abcd" // no limit, no customer
	keyBlocked   = "lk_blocked_0123456789abcdef"
	keyExpired   = "lk_expired_0123456789abcdef"
	keyInactive  = "lk_inactive_0123456789abcde" // inactive customer
	keyExpiring  = "lk_expiring_0123456789abcde" // expires an hour after testNow
	keyOther     = "lk_otherprod_0123456789abcd" // belongs to productB, 1 seat
)

var testNow = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

// testSeed returns a fresh seed with one license of every kind.
func testSeed() Seed {
	jane := &Customer{ID: "cus_jane", Name: "Jane Doe", Email: "jane@example.com", Active: true}
	return Seed{
		AccessTokens: []string{testToken},
		Products: []ProductSeed{
			{ID: productA, Licenses: []LicenseSeed{
				{Key: keyLimited, MaxActivations: new(2), Customer: jane},
				{Key: keyUnlimited},
				{Key: keyBlocked, MaxActivations: new(5), Blocked: true},
				{Key: keyExpired, MaxActivations: new(5), ExpirationDate: new(testNow.Add(-time.Hour))},
				{Key: keyInactive, MaxActivations: new(5), Customer: &Customer{ID: "cus_gone", Name: "Gone", Email: "gone@example.com"}},
				{Key: keyExpiring, MaxActivations: new(5), ExpirationDate: new(testNow.Add(time.Hour))},
			}},
			{ID: productB, Licenses: []LicenseSeed{
				{Key: keyOther, MaxActivations: new(1)},
			}},
		},
	}
}

// clock is a settable time source.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// fixture is a server under test with its HTTP front end.
type fixture struct {
	t     *testing.T
	srv   *Server
	url   string
	clock *clock
}

// newFixture starts a server with testSeed and the given state file ("" for none).
func newFixture(t *testing.T, stateFile string) *fixture {
	t.Helper()
	c := &clock{t: testNow}
	srv := newServer(t, Options{Seed: testSeed(), StateFile: stateFile, Now: c.Now})
	return &fixture{t: t, srv: srv, url: startServer(t, srv), clock: c}
}

// newServer returns New(opts), closed when the test ends (after the HTTP
// servers started later).
func newServer(t *testing.T, opts Options) *Server {
	t.Helper()
	srv, err := New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { closeServer(t, srv) })
	return srv
}

// closeServer closes srv, releasing its state file.
func closeServer(t *testing.T, srv *Server) {
	t.Helper()
	if err := srv.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
}

// request sends a request and returns the status and the raw body.
func (f *fixture) request(method, path, token string, body io.Reader) (int, []byte) {
	f.t.Helper()
	req, err := http.NewRequest(method, f.url+path, body)
	if err != nil {
		f.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		f.t.Errorf("%s %s: Content-Type %q", method, path, ct)
	}
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		f.t.Fatal(err)
	}
	return resp.StatusCode, raw
}

// post sends an authenticated POST with body encoded as JSON and decodes the answer.
func (f *fixture) post(path string, body any) (int, map[string]any) {
	f.t.Helper()
	data, err := json.Marshal(body)
	if err != nil {
		f.t.Fatal(err)
	}
	status, raw := f.request(http.MethodPost, path, testToken, bytes.NewReader(data))
	return status, decodeObject(f.t, raw)
}

// try sends a request with body encoded as JSON (nil = no body) and
// returns the answer, or the transport error. setup may change the
// request before it is sent.
func (f *fixture) try(method, path, token string, body any, setup ...func(*http.Request)) (*http.Response, []byte, error) {
	f.t.Helper()
	var reader io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			f.t.Fatal(err)
		}
		reader = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, f.url+path, reader)
	if err != nil {
		f.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for _, fn := range setup {
		fn(req)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	return resp, raw, err
}

func decodeObject(t *testing.T, raw []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("answer %q is not a JSON object: %v", raw, err)
	}
	return m
}

// body builds a request body for the key calls; empty values are left out.
func body(productID, key, hostID, tag string) map[string]any {
	m := map[string]any{}
	for name, v := range map[string]string{"productId": productID, "licenseKey": key, "hostId": hostID, "deviceTag": tag} {
		if v != "" {
			m[name] = v
		}
	}
	return m
}

// wantAnswer checks status and body of an answer.
func wantAnswer(t *testing.T, what string, status int, got map[string]any, wantStatus int, want map[string]any) {
	t.Helper()
	if status != wantStatus || !jsonEqual(got, want) {
		t.Errorf("%s: got %d %v, want %d %v", what, status, got, wantStatus, want)
	}
}

// wantError checks an error answer {"message":..., "code":...}.
func wantError(t *testing.T, what string, status int, got map[string]any, wantStatus, code int, message string) {
	t.Helper()
	wantAnswer(t, what, status, got, wantStatus, map[string]any{"message": message, "code": code})
}

func jsonEqual(a, b any) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return bytes.Equal(ja, jb)
}

func okActivation(name, email string) map[string]any {
	return map[string]any{"code": 0, "message": "License valid", "licensee_name": name, "licensee_email": email}
}

func noKeyIn(t *testing.T, what, s string, keys ...string) {
	t.Helper()
	for _, k := range keys {
		if strings.Contains(s, k) {
			t.Errorf("%s reveals a full key: %q", what, s)
		}
	}
}

func newTestLogger(w io.Writer) *log.Logger { return log.New(w, "", 0) }

// startServer serves srv over HTTP for the duration of the test.
func startServer(t *testing.T, srv *Server) string {
	t.Helper()
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	return ts.URL
}
