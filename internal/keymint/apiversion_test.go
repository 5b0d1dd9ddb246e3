package keymint

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// generations is a server that serves the path sets it is told to, and
// answers any other path as a web framework in front of the API would.
type generations struct {
	gen1, gen2 bool
	unknown    func(w http.ResponseWriter, r *http.Request) // the answer for a path not served

	mu   sync.Mutex
	seen []string // "METHOD /path idempotency-key"
}

func (g *generations) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	g.mu.Lock()
	g.seen = append(g.seen, r.Method+" "+r.URL.Path+" "+r.Header.Get("Idempotency-Key"))
	g.mu.Unlock()
	route := r.Method + " " + r.URL.Path
	switch {
	case g.gen1 && (route == "POST /activate-key" || route == "POST /deactivate-key"),
		g.gen2 && (route == "POST /key/activate" || route == "POST /key/deactivate"):
		_, _ = io.WriteString(w, `{"code":0,"message":"ok"}`)
	case g.gen1 && route == "POST /get-key", g.gen2 && route == "GET /key":
		_, _ = io.WriteString(w, `{"code":0,"data":{"license":{"id":"lic_1","devices":[]},"customer":null}}`)
	case g.unknown != nil:
		g.unknown(w, r)
	default:
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprintf(w, `{"message":"Cannot %s %s","error":"Not Found","statusCode":404}`, r.Method, r.URL.Path)
	}
}

func (g *generations) requests() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]string(nil), g.seen...)
}

func generationsClient(t *testing.T, g *generations, version string) *Client {
	return generationsClientWith(t, g, Config{APIVersion: version})
}

// generationsClientWith is generationsClient with more settings; cfg's
// base URL and retries are the test's, its token testToken unless set.
func generationsClientWith(t *testing.T, g *generations, cfg Config) *Client {
	t.Helper()
	srv := httptest.NewServer(g)
	t.Cleanup(srv.Close)
	cfg.BaseURL, cfg.MaxRetries = srv.URL, ptr(0)
	if cfg.AccessToken == "" {
		cfg.AccessToken = testToken
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// lockedBuffer is a log sink for concurrent writers.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestAutoSwitchesToGenerationTwo(t *testing.T) {
	unknowns := map[string]func(http.ResponseWriter, *http.Request){
		"web framework 404": nil,
		"HTML 404": func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(http.StatusNotFound)
			_, _ = io.WriteString(w, "<html><body>404 Not Found: no such license key route</body></html>")
		},
		"405": func(w http.ResponseWriter, _ *http.Request) {
			http.Error(w, "Method Not Allowed", http.StatusMethodNotAllowed)
		},
	}
	for name, unknown := range unknowns {
		t.Run(name, func(t *testing.T) {
			g := &generations{gen2: true, unknown: unknown}
			c := generationsClient(t, g, "")
			if got := c.APIVersionInUse(); got != APIv1 {
				t.Fatalf("APIVersionInUse() = %q before any call, want v1", got)
			}
			ctx := context.Background()
			if _, err := c.Activate(ctx, ActivateInput{ProductID: testProduct, LicenseKey: testKey, HostID: "h"}); err != nil {
				t.Fatal(err)
			}
			if got := c.APIVersionInUse(); got != APIv2 {
				t.Errorf("APIVersionInUse() = %q after the switch, want v2", got)
			}
			if _, err := c.GetKey(ctx, testProduct, testKey); err != nil {
				t.Fatal(err)
			}
			reqs := g.requests()
			if len(reqs) != 3 {
				t.Fatalf("requests %q, want the activation on both path sets, then get-key on generation 2 only", reqs)
			}
			first, second := strings.Fields(reqs[0]), strings.Fields(reqs[1])
			if first[1] != "/activate-key" || second[1] != "/key/activate" || !strings.HasPrefix(reqs[2], "GET /key ") {
				t.Errorf("requests %q", reqs)
			}
			if len(first) != 3 || len(second) != 3 || first[2] != second[2] {
				t.Errorf("the repeated call does not carry the same Idempotency-Key: %q", reqs)
			}
		})
	}
}

// Concurrent calls all switch, and the switch is logged once.
func TestAutoSwitchIsLoggedOnce(t *testing.T) {
	g := &generations{gen2: true}
	var logs lockedBuffer
	c := generationsClientWith(t, g, Config{APIVersion: APIAuto, Logger: &jsonLogger{w: &logs}})
	ctx := context.Background()
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			if _, err := c.Deactivate(ctx, testProduct, testKey, fmt.Sprintf("h%d", i)); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if n := strings.Count(logs.String(), "using the generation-2 paths"); n != 1 {
		t.Errorf("the switch was logged %d times, want once:\n%s", n, logs.String())
	}
	if c.APIVersionInUse() != APIv2 {
		t.Error("the client did not switch")
	}
	if _, err := c.Deactivate(ctx, testProduct, testKey, "after"); err != nil {
		t.Fatal(err)
	}
	if last := g.requests()[len(g.requests())-1]; !strings.HasPrefix(last, "POST /key/deactivate ") {
		t.Errorf("a call after the switch went to %q", last)
	}
}

// When neither path set is served, the error says so, and nothing in it
// passes for an answer about a seat or a license.
func TestAutoBothUnknown(t *testing.T) {
	g := &generations{}
	c := generationsClient(t, g, APIAuto)
	_, err := c.Deactivate(context.Background(), testProduct, testKey, "h")
	if !IsUnknownRoute(err) || IsNotActivated(err) || IsLicenseNotFound(err) || IsDeviceNotFound(err) {
		t.Fatalf("err = %v: want an unknown route and nothing else", err)
	}
	for _, want := range []string{
		"KeyMint API deactivate: both API path sets were answered as unknown routes by something that is not KeyMint",
		"POST /deactivate-key: HTTP 404", "POST /key/deactivate: HTTP 404", "check base_url and api_version",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Error() = %s\nwant it to contain %q", err, want)
		}
	}
	if len(g.requests()) != 2 || c.APIVersionInUse() != APIv1 {
		t.Errorf("requests %q, version %s", g.requests(), c.APIVersionInUse())
	}
}

// KeyMint's own 404 on generation 1 is an answer: no switch.
func TestAutoStaysOnKeyMintAnswers(t *testing.T) {
	var n int
	var mu sync.Mutex
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		n++
		mu.Unlock()
		w.WriteHeader(http.StatusNotFound)
		_, _ = io.WriteString(w, `{"message":"Invalid license key","code":1}`)
	})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	c, err := New(Config{BaseURL: srv.URL, AccessToken: testToken})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.GetKey(context.Background(), testProduct, testKey)
	if !IsLicenseNotFound(err) || n != 1 || c.APIVersionInUse() != APIv1 {
		t.Errorf("err = %v, %d requests, version %s", err, n, c.APIVersionInUse())
	}
}

// A pinned version never falls back.
func TestPinnedVersionsDoNotFallBack(t *testing.T) {
	for _, tt := range []struct {
		version string
		gen1    bool
		path    string
	}{
		{APIv1, false, "/deactivate-key"},
		{APIv2, true, "/key/deactivate"},
	} {
		t.Run(tt.version, func(t *testing.T) {
			g := &generations{gen1: tt.gen1, gen2: !tt.gen1}
			c := generationsClient(t, g, tt.version)
			_, err := c.Deactivate(context.Background(), testProduct, testKey, "h")
			if !IsUnknownRoute(err) || IsDeviceNotFound(err) || IsNotActivated(err) {
				t.Fatalf("err = %v, want an unknown route", err)
			}
			want := "POST " + tt.path + " was answered as an unknown route by something that is not KeyMint (API generation " + tt.version + "); check base_url and api_version"
			if !strings.Contains(err.Error(), want) {
				t.Errorf("Error() = %s\nwant it to contain %q", err, want)
			}
			if len(g.requests()) != 1 || c.APIVersionInUse() != tt.version {
				t.Errorf("requests %q, version %s", g.requests(), c.APIVersionInUse())
			}
		})
	}
}

func (b *lockedBuffer) Reset() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf.Reset()
}
