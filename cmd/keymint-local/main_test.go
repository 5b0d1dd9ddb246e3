package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keymint-dev/terraform-provider-keymint/internal/localserver"
)

const (
	token   = "at_cmd_test_token_0123456789"
	product = "prod_cmdtest_0123456789abc"
	keyFull = "lk_full_license_0123451234"
	keyFree = "lk_unlimited_0123456789xyz"
	keyIdle = "lk_idle_license_0123456789"
)

// syncBuffer is a bytes.Buffer safe for concurrent use.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func env(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

// runCmd runs the command line and returns its exit code, stdout and stderr.
func runCmd(ctx context.Context, getenv func(string) string, args ...string) (int, string, string) {
	var stdout, stderr syncBuffer
	code := run(ctx, args, &stdout, &stderr, getenv)
	return code, stdout.String(), stderr.String()
}

func seatsServer(t *testing.T) *localserver.Server {
	t.Helper()
	srv, err := localserver.New(localserver.Options{Seed: localserver.Seed{
		AccessTokens: []string{token},
		Products: []localserver.ProductSeed{{ID: product, Licenses: []localserver.LicenseSeed{
			{Key: keyFull, MaxActivations: new(3)},
			{Key: keyFree},
			{Key: keyIdle, MaxActivations: new(2)},
		}}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	return srv
}

func TestSeatsCommand(t *testing.T) {
	srv := seatsServer(t)
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()
	noEnv := env(nil)

	// Licenses without seats are listed too.
	full, free, idle := localserver.MaskKey(keyFull), localserver.MaskKey(keyFree), localserver.MaskKey(keyIdle)
	code, out, errOut := runCmd(t.Context(), noEnv, "seats", "-url", ts.URL, "-token", token)
	wantLines := []string{
		product + " " + full + " 0/3 seats in use",
		product + " " + idle + " 0/2 seats in use",
		product + " " + free + " 0 seats in use (unlimited)",
	}
	if code != 0 || !slices.Equal(fieldLines(out), wantLines) {
		t.Errorf("no seats: exit %d, stdout %q, stderr %q; want %q", code, out, errOut, wantLines)
	}

	for _, d := range []struct{ key, host, tag string }{
		{keyFull, "runner-1", "ci"}, {keyFull, "runner-2", ""}, {keyFull, "runner-3", "nightly"},
		{keyFree, "laptop", ""},
	} {
		if err := srv.ActivateDevice(product, d.key, d.host, d.tag, "192.0.2.7"); err != nil {
			t.Fatal(err)
		}
	}
	// The URL and token may come from the environment too.
	code, out, errOut = runCmd(t.Context(), env(map[string]string{"KEYMINT_BASE_URL": ts.URL + "/", "KEYMINT_ACCESS_TOKEN": token}), "seats")
	if code != 0 || !strings.Contains(out, "runner-1") {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	if err := srv.SetBlocked(product, keyIdle, true); err != nil {
		t.Fatal(err)
	}
	code, out, errOut = runCmd(t.Context(), noEnv, "seats", "-url", ts.URL, "-token", token)
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	if code != 0 || len(lines) != 9 {
		t.Fatalf("exit %d, stderr %q, output has %d lines, want 9:\n%s", code, errOut, len(lines), out)
	}
	fields := func(i int) []string { return strings.Fields(lines[i]) }
	if got := fields(0); strings.Join(got, " ") != "PRODUCT LICENSE HOST TAG IP ACTIVATED" {
		t.Errorf("header = %q", lines[0])
	}
	timestamp := regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$`)
	for i, want := range [][]string{
		{product, full, "runner-1", "ci", "192.0.2.7"},
		{product, full, "runner-2", "-", "192.0.2.7"},
		{product, full, "runner-3", "nightly", "192.0.2.7"},
		{product, free, "laptop", "-", "192.0.2.7"},
	} {
		got := fields(i + 1)
		if len(got) != 6 || strings.Join(got[:5], " ") != strings.Join(want, " ") || !timestamp.MatchString(got[5]) {
			t.Errorf("row %d = %q, want %v and a time", i, lines[i+1], want)
		}
	}
	if lines[5] != "" {
		t.Errorf("line 5 = %q, want a blank line", lines[5])
	}
	wantLines = []string{
		product + " " + full + " 3/3 seats in use",
		product + " " + idle + " 0/2 seats in use (blocked)",
		product + " " + free + " 1 seats in use (unlimited)",
	}
	if got := fieldLines(strings.Join(lines[6:], "\n")); !slices.Equal(got, wantLines) {
		t.Errorf("summary = %q, want %q", got, wantLines)
	}
	for _, secret := range []string{keyFull, keyFree, token} {
		if strings.Contains(out+errOut, secret) {
			t.Errorf("output reveals a secret:\n%s%s", out, errOut)
		}
	}
}

// fieldLines returns the lines of out with their fields separated by
// single spaces.
func fieldLines(out string) []string {
	var lines []string
	for line := range strings.Lines(out) {
		lines = append(lines, strings.Join(strings.Fields(line), " "))
	}
	return lines
}

func TestSeatsCommandWithoutLicenses(t *testing.T) {
	srv, err := localserver.New(localserver.Options{Seed: localserver.Seed{AccessTokens: []string{token}}})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()
	code, out, errOut := runCmd(t.Context(), env(nil), "seats", "-url", ts.URL, "-token", token)
	if code != 0 || out != "0 seats in use\n" {
		t.Errorf("exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}

func TestSeatsCommandErrors(t *testing.T) {
	ts := httptest.NewServer(seatsServer(t).Handler())
	defer ts.Close()
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"wrong token", []string{"seats", "-url", ts.URL, "-token", "at_wrong_token_000000000000"}, "401 Unauthorized: Invalid access token"},
		{"no token", []string{"seats", "-url", ts.URL}, "no access token"},
		{"not a seats server", []string{"seats", "-url", ts.URL + "/nowhere", "-token", token}, "404 Not Found"},
		{"unreachable", []string{"seats", "-url", "http://127.0.0.1:1", "-token", token}, "connect"},
	} {
		code, out, errOut := runCmd(t.Context(), env(nil), tc.args...)
		if code == 0 || !strings.Contains(errOut, tc.want) || out != "" {
			t.Errorf("%s: exit %d, stdout %q, stderr %q; want failure mentioning %q", tc.name, code, out, errOut, tc.want)
		}
		if strings.Contains(errOut, token) {
			t.Errorf("%s: stderr reveals the token", tc.name)
		}
	}
}

func TestUsage(t *testing.T) {
	for _, args := range [][]string{{"usage"}, {"-h"}, {"help"}} {
		code, out, _ := runCmd(t.Context(), env(nil), args...)
		if code != 0 || !strings.Contains(out, "keymint-local serve") {
			t.Errorf("%v: exit %d, stdout %q", args, code, out)
		}
	}
	for _, args := range [][]string{{"serve", "-h"}, {"seats", "-h"}, {"faults", "-h"}} {
		code, _, errOut := runCmd(t.Context(), env(nil), args...)
		if code != 0 || !strings.Contains(errOut, "Usage: keymint-local "+args[0]) {
			t.Errorf("%v: exit %d, stderr %q", args, code, errOut)
		}
	}
	if code, _, errOut := runCmd(t.Context(), env(nil)); code != 2 || !strings.Contains(errOut, "Usage:") {
		t.Errorf("no args: exit %d, stderr %q", code, errOut)
	}
	if code, _, errOut := runCmd(t.Context(), env(nil), "frobnicate"); code != 2 || !strings.Contains(errOut, "unknown command") {
		t.Errorf("unknown command: exit %d, stderr %q", code, errOut)
	}
}

func TestServeRefuses(t *testing.T) {
	const license = "lk_secret_flag_value_0123456789"
	for _, tc := range []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"no token", nil, []string{"-addr", "127.0.0.1:0"}, "no access token"},
		{"remote address", nil, []string{"-token", token, "-addr", "0.0.0.0:0"}, "-allow-remote"},
		{"all interfaces", map[string]string{"KEYMINT_LOCAL_TOKEN": token}, []string{"-addr", ":8787"}, "-allow-remote"},
		{"license before product", nil, []string{"-token", token, "-license", license + "=3"}, "give -product before"},
		{"bad seats", nil, []string{"-token", token, "-product", product, "-license", license + "=lots"}, "SEATS must be"},
		{"no seats", nil, []string{"-token", token, "-product", product, "-license", license}, "want KEY=SEATS"},
		{"short product", nil, []string{"-token", token, "-product", "prod_x", "-license", license + "=1"}, "productId must be 22-256"},
		{"bad customer", nil, []string{"-token", token, "-customer", "not an address"}, "Name <email>"},
		{"stray argument", nil, []string{"-token", token, "extra"}, "unexpected argument"},
		{"missing seed", nil, []string{"-token", token, "-seed", filepath.Join(t.TempDir(), "none.json")}, "seed"},
		{"fault rate above 1", nil, []string{"-token", token, "-fault-5xx", "1.5"}, "want a probability between 0 and 1"},
		{"negative fault rate", nil, []string{"-token", token, "-fault-lost", "-0.1"}, "want a probability between 0 and 1"},
		{"fault rate not a number", nil, []string{"-token", token, "-fault-429", "often"}, "want a probability between 0 and 1"},
		{"negative latency", nil, []string{"-token", token, "-fault-latency", "-1s"}, "latency must not be negative"},
		{"negative retry after", nil, []string{"-token", token, "-fault-retry-after", "-1s"}, "retry_after must not be negative"},
		{"negative rate limit", nil, []string{"-token", token, "-rate-limit", "-1"}, "must not be negative"},
		{"rate limit without a number", nil, []string{"-token", token, "-rate-limit", "/1m"}, "want N or N/DURATION"},
		{"rate limit with a bad window", nil, []string{"-token", token, "-rate-limit", "3/3"}, "want N or N/DURATION"},
		{"rate limit with a zero window", nil, []string{"-token", token, "-rate-limit", "3/0s"}, "the window must be longer than 0"},
		{"unknown scope", nil, []string{"-token", token + ":licenses:read,licenses:reed"}, `-token: unknown scope "licenses:reed"; the scopes are licenses:read,`},
		{"no scope", nil, []string{"-token", token + ":"}, "-token: no scope after the colon"},
		{"empty scope", nil, []string{"-token", token + ":licenses:read,"}, "-token: empty scope name"},
		{"empty token", nil, []string{"-token", ":licenses:read"}, "-token: empty token"},
		{"token in the scopes", nil, []string{"-token", "at_x:licenses:read," + token}, "-token: unknown scope (the 2nd of 2, not shown"},
		{"scopes before the token", nil, []string{"-token", "licenses:read:" + token}, "-token: unknown scope (the 1st of 1, not shown"},
		{"unknown scope in the environment", map[string]string{"KEYMINT_LOCAL_TOKEN": token + ":licenses:fly"}, nil, `$KEYMINT_LOCAL_TOKEN: unknown scope "licenses:fly"`},
	} {
		args := append([]string{"serve", "-addr", "127.0.0.1:0"}, tc.args...)
		code, out, errOut := runCmd(t.Context(), env(tc.env), args...)
		if code == 0 || !strings.Contains(errOut, tc.want) {
			t.Errorf("%s: exit %d, stdout %q, stderr %q; want failure mentioning %q", tc.name, code, out, errOut, tc.want)
		}
		if strings.Contains(out+errOut, license) || strings.Contains(out+errOut, token) {
			t.Errorf("%s: output reveals a secret: %q", tc.name, errOut)
		}
	}
}

func TestServe(t *testing.T) {
	dir := t.TempDir()
	addrFile := filepath.Join(dir, "url")
	stateFile := filepath.Join(dir, "state.json")
	seedFile := filepath.Join(dir, "seed.json")
	const seededKey = "lk_from_seed_file_01234567"
	seed, _ := json.Marshal(localserver.Seed{Products: []localserver.ProductSeed{{ID: product, Licenses: []localserver.LicenseSeed{{Key: seededKey}}}}})
	if err := os.WriteFile(seedFile, seed, 0o600); err != nil {
		t.Fatal(err)
	}

	srv := startServe(t, addrFile, env(map[string]string{"KEYMINT_LOCAL_TOKEN": token}), "-state", stateFile, "-seed", seedFile,
		"-product", product, "-customer", "Jane Doe <jane@example.com>", "-license", keyFull+"=1", "-customer", "", "-license", keyFree+"=unlimited")
	baseURL := srv.url
	if !regexp.MustCompile(`^http://127\.0\.0\.1:\d+$`).MatchString(baseURL) {
		t.Fatalf("addr file holds %q", baseURL)
	}
	activate := func(key, host string) (int, map[string]any) {
		t.Helper()
		got, err := srv.activate(key, host)
		if err != nil {
			t.Fatal(err)
		}
		return got.status, got.body
	}
	if status, got := activate(keyFull, "host-1"); status != 200 || got["licensee_name"] != "Jane Doe" {
		t.Errorf("activate with customer: %d %v", status, got)
	}
	if status, got := activate(keyFull, "host-2"); status != 403 {
		t.Errorf("second host on a 1-seat key: %d %v", status, got)
	}
	if status, got := activate(keyFree, "host-1"); status != 200 || got["licensee_name"] != "" {
		t.Errorf("activate after -customer \"\": %d %v", status, got)
	}
	if status, got := activate(seededKey, "host-1"); status != 200 {
		t.Errorf("activate a key from the seed file: %d %v", status, got)
	}
	code, out, errOut := runCmd(t.Context(), env(nil), "seats", "-url", baseURL, "-token", token)
	if code != 0 || !strings.Contains(out, "1/1 seats in use") {
		t.Errorf("seats: exit %d\n%s%s", code, out, errOut)
	}

	srv.stop()
	if got := srv.stdout.String(); got != "keymint-local listening on "+baseURL+"\n" {
		t.Errorf("stdout = %q", got)
	}
	logged := srv.stderr.String()
	for _, want := range []string{"POST /activate-key 200 ", "POST /activate-key 403 ", "GET /_local/seats 200 "} {
		if !strings.Contains(logged, want) {
			t.Errorf("stderr lacks %q:\n%s", want, logged)
		}
	}
	for _, secret := range []string{keyFull, keyFree, seededKey, token, "host-1"} {
		if strings.Contains(logged, secret) {
			t.Errorf("request log reveals %q:\n%s", secret, logged)
		}
	}
	if _, err := os.Stat(addrFile); !os.IsNotExist(err) {
		t.Errorf("addr file left behind: %v", err)
	}
	if _, err := os.Stat(stateFile); err != nil {
		t.Errorf("state file: %v", err)
	}
}

// TestServeLocksTheStateFile: a second serve on the state file of a
// running one exits non-zero, naming the file and the first server, and
// the file is free again once the first has stopped.
func TestServeLocksTheStateFile(t *testing.T) {
	dir := t.TempDir()
	stateFile := filepath.Join(dir, "state.json")
	getenv := env(map[string]string{"KEYMINT_LOCAL_TOKEN": token})
	first := startServe(t, filepath.Join(dir, "url-1"), getenv, "-state", stateFile)

	secondURL := filepath.Join(dir, "url-2")
	code, out, errOut := runCmd(t.Context(), getenv, "serve", "-addr", "127.0.0.1:0", "-addr-file", secondURL, "-state", stateFile)
	wantStart := "keymint-local serve: -state " + stateFile + " is in use by another server, PID " + strconv.Itoa(os.Getpid()) + " ("
	wantEnd := "; stop that server, or give this one another -state file\n"
	if code != 1 || out != "" || !strings.HasPrefix(errOut, wantStart) || !strings.Contains(errOut, ", started ") || !strings.HasSuffix(errOut, wantEnd) {
		t.Errorf("second serve on the state file: exit %d, stdout %q, stderr %q; want exit 1 and %q...%q", code, out, errOut, wantStart, wantEnd)
	}
	if _, err := os.Stat(secondURL); !os.IsNotExist(err) {
		t.Errorf("the refused server wrote its addr file: %v", err)
	}
	if code, _, _ := runCmd(t.Context(), env(nil), "seats", "-url", first.url, "-token", token); code != 0 {
		t.Errorf("the first server stopped answering: seats exit %d", code)
	}

	first.stop()
	if _, err := os.Stat(stateFile + ".lock"); !os.IsNotExist(err) {
		t.Errorf("lock file left behind: %v", err)
	}
	startServe(t, secondURL, getenv, "-state", stateFile).stop()
}

// serveProcess is a serve command running in the background.
type serveProcess struct {
	t              *testing.T
	url            string
	stdout, stderr *syncBuffer
	cancel         context.CancelFunc
	done           chan int
}

// startServe runs serve on a free loopback port with the given flags and
// waits until it listens. The addr file is written to addrFile.
func startServe(t *testing.T, addrFile string, getenv func(string) string, flags ...string) *serveProcess {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	p := &serveProcess{t: t, stdout: &syncBuffer{}, stderr: &syncBuffer{}, cancel: cancel, done: make(chan int, 1)}
	args := append([]string{"serve", "-addr", "127.0.0.1:0", "-addr-file", addrFile}, flags...)
	go func() { p.done <- run(ctx, args, p.stdout, p.stderr, getenv) }()
	t.Cleanup(cancel)
	p.url = waitForFile(t, addrFile, p.done)
	return p
}

// stop shuts the server down and checks that it exits with 0.
func (p *serveProcess) stop() {
	p.t.Helper()
	p.cancel()
	select {
	case code := <-p.done:
		if code != 0 {
			p.t.Errorf("serve exited with %d: %s", code, p.stderr.String())
		}
	case <-time.After(10 * time.Second):
		p.t.Fatal("serve did not shut down")
	}
}

// answer is a decoded answer of the API.
type answer struct {
	status int
	body   map[string]any
}

// activate sends POST /activate-key for a host of key and returns the
// answer, or the transport error.
func (p *serveProcess) activate(key, host string) (answer, error) {
	b, _ := json.Marshal(map[string]string{"productId": product, "licenseKey": key, "hostId": host})
	req, _ := http.NewRequest(http.MethodPost, p.url+"/activate-key", bytes.NewReader(b))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return answer{}, err
	}
	defer resp.Body.Close()
	got := answer{status: resp.StatusCode}
	_ = json.NewDecoder(resp.Body).Decode(&got.body)
	return got, nil
}

// waitForFile waits until path exists and returns its content.
func waitForFile(t *testing.T, path string, done <-chan int) string {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		if data, err := os.ReadFile(path); err == nil {
			return string(data)
		}
		select {
		case code := <-done:
			t.Fatalf("serve exited with %d before listening", code)
		case <-deadline:
			t.Fatal("serve did not write the addr file")
		case <-time.After(10 * time.Millisecond):
		}
	}
}
