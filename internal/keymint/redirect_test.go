package keymint

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// calls runs each of the client's calls once, returning their errors by
// operation.
func calls(c *Client) map[string]error {
	ctx := context.Background()
	_, errActivate := c.Activate(ctx, ActivateInput{ProductID: testProduct, LicenseKey: testKey, HostID: "h"})
	_, errDeactivate := c.Deactivate(ctx, testProduct, testKey, "h")
	_, errGetKey := c.GetKey(ctx, testProduct, testKey)
	return map[string]error{"activate": errActivate, "deactivate": errDeactivate, "get-key": errGetKey}
}

// A redirect to another port is never followed: the server it points to
// receives nothing, neither the token nor the key. The error names the
// target's scheme, host and port only.
func TestRedirectIsNeverFollowed(t *testing.T) {
	var elsewhere atomic.Int32
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		elsewhere.Add(1)
		_, _ = io.WriteString(w, `{"code":0,"message":"License valid","data":{"license":{"devices":[]}}}`)
	}))
	t.Cleanup(other.Close)
	target, _ := url.Parse(other.URL)
	location := "http://alice:s3cret@" + target.Host + "/activate-key?licenseKey=" + url.QueryEscape(testKey) + "#frag"

	for _, code := range []int{301, 302, 303, 307, 308} {
		s := &scripted{answers: []func(http.ResponseWriter){status(code, `{"code":0}`, "Location", location)}}
		c := retryClient(t, s, Config{MaxRetries: ptr(3)})
		for op, err := range calls(c) {
			e, ok := AsError(err)
			if !ok || !IsRedirect(err) || e.FromKeyMint || e.StatusCode != code {
				t.Fatalf("%d %s: err = %#v, want a redirect error that is not KeyMint's", code, op, err)
			}
			want := "KeyMint API " + op + ": HTTP " + strconv.Itoa(code) + " (a redirect, not a KeyMint answer): base_url redirects to http://" +
				target.Host + "; requests are never sent anywhere but base_url"
			if err.Error() != want {
				t.Errorf("%d %s: Error() =\n  %s\nwant\n  %s", code, op, err, want)
			}
			for _, secret := range []string{"alice", "s3cret", "licenseKey", "frag", testKey, url.QueryEscape(testKey), "/activate-key"} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("%d %s: the error shows %q: %s", code, op, secret, err)
				}
			}
			if IsUnknownRoute(err) || IsNotFound(err) || IsLicenseNotFound(err) || IsDeviceNotFound(err) || IsServerError(err) {
				t.Errorf("%d %s: a redirect passed for another answer: %v", code, op, err)
			}
		}
		if n := s.count(); n != 3 {
			t.Errorf("%d: base_url got %d requests, want 3 (one per call, no retry)", code, n)
		}
	}
	if n := elsewhere.Load(); n != 0 {
		t.Errorf("the server the redirects point to got %d requests, want none", n)
	}
}

// An https base_url that redirects to plain http: the error says so.
func TestRedirectFromHTTPSToHTTP(t *testing.T) {
	var mu sync.Mutex
	var seen int
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen++
		mu.Unlock()
		http.Redirect(w, r, "http://other.example:8080/get-key?x-license-key="+url.QueryEscape(testKey), http.StatusMovedPermanently)
	}))
	t.Cleanup(srv.Close)
	c, err := New(Config{BaseURL: srv.URL, AccessToken: testToken, Transport: srv.Client().Transport, MaxRetries: ptr(2)})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.GetKey(context.Background(), testProduct, testKey)
	want := "KeyMint API get-key: HTTP 301 (a redirect, not a KeyMint answer): base_url redirects to http://other.example:8080 " +
		"(from https to plain http); requests are never sent anywhere but base_url"
	if !IsRedirect(err) || err.Error() != want {
		t.Errorf("err =\n  %v\nwant\n  %s", err, want)
	}
	if seen != 1 {
		t.Errorf("%d requests, want 1", seen)
	}
}

// A redirect within the server, one without a Location, and one whose
// Location is not a URL.
func TestRedirectOtherLocations(t *testing.T) {
	for location, want := range map[string]string{
		"/v1/deactivate-key?licenseKey=" + testKey: "base_url redirects to http://HOST, another path on the same server; requests are never sent anywhere but base_url",
		"":                         "base_url answers with a redirect that names no Location; requests are never sent anywhere but base_url",
		"http://%zz/" + testKey:    "base_url redirects to a Location that is not a URL; requests are never sent anywhere but base_url",
		"mailto:" + testKey:        "base_url redirects to a Location that is not a URL; requests are never sent anywhere but base_url",
		"//" + testKey + ".evil/x": "base_url redirects to http://***.evil; requests are never sent anywhere but base_url",
	} {
		var headers []string
		if location != "" {
			headers = []string{"Location", location}
		}
		s := &scripted{answers: []func(http.ResponseWriter){status(http.StatusFound, ``, headers...)}}
		srv := httptest.NewServer(s)
		t.Cleanup(srv.Close)
		c, err := New(Config{BaseURL: srv.URL, AccessToken: testToken, MaxRetries: ptr(0)})
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.Deactivate(context.Background(), testProduct, testKey, "h")
		want = "KeyMint API deactivate: HTTP 302 (a redirect, not a KeyMint answer): " + strings.Replace(want, "HOST", strings.TrimPrefix(srv.URL, "http://"), 1)
		if !IsRedirect(err) || err.Error() != want {
			t.Errorf("Location %q: err =\n  %v\nwant\n  %s", location, err, want)
		}
	}
}

// base_url is never shown with user information, a query or a fragment.
func TestBaseURLShownWithoutSecrets(t *testing.T) {
	for _, u := range []string{
		"http://alice:pass@127.0.0.1:1",
		"http://127.0.0.1:1/?token=pass",
		"http://127.0.0.1:1/#pass",
		"http://alice:pass@127.0.0.1:1/\x7f?token=pass",
	} {
		_, err := New(Config{BaseURL: u, AccessToken: testToken})
		if err == nil {
			t.Errorf("New accepted %q", u)
			continue
		}
		if strings.Contains(err.Error(), "pass") || strings.Contains(err.Error(), "alice") {
			t.Errorf("New(%q): the error shows a secret: %v", u, err)
		}
	}
	c, err := New(Config{BaseURL: "http://127.0.0.1:1/api/", AccessToken: testToken, MaxRetries: ptr(0)})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.GetKey(context.Background(), testProduct, testKey)
	if err == nil || !strings.Contains(err.Error(), "no answer from http://127.0.0.1:1/api:") {
		t.Errorf("err = %v, want it to name base_url", err)
	}
	for raw, want := range map[string]string{
		"https://u:p@api.example:8443/x?token=s#f": "https://api.example:8443/x",
		"https://u:p@api.example/%zz?token=s#f":    "https://api.example/%zz",
		"https://api.example/p@q?x":                "https://api.example/p@q",
	} {
		if got := displayURL(raw); got != want {
			t.Errorf("displayURL(%q) = %q, want %q", raw, got, want)
		}
	}
}
