package localserver

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestAPIGeneration: a server of one generation answers the other
// generation's paths like any unknown path, a 404 of the web front end,
// whatever the token; they are counted in Calls but not by the rate limit.
func TestAPIGeneration(t *testing.T) {
	type call struct{ method, path string }
	gen1 := []call{{http.MethodPost, "/activate-key"}, {http.MethodPost, "/deactivate-key"}, {http.MethodPost, "/get-key"}}
	gen2 := []call{{http.MethodPost, "/key/activate"}, {http.MethodPost, "/key/deactivate"}, {http.MethodGet, "/key"}}
	// The key lifecycle's own paths; PATCH /key is served by both.
	life1 := []call{{http.MethodPost, "/create-key"}, {http.MethodPost, "/block-key"}, {http.MethodPost, "/unblock-key"}}
	life2 := []call{{http.MethodPost, "/key/block"}, {http.MethodPost, "/key/unblock"}}
	for _, tc := range []struct {
		api               string
		served, notServed []call
	}{
		{"", append(gen1, gen2...), nil},
		{APIBoth, append(gen1, gen2...), nil},
		// GET /key is left out: /key takes PATCH in generation 1 too, so
		// GET /key is answered 405 there (below).
		{APIv1, gen1, append(gen2[:2:2], life2...)},
		{APIv2, gen2, append(gen1, life1...)},
	} {
		t.Run("api="+tc.api, func(t *testing.T) {
			f := newScopedFixture(t, Options{API: tc.api, RateLimit: RateLimit{Requests: 6, Window: time.Minute}})
			for _, c := range tc.notServed {
				for _, token := range []string{testToken, tokenCustomer, "", "at_unknown_0123456789abcdef"} {
					status, got := f.call(c.method, c.path, token)
					want := map[string]any{"message": "Cannot " + c.method + " " + c.path, "error": "Not Found", "statusCode": 404}
					wantAnswer(t, c.method+" "+c.path, status, got, 404, want)
				}
				if got := f.srv.Calls()[c.path]; got != 4 {
					t.Errorf("Calls()[%s] = %d, want 4", c.path, got)
				}
			}
			// The 6 requests the limit allows all reach the served paths.
			for _, c := range tc.served[:min(6, len(tc.served))] {
				if status, got := f.call(c.method, c.path, testToken); status != 200 {
					t.Errorf("%s %s: %d %v", c.method, c.path, status, got)
				}
			}
			// /key, which this generation serves under other methods,
			// answers 405 to the rest, naming the methods it takes.
			allow := map[string]string{"": "GET, PATCH, POST", APIBoth: "GET, PATCH, POST", APIv1: "PATCH", APIv2: "GET, PATCH, POST"}[tc.api]
			methods := []string{http.MethodDelete, http.MethodPut}
			if tc.api == APIv1 {
				methods = append(methods, http.MethodGet, http.MethodPost)
			}
			for _, m := range methods {
				resp, raw, err := f.try(m, "/key", testToken, map[string]any{})
				if err != nil {
					t.Fatal(err)
				}
				wantFrontEndError(t, m+" /key", resp.StatusCode, raw, 405, m, "/key")
				if got := resp.Header.Get("Allow"); got != allow {
					t.Errorf("%s /key: Allow %q, want %q", m, got, allow)
				}
			}
		})
	}
	if _, err := New(Options{API: "v3"}); err == nil || !strings.Contains(err.Error(), `API "v3": want "v1", "v2" or "both"`) {
		t.Errorf("New with API v3: %v", err)
	}
	if _, err := New(Options{API: "V1"}); err == nil {
		t.Error("New accepted API V1")
	}
}

// TestUnknownPathNeverShowsTheQuery: the front end's message names the
// path, not the query string, which older clients fill with the key.
func TestUnknownPathNeverShowsTheQuery(t *testing.T) {
	f := newScopedFixture(t, Options{API: APIv1})
	resp, raw, err := f.try(http.MethodGet, "/key?productId="+productA+"&licenseKey="+keyLimited, testToken, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Generation 1 serves PATCH /key, so GET /key is a method not allowed.
	wantFrontEndError(t, "GET /key with a query", resp.StatusCode, raw, 405, http.MethodGet, "/key")
	noKeyIn(t, "404 answer", string(raw), keyLimited)
}
