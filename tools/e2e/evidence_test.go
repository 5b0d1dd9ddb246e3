//go:build unix

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keymint-dev/terraform-provider-keymint/tools/clirun"
)

// The tests of this file put servers of their own between the provider and
// keymint-local: answers that are not KeyMint's (a redirect, a web
// framework's 404, another account's 404), KeyMint's words that do not match
// what the license holds (a 403 "License not activated" while the host holds
// its seat, an accepted activation the read-back does not list, a get-key
// answer without devices), and secrets in forms a plain search misses. The
// provider concludes "seat free", "license gone" or "activation worked" only
// from KeyMint's own exact answers: whatever else it meets, no seat the
// server holds goes missing from Terraform's state, and nothing carrying the
// access token or the license key reaches any address but base_url.

var (
	applyArgs   = []string{"apply", "-auto-approve", "-input=false", "-no-color"}
	planArgs    = []string{"plan", "-input=false", "-no-color"}
	destroyArgs = []string{"destroy", "-auto-approve", "-input=false", "-no-color"}
)

// netWatch is the test's own loopback servers, watched: it counts the
// requests each gets and reports any that carries the access token or the
// license key (in any form) to a server that is not base_url at the time.
type netWatch struct {
	e       *env
	secrets []string
	direct  *watched // keymint-local itself, watched

	mu   sync.Mutex
	base string // the base_url the CLI is given now
}

// watched is one server of the test's own.
type watched struct {
	name, url string

	mu       sync.Mutex
	requests []string // "METHOD /path" of each request received
}

// count is the number of requests s received.
func (s *watched) count() int { return len(s.list()) }

// list is the requests s received, as "METHOD /path".
func (s *watched) list() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.requests)
}

// newNetWatch watches e's network and points base_url at keymint-local
// through a watched server of its own.
func newNetWatch(e *env) *netWatch {
	n := &netWatch{e: e, secrets: append(secretForms(e.key), secretForms(e.token)...)}
	n.direct = n.serve("keymint-local", e.srv.Handler())
	n.setBase(n.direct.url)
	return n
}

// secretForms are the forms a secret may take on the wire or in a log: as
// it is, JSON-escaped the way Go's json.Marshal writes it, and URL-escaped.
func secretForms(s string) []string {
	forms := []string{s, url.QueryEscape(s), url.PathEscape(s)}
	if b, err := json.Marshal(s); err == nil {
		forms = append(forms, strings.Trim(string(b), `"`))
	}
	slices.Sort(forms)
	return slices.Compact(forms)
}

// setBase makes the CLI's base_url raw from now on.
func (n *netWatch) setBase(raw string) {
	n.mu.Lock()
	n.base = raw
	n.mu.Unlock()
	n.e.ws.Setenv("KEYMINT_BASE_URL=" + raw)
}

// serve starts a watched loopback server of the test's own with h.
func (n *netWatch) serve(name string, h http.Handler) *watched {
	s := &watched{name: name}
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		s.mu.Lock()
		s.requests = append(s.requests, r.Method+" "+r.URL.Path)
		s.mu.Unlock()
		n.mu.Lock()
		base := n.base
		n.mu.Unlock()
		if base != s.url && n.carriesSecret(r, body) {
			n.e.t.Errorf("a request carrying the access token or the license key (%s %s) reached %s (%s), which is not base_url (%s)",
				r.Method, r.URL.Path, s.name, s.url, safeBase(base))
		}
		h.ServeHTTP(w, r)
	}))
	n.e.t.Cleanup(hs.Close)
	s.url = hs.URL
	return s
}

// safeBase is a base_url for messages, without user info and query.
func safeBase(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable)"
	}
	u.User, u.RawQuery = nil, ""
	return u.String()
}

// carriesSecret reports whether a request holds the access token or the
// license key anywhere: URL, headers or body.
func (n *netWatch) carriesSecret(r *http.Request, body []byte) bool {
	parts := []string{r.RequestURI, r.URL.String(), string(body)}
	for k, vs := range r.Header {
		parts = append(parts, k)
		parts = append(parts, vs...)
	}
	for _, p := range parts {
		for _, s := range n.secrets {
			if strings.Contains(p, s) {
				return true
			}
		}
	}
	return false
}

// proxy starts a watched server, named "proxy", that forwards to keymint-local. answer, if
// not nil, may answer a request by itself, and then returns true; rewrite,
// if not nil, may change keymint-local's answers (op is operation's).
func (n *netWatch) proxy(answer func(w http.ResponseWriter, r *http.Request) bool,
	rewrite func(op string, status int, body []byte) (int, []byte)) *watched {
	target, err := url.Parse(n.e.url)
	if err != nil {
		n.e.t.Fatal(err)
	}
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.Out.Header.Del("Accept-Encoding") // answers in clear, to rewrite them
		},
		ModifyResponse: func(resp *http.Response) error {
			if rewrite == nil {
				return nil
			}
			body, err := io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			if err != nil {
				return err
			}
			status, body := rewrite(operation(resp.Request), resp.StatusCode, body)
			resp.StatusCode, resp.Status = status, fmt.Sprintf("%d %s", status, http.StatusText(status))
			resp.Body, resp.ContentLength = io.NopCloser(bytes.NewReader(body)), int64(len(body))
			resp.Header.Set("Content-Length", strconv.Itoa(len(body)))
			return nil
		},
	}
	return n.serve("proxy", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if answer != nil && answer(w, r) {
			return
		}
		rp.ServeHTTP(w, r)
	}))
}

// operation names the API call of a request on either path set:
// "activate", "deactivate", "get-key", or "".
func operation(r *http.Request) string {
	switch r.URL.Path {
	case "/activate-key", "/key/activate":
		return "activate"
	case "/deactivate-key", "/key/deactivate":
		return "deactivate"
	case "/get-key", "/key":
		return "get-key"
	}
	return ""
}

// answerJSON writes a JSON answer.
func answerJSON(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
}

// rewriteLicense lets change edit the data.license object of a get-key
// answer and encodes the answer again; any other answer is left as it is.
func rewriteLicense(body []byte, change func(lic map[string]any)) []byte {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var doc map[string]any
	if dec.Decode(&doc) != nil {
		return body
	}
	data, _ := doc["data"].(map[string]any)
	lic, _ := data["license"].(map[string]any)
	if lic == nil {
		return body
	}
	change(lic)
	out, err := json.Marshal(doc)
	if err != nil {
		return body
	}
	return out
}

// mustFail runs the CLI and fails the test unless the run fails.
func (e *env) mustFail(ctx context.Context, args ...string) clirun.Result {
	e.t.Helper()
	res, err := e.ws.Run(ctx, args...)
	if err == nil {
		e.t.Fatalf("%s succeeded, want an error:\n%s\n%s", strings.Join(args, " "), res.Stdout, res.Stderr)
	}
	if _, ok := clirun.ExitCode(err); !ok {
		e.t.Fatalf("%s: %v", strings.Join(args, " "), err)
	}
	return res
}

// expectHeld fails the test unless the server holds exactly hosts and
// Terraform's state records exactly hosts, after what (for messages).
func (e *env) expectHeld(ctx context.Context, what string, hosts ...string) {
	e.t.Helper()
	want := slices.Sorted(slices.Values(hosts))
	if got := e.hosts(); !slices.Equal(got, want) {
		e.t.Fatalf("after %s the server holds %q, want %q", what, got, want)
	}
	if got := e.stateHosts(ctx); !slices.Equal(got, want) {
		e.t.Fatalf("after %s Terraform's state records %q, want %q", what, got, want)
	}
}

// finish checks what every test of this file ends with: each seat the
// server still holds is in Terraform's state. (Requests carrying a secret to
// a server that was not base_url are reported as they arrive.)
func (n *netWatch) finish(ctx context.Context) {
	t := n.e.t
	t.Helper()
	held, state := n.e.hosts(), n.e.stateHosts(ctx)
	for _, h := range held {
		if !slices.Contains(state, h) {
			t.Errorf("the server holds a seat for %q, which Terraform's state does not record: a lost seat (server %q, state %q)", h, held, state)
		}
	}
}

// logCallers lists the distinct @caller fields of the log lines holding s.
func logCallers(log, s string) []string {
	var callers []string
	for _, line := range strings.Split(log, "\n") {
		if !strings.Contains(line, s) {
			continue
		}
		caller := "(no @caller)"
		if _, rest, ok := strings.Cut(line, "@caller="); ok {
			caller, _, _ = strings.Cut(rest, " ")
		}
		if !slices.Contains(callers, caller) {
			callers = append(callers, caller)
		}
	}
	return callers
}

func evidenceContext(t *testing.T) (context.Context, context.CancelFunc) {
	return context.WithTimeout(t.Context(), 3*time.Minute)
}

// TestRedirectsNeverFollowed: base_url answers every request with a 307 to
// another loopback server. The apply of one activation fails with an error
// that says it was a redirect and names the target's scheme, host and port,
// and the target received no request at all: neither the token nor the key
// went there.
func TestRedirectsNeverFollowed(t *testing.T) {
	e := newEnv(t, 1)
	ctx, cancel := evidenceContext(t)
	defer cancel()
	n := newNetWatch(e)
	catcher := n.serve("catcher", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "caught", http.StatusNotFound)
	}))
	redirector := n.serve("redirector", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Location", catcher.url+r.URL.Path)
		w.WriteHeader(http.StatusTemporaryRedirect)
	}))
	n.setBase(redirector.url)
	e.writeFleet(1)

	res := e.mustFail(ctx, applyArgs...)
	out := res.Stdout + res.Stderr
	if got := catcher.count(); got != 0 {
		t.Errorf("the redirect target received %d requests %q; a redirect must never be followed", got, catcher.list())
	}
	if redirector.count() == 0 {
		t.Fatal("base_url received no request: the test proved nothing")
	}
	if !strings.Contains(strings.ToLower(out), "redirect") {
		t.Errorf("the error does not say it was a redirect:\n%s", out)
	}
	if !strings.Contains(out, catcher.url) { // http://127.0.0.1:PORT
		t.Errorf("the error does not name the redirect target's scheme, host and port (%s):\n%s", catcher.url, out)
	}
	if got := e.hosts(); len(got) != 0 {
		t.Errorf("the server holds %q, though no request reached it", got)
	}
	n.finish(ctx)
}

// TestForeign404KeepsActivations: with base_url pointing at something that
// answers every call 404 — a web framework's "Cannot POST /deactivate-key",
// or a KeyMint-shaped "Product not found" as a token of another account
// gets — plan fails and keeps both activations in state, destroy fails and
// the server still holds both seats; with base_url restored, destroy frees
// both.
func TestForeign404KeepsActivations(t *testing.T) {
	for _, tc := range []struct {
		name string
		body func(r *http.Request) string
	}{
		{"web framework 404", func(r *http.Request) string {
			b, _ := json.Marshal(map[string]any{"message": "Cannot " + r.Method + " " + r.URL.Path, "statusCode": 404})
			return string(b)
		}},
		{"another account's 404", func(*http.Request) string {
			return `{"message":"Product not found","code":1}`
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, 2)
			ctx, cancel := evidenceContext(t)
			defer cancel()
			n := newNetWatch(e)
			e.writeFleet(2)
			e.run(ctx, applyArgs...)
			e.expectHeld(ctx, "apply", hostIDs(2)...)

			fake := n.serve("404 server", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				answerJSON(w, http.StatusNotFound, tc.body(r))
			}))
			n.setBase(fake.url)
			for _, args := range [][]string{planArgs, destroyArgs} {
				res := e.mustFail(ctx, args...)
				if !strings.Contains(res.Stderr, "404") {
					t.Errorf("%s: the error does not report the 404:\n%s", args[0], res.Stderr)
				}
				e.expectHeld(ctx, "a failed "+args[0]+" through the 404 server", hostIDs(2)...)
			}
			if fake.count() == 0 {
				t.Fatal("the 404 server received no request: the test proved nothing")
			}

			n.setBase(n.direct.url)
			e.run(ctx, destroyArgs...)
			e.expectHeld(ctx, "destroy with base_url restored")
			n.finish(ctx)
		})
	}
}

// TestNotActivatedWhileHeldIsNotFreed: every deactivation is answered 403
// "License not activated" (as a blocked key or an inactive customer may
// answer) while get-key still lists the host. Destroy fails, the activation
// stays in state and the server still holds the seat; without the proxy,
// destroy frees it.
func TestNotActivatedWhileHeldIsNotFreed(t *testing.T) {
	e := newEnv(t, 1)
	ctx, cancel := evidenceContext(t)
	defer cancel()
	n := newNetWatch(e)
	e.writeFleet(1)
	e.run(ctx, applyArgs...)
	e.expectHeld(ctx, "apply", "host-0000")

	refused := 0
	var mu sync.Mutex
	proxy := n.proxy(func(w http.ResponseWriter, r *http.Request) bool {
		if operation(r) != "deactivate" {
			return false
		}
		mu.Lock()
		refused++
		mu.Unlock()
		answerJSON(w, http.StatusForbidden, `{"message":"License not activated","code":2}`)
		return true
	}, nil)
	n.setBase(proxy.url)
	res := e.mustFail(ctx, destroyArgs...)
	t.Logf("destroy through the proxy failed:\n%s", res.Stderr)
	mu.Lock()
	if refused == 0 {
		t.Errorf("no deactivation reached the proxy: the test proved nothing")
	}
	mu.Unlock()
	e.expectHeld(ctx, `destroy answered "License not activated"`, "host-0000")

	n.setBase(n.direct.url)
	e.run(ctx, destroyArgs...)
	e.expectHeld(ctx, "destroy without the proxy")
	n.finish(ctx)
}

// TestUnlistedActivationNeverForgotten: an activation that KeyMint may have
// accepted, but whose success is not proven — the read-back does not list
// the host, or the activate answer is a 200 {"success":false} — fails the
// apply and stays in state, tainted, while the server holds the seat; a
// later destroy frees it.
func TestUnlistedActivationNeverForgotten(t *testing.T) {
	const host = "host-0000"
	for _, tc := range []struct {
		name    string
		rewrite func(op string, status int, body []byte) (int, []byte)
	}{
		{"read-back does not list the host", func(op string, status int, body []byte) (int, []byte) {
			if op != "get-key" {
				return status, body
			}
			return status, rewriteLicense(body, func(lic map[string]any) {
				devs, _ := lic["devices"].([]any)
				kept := []any{}
				for _, d := range devs {
					if m, _ := d.(map[string]any); m["host_id"] == host || m["hostId"] == host {
						continue
					}
					kept = append(kept, d)
				}
				lic["devices"], lic["activations"] = kept, len(kept)
			})
		}},
		{`activate answers 200 {"success":false}`, func(op string, status int, body []byte) (int, []byte) {
			if op != "activate" {
				return status, body
			}
			return http.StatusOK, []byte(`{"success":false}`)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, 1)
			ctx, cancel := evidenceContext(t)
			defer cancel()
			n := newNetWatch(e)
			proxy := n.proxy(nil, tc.rewrite)
			n.setBase(proxy.url)
			e.writeFleet(1)

			res := e.mustFail(ctx, applyArgs...)
			t.Logf("apply through the proxy failed:\n%s", res.Stderr)
			e.expectHeld(ctx, "an apply whose activation is not proven", host)
			if tainted := e.taintedHosts(ctx); !tainted[host] {
				t.Errorf("the activation is in state but not tainted (tainted: %v); the next apply would not settle it", tainted)
			}

			n.setBase(n.direct.url)
			e.run(ctx, destroyArgs...)
			e.expectHeld(ctx, "destroy without the proxy")
			n.finish(ctx)
		})
	}
}

// TestGetKeyWithoutDevicesIsAnError: a get-key answer without "devices" is
// an error, not "no devices": plan fails naming devices, destroy through the
// same server fails without freeing anything, state keeps both activations;
// without it, destroy frees both.
func TestGetKeyWithoutDevicesIsAnError(t *testing.T) {
	e := newEnv(t, 2)
	ctx, cancel := evidenceContext(t)
	defer cancel()
	n := newNetWatch(e)
	e.writeFleet(2)
	e.run(ctx, applyArgs...)
	e.expectHeld(ctx, "apply", hostIDs(2)...)

	proxy := n.proxy(nil, func(op string, status int, body []byte) (int, []byte) {
		if op != "get-key" {
			return status, body
		}
		return status, rewriteLicense(body, func(lic map[string]any) { delete(lic, "devices") })
	})
	n.setBase(proxy.url)
	res := e.mustFail(ctx, planArgs...)
	if !strings.Contains(res.Stderr, "devices") {
		t.Errorf("the plan's error does not name devices:\n%s", res.Stderr)
	}
	e.expectHeld(ctx, "a failed plan", hostIDs(2)...)
	e.mustFail(ctx, destroyArgs...)
	e.expectHeld(ctx, "a destroy through the proxy", hostIDs(2)...)

	n.setBase(n.direct.url)
	e.run(ctx, destroyArgs...)
	e.expectHeld(ctx, "destroy without the proxy")
	n.finish(ctx)
}

// tagConfig is one activation tagged var.tag, replaced create-before-destroy.
const tagConfig = preamble + `
variable "tag" { type = string }

resource "keymint_device_activation" "host" {
  for_each    = toset(["host-0000"])
  product_id  = var.product_id
  license_key = var.license_key
  host_id     = each.key
  device_tag  = var.tag

  lifecycle {
    create_before_destroy = true
  }
}
`

// TestCreateBeforeDestroySameHostKeepsSeat: a new device_tag replaces the
// activation create-before-destroy on the same host. The new object
// re-activates the host under the new tag; destroying the deposed object
// must not free the seat the new one holds. After the apply the server
// holds the host with the new tag, the re-plan is empty, and destroy frees
// the seat.
func TestCreateBeforeDestroySameHostKeepsSeat(t *testing.T) {
	e := newEnv(t, 1, "TF_VAR_tag=a")
	ctx, cancel := evidenceContext(t)
	defer cancel()
	n := newNetWatch(e)
	if err := e.ws.WriteFile("main.tf", tagConfig); err != nil {
		t.Fatal(err)
	}
	tagOf := func() string {
		t.Helper()
		devs, err := e.srv.Devices(e.product, e.key)
		if err != nil {
			t.Fatal(err)
		}
		if len(devs) != 1 {
			t.Fatalf("the server holds %d devices %v, want host-0000 only", len(devs), devs)
		}
		return devs[0].DeviceTag
	}

	e.run(ctx, applyArgs...)
	e.expectHeld(ctx, "apply with tag a", "host-0000")
	if got := tagOf(); got != "a" {
		t.Fatalf("the server holds host-0000 with tag %q, want a", got)
	}

	e.ws.Setenv("TF_VAR_tag=b")
	res := e.run(ctx, applyArgs...)
	if !strings.Contains(res.Stdout, "1 added") || !strings.Contains(res.Stdout, "1 destroyed") {
		t.Fatalf("the second apply was not a replacement:\n%s", res.Stdout)
	}
	e.expectHeld(ctx, "the create-before-destroy replacement", "host-0000")
	if got := tagOf(); got != "b" {
		t.Errorf("the server holds host-0000 with tag %q, want b", got)
	}
	e.expectPlanEmpty(ctx)

	e.run(ctx, destroyArgs...)
	e.expectHeld(ctx, "destroy")
	n.finish(ctx)
}

// TestSecretsInOtherForms: secrets that a plain search would miss never
// show. A license key with &, < and > appears neither as it is nor
// JSON-escaped in a TRACE log or the CLI's output; a base_url with user info
// and a query is refused without showing either; a server message with
// terminal escapes reaches the CLI's output as text without them.
func TestSecretsInOtherForms(t *testing.T) {
	t.Run("key with ampersand and angle brackets", func(t *testing.T) {
		log := logFile(t)
		hexTail := randomHex(12)
		e := newEnvWith(t, envOptions{seats: 2, key: "LK&<E2E>-" + hexTail, env: []string{"TF_LOG=TRACE", "TF_LOG_PATH=" + log}})
		ctx, cancel := evidenceContext(t)
		defer cancel()
		n := newNetWatch(e)
		e.writeFleet(2)
		var outputs []string
		for _, args := range [][]string{applyArgs, planArgs, destroyArgs} {
			res := e.run(ctx, args...)
			outputs = append(outputs, res.Stdout, res.Stderr)
		}
		e.expectHeld(ctx, "destroy")

		raw, err := os.ReadFile(log)
		if err != nil {
			t.Fatal(err)
		}
		logText := string(raw)
		if !strings.Contains(logText, "KeyMint API request") || !strings.Contains(logText, e.product) {
			t.Fatal("the TRACE log holds no provider request: the test would prove nothing")
		}
		escaped, _ := json.Marshal(e.key)
		if !strings.Contains(string(escaped), `\u0026\u003cE2E\u003e`) {
			t.Fatalf("json.Marshal writes the key as %s: the test would not check the escaped form", escaped)
		}
		secrets := append(secretForms(e.key), e.token, hexTail)
		for _, secret := range secrets {
			if i := strings.Index(logText, secret); i >= 0 {
				t.Errorf("the TRACE log holds a secret (%d times, from %q; the form beginning %q): …%s",
					strings.Count(logText, secret), logCallers(logText, secret), secret[:4], logText[max(0, i-300):i])
			}
			for _, out := range outputs {
				if strings.Contains(out, secret) {
					t.Errorf("CLI output holds a secret:\n%s", out)
				}
			}
		}
		t.Logf("checked %d KiB of TRACE log and %d outputs", len(raw)/1024, len(outputs))
		n.finish(ctx)
	})

	t.Run("base_url with user info and query", func(t *testing.T) {
		e := newEnv(t, 1)
		ctx, cancel := evidenceContext(t)
		defer cancel()
		n := newNetWatch(e)
		catcher := n.serve("catcher", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "caught", http.StatusNotFound)
		}))
		n.setBase("http://secretuser:secretpw@" + strings.TrimPrefix(catcher.url, "http://") + "/?token=secretq")
		e.writeFleet(1)
		res := e.mustFail(ctx, planArgs...)
		out := res.Stdout + res.Stderr
		if !strings.Contains(out, "base_url") {
			t.Errorf("the error does not name base_url:\n%s", out)
		}
		for _, s := range []string{"secretuser", "secretpw", "secretq"} {
			if strings.Contains(out, s) {
				t.Errorf("the output shows %q:\n%s", s, out)
			}
		}
		if got := catcher.count(); got != 0 {
			t.Errorf("the server behind the refused base_url received %d requests %q", got, catcher.list())
		}
		n.finish(ctx)
	})

	t.Run("server message with terminal escapes", func(t *testing.T) {
		e := newEnv(t, 1)
		ctx, cancel := evidenceContext(t)
		defer cancel()
		n := newNetWatch(e)
		proxy := n.proxy(func(w http.ResponseWriter, r *http.Request) bool {
			if operation(r) != "activate" {
				return false
			}
			answerJSON(w, http.StatusForbidden, `{"message":"\u001b[31mLicense expired\u001b[0m","code":2}`)
			return true
		}, nil)
		n.setBase(proxy.url)
		e.writeFleet(1)
		res := e.mustFail(ctx, applyArgs...)
		out := res.Stdout + res.Stderr
		if !strings.Contains(out, "License expired") {
			t.Errorf("the output does not quote the server's message:\n%s", out)
		}
		if i := strings.IndexByte(out, 0x1b); i >= 0 {
			t.Errorf("the output holds an ESC character: %q", out[max(0, i-60):min(len(out), i+20)])
		}
		e.expectHeld(ctx, "an activation refused")
		n.finish(ctx)
	})
}
