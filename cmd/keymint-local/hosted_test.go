package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keymint-dev/terraform-provider-keymint/internal/localserver"
)

func TestAPIFlag(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, localserver.APIBoth},
		{[]string{"-api", "v1"}, localserver.APIv1},
		{[]string{"-api", "v2"}, localserver.APIv2},
		{[]string{"-api", "both"}, localserver.APIBoth},
	} {
		cfg, err := parseServeFlags(tc.args, io.Discard)
		if err != nil || cfg.api != tc.want {
			t.Errorf("%q: %+v, %v; want API %q", tc.args, cfg, err, tc.want)
		}
	}
	for _, v := range []string{"", "v3", "V2", "1", "all"} {
		var stderr strings.Builder
		if _, err := parseServeFlags([]string{"-api", v}, &stderr); err == nil || !strings.Contains(stderr.String(), "want v1, v2 or both") {
			t.Errorf("-api %q: %v, stderr %q", v, err, stderr.String())
		}
	}
}

// usageExample returns the flags of the example in serve's usage text.
func usageExample(t *testing.T) []string {
	t.Helper()
	_, example, ok := strings.Cut(serveUsageTail, "  keymint-local serve ")
	if !ok {
		t.Fatal("serve's usage has no example")
	}
	example, _, _ = strings.Cut(example, "\n\n")
	return strings.Fields(strings.ReplaceAll(example, "\\\n", " "))
}

// TestServeUsageExample runs the example of serve's usage text (on a free
// port) and checks that it behaves as the text says: generation 2 only,
// the client token may activate but not read, and 3 requests per token in
// any 3 seconds.
func TestServeUsageExample(t *testing.T) {
	code, _, help := runCmd(t.Context(), env(nil), "serve", "-h")
	for _, want := range []string{"-rate-limit 3/3s", "-api v2", ":licenses:activate", "-api v1|v2|both", "-rate-limit N/DURATION", "-token TOKEN"} {
		if code != 0 || !strings.Contains(help, want) {
			t.Errorf("serve -h lacks %q", want)
		}
	}
	flags := usageExample(t)
	var admin, client, productID, key string
	for i := 0; i+1 < len(flags); i++ {
		switch v := flags[i+1]; flags[i] {
		case "-token":
			if tok, _, scoped := strings.Cut(v, ":"); scoped {
				client = tok
			} else {
				admin = v
			}
		case "-product":
			productID = v
		case "-license":
			key, _, _ = strings.Cut(v, "=")
		case "-addr-file":
			flags[i+1] = filepath.Join(t.TempDir(), "url")
		}
	}
	if admin == "" || client == "" || productID == "" || key == "" {
		t.Fatalf("the example lacks a token, client token, product or license: %q", flags)
	}
	srv := startServe(t, flags[len(flags)-1], env(nil), flags...)
	send := func(method, path, tok string, fields map[string]string) (*http.Response, map[string]any) {
		t.Helper()
		var reader io.Reader
		if fields != nil {
			b, _ := json.Marshal(fields)
			reader = bytes.NewReader(b)
		}
		req, _ := http.NewRequest(method, srv.url+path, reader)
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("x-license-key", key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var got map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&got)
		return resp, got
	}
	activation := map[string]string{"productId": productID, "licenseKey": key, "hostId": "host-1"}

	// The client token: activates (generation 2), may not read, and gets
	// the front end's 404 on generation 1.
	if resp, got := send(http.MethodPost, "/key/activate", client, activation); resp.StatusCode != 200 || got["licenseeName"] != "" {
		t.Errorf("client activation: %d %v", resp.StatusCode, got)
	}
	resp, got := send(http.MethodGet, "/key?productId="+productID, client, nil)
	if want := map[string]any{"message": "Insufficient permissions for this operation", "code": 1.0}; resp.StatusCode != 403 || !equalJSON(got, want) {
		t.Errorf("client get-key: %d %v", resp.StatusCode, got)
	}
	resp, got = send(http.MethodPost, "/activate-key", client, activation)
	if want := map[string]any{"message": "Cannot POST /activate-key", "error": "Not Found", "statusCode": 404.0}; resp.StatusCode != 404 || !equalJSON(got, want) {
		t.Errorf("generation 1: %d %v", resp.StatusCode, got)
	}
	// Its 3rd API request within 3 s (the 404 did not count) is the last.
	if resp, got := send(http.MethodPost, "/key/deactivate", client, activation); resp.StatusCode != 200 {
		t.Errorf("client deactivation: %d %v", resp.StatusCode, got)
	}
	resp, got = send(http.MethodPost, "/key/activate", client, activation)
	want := map[string]any{"message": "Request failed", "code": 1.0, "error": map[string]any{"code": "RATE_LIMIT_EXCEEDED", "message": "Too many requests. Please try again later."}}
	if ra := resp.Header.Get("Retry-After"); resp.StatusCode != 429 || !equalJSON(got, want) || (ra != "1" && ra != "2" && ra != "3") {
		t.Errorf("4th request within 3 s: %d, Retry-After %q, %v", resp.StatusCode, ra, got)
	}
	// The admin token has its own allowance and every scope.
	if resp, got := send(http.MethodGet, "/key?productId="+productID, admin, nil); resp.StatusCode != 200 {
		t.Errorf("admin get-key: %d %v", resp.StatusCode, got)
	}
	srv.stop()
	logged := srv.stderr.String()
	for _, want := range []string{"POST /key/activate 200 ", "GET /key 403 ", "POST /activate-key 404 ", "POST /key/activate 429 "} {
		if !strings.Contains(logged, want) {
			t.Errorf("stderr lacks %q:\n%s", want, logged)
		}
	}
}

func equalJSON(a, b any) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return bytes.Equal(ja, jb)
}
