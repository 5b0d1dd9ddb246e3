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
	for _, tc := range []struct {
		api               string
		served, notServed []call
	}{
		{"", append(gen1, gen2...), nil},
		{APIBoth, append(gen1, gen2...), nil},
		{APIv1, gen1, gen2},
		{APIv2, gen2, gen1},
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
			// The path of the other generation's get-key that this one
			// serves under another method answers 405.
			if tc.api == APIv2 {
				status, raw := f.request(http.MethodPost, "/key", testToken, strings.NewReader("{}"))
				wantFrontEndError(t, "POST /key", status, raw, 405, http.MethodPost, "/key")
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
	wantFrontEndError(t, "GET /key with a query", resp.StatusCode, raw, 404, http.MethodGet, "/key")
	noKeyIn(t, "404 answer", string(raw), keyLimited)
}
