package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/keymint-dev/terraform-provider-keymint/internal/localserver"
)

func TestFaultsCommand(t *testing.T) {
	srv := seatsServer(t)
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()
	faultsCmd := func(args ...string) (int, string, string) {
		return runCmd(t.Context(), env(nil), append([]string{"faults", "-url", ts.URL, "-token", token}, args...)...)
	}

	code, out, errOut := faultsCmd()
	want := []string{
		"server_error_rate 0", "rate_limit_rate 0", "retry_after 0s", "latency 0s", "lost_answer_rate 0", "seed 0",
		"",
		"requests 0", "server_errors 0", "rate_limited 0", "lost_answers 0",
	}
	if code != 0 || !slices.Equal(fieldLines(out), want) {
		t.Errorf("exit %d, stdout %q, stderr %q; want %q", code, out, errOut, want)
	}

	code, out, errOut = faultsCmd("-set", `{"server_error_rate":1,"retry_after":"1500ms","seed":7}`)
	if code != 0 || !strings.Contains(out, "server_error_rate  1\n") || !strings.Contains(out, "retry_after        1.5s\n") || !strings.Contains(out, "seed               7\n") {
		t.Errorf("-set: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	if got, want := srv.Faults(), (localserver.FaultConfig{ServerErrorRate: 1, RetryAfter: 1500 * time.Millisecond, Seed: 7}); got != want {
		t.Errorf("Faults() = %+v, want %+v", got, want)
	}

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-set", `{"server_error_rate":2}`}, "400 Bad Request: server_error_rate must be between 0 and 1"},
		{[]string{"-set", `{"latency":5}`}, `latency must be a duration string`},
		{[]string{"-set", `not json`}, "400 Bad Request: Invalid JSON body"},
		{[]string{"-token", "at_wrong_token_000000000000"}, "401 Unauthorized"},
	} {
		code, out, errOut := faultsCmd(tc.args...)
		if code != 1 || out != "" || !strings.Contains(errOut, tc.want) {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want failure mentioning %q", tc.args, code, out, errOut, tc.want)
		}
	}
	if srv.Faults().ServerErrorRate != 1 {
		t.Error("a rejected -set changed the config")
	}
	if code, _, errOut := runCmd(t.Context(), env(nil), "faults", "-url", ts.URL); code != 1 || !strings.Contains(errOut, "no access token") {
		t.Errorf("no token: exit %d, stderr %q", code, errOut)
	}
}

// TestServeWithFaults runs serve with every fault flag: a lost answer is
// logged as dropped, its change is made, and the faults command shows the
// configuration and stats.
func TestServeWithFaults(t *testing.T) {
	dir := t.TempDir()
	srv := startServe(t, filepath.Join(dir, "url"), env(nil), "-token", token, "-product", product, "-license", keyFull+"=3",
		"-rate-limit", "100/2s", "-fault-5xx", "0", "-fault-429", "0", "-fault-retry-after", "3s",
		"-fault-latency", "1ms", "-fault-lost", "1", "-fault-seed", "5")
	if _, err := srv.activate(keyFull, "host-1"); err == nil {
		t.Error("the answer was not lost")
	}
	code, out, errOut := runCmd(t.Context(), env(nil), "seats", "-url", srv.url, "-token", token)
	if code != 0 || !strings.Contains(out, "1/3 seats in use") {
		t.Errorf("seats after a lost answer: exit %d\n%s%s", code, out, errOut)
	}
	code, out, errOut = runCmd(t.Context(), env(nil), "faults", "-url", srv.url, "-token", token)
	for _, want := range []string{"lost_answer_rate 1", "retry_after 3s", "latency 1ms", "seed 5", "requests 1", "lost_answers 1"} {
		if code != 0 || !slices.Contains(fieldLines(out), want) {
			t.Errorf("faults: exit %d, stdout lacks %q:\n%s%s", code, want, out, errOut)
		}
	}
	var limit struct {
		Requests int    `json:"requests"`
		Window   string `json:"window"`
	}
	c := &adminClient{baseURL: srv.url, token: token}
	if err := c.do(t.Context(), http.MethodGet, "/_local/rate-limit", nil, &limit); err != nil || limit.Requests != 100 || limit.Window != "2s" {
		t.Errorf("rate limit: %+v, %v", limit, err)
	}
	srv.stop()
	if logged := srv.stderr.String(); !strings.Contains(logged, "POST /activate-key dropped ") {
		t.Errorf("the lost answer is not logged as dropped:\n%s", logged)
	}
}

func TestRequestLogOutcome(t *testing.T) {
	canceled, cancel := context.WithCancel(t.Context())
	cancel()
	for _, tc := range []struct {
		name  string
		write func(*statusRecorder)
		ctx   context.Context
		want  string
	}{
		{"status", func(r *statusRecorder) { r.WriteHeader(404); r.WriteHeader(500) }, t.Context(), "404"},
		{"implicit 200", func(r *statusRecorder) { _, _ = r.Write([]byte("{}")) }, t.Context(), "200"},
		{"client gone", func(*statusRecorder) {}, canceled, "gone"},
		{"nothing written", func(*statusRecorder) {}, t.Context(), "200"},
		{"dropped", func(r *statusRecorder) { r.hijacked = true }, canceled, "dropped"},
	} {
		rec := &statusRecorder{ResponseWriter: httptest.NewRecorder()}
		tc.write(rec)
		if got := rec.outcome(tc.ctx); got != tc.want {
			t.Errorf("%s: outcome %q, want %q", tc.name, got, tc.want)
		}
	}
}
