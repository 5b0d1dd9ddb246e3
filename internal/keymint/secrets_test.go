package keymint

import (
	"context"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf16"
)

// Secrets with the characters that escaping changes.
const (
	specialKey   = "LK&<key>-0001"
	specialToken = "at_tok&<en>/+0123456789abcdef"
)

// forms lists the forms a secret may take in logs and errors.
func forms(s string) map[string]string {
	jsonHTML, _ := json.Marshal(s)
	var plain strings.Builder
	enc := json.NewEncoder(&plain)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)
	var ascii, upper strings.Builder
	for _, r := range s {
		units := []rune{r}
		if r > 0xFFFF {
			hi, lo := utf16.EncodeRune(r)
			units = []rune{hi, lo}
		}
		for _, u := range units {
			fmt.Fprintf(&ascii, `\u%04x`, u)
			fmt.Fprintf(&upper, `\u%04X`, u)
		}
	}
	q := url.QueryEscape(s)
	twice, _ := json.Marshal(string(jsonHTML))
	return map[string]string{
		"JSON, escaped twice":               string(twice[3 : len(twice)-3]),
		"raw":                               s,
		"JSON":                              string(jsonHTML[1 : len(jsonHTML)-1]),
		"JSON, upper-case hex":              strings.NewReplacer(`\u003c`, `\u003C`, `\u003e`, `\u003E`).Replace(string(jsonHTML[1 : len(jsonHTML)-1])),
		"JSON, no HTML escapes":             strings.TrimSuffix(plain.String(), "\n")[1 : len(strings.TrimSuffix(plain.String(), "\n"))-1],
		"JSON, all escaped":                 ascii.String(),
		"JSON, all escaped, upper-case hex": upper.String(),
		"JSON, slash escaped":               strings.ReplaceAll(s, "/", `\/`),
		"query":                             q,
		"query, lower-case hex":             strings.ToLower(q[:0]) + lowerPercent(q),
		"path":                              url.PathEscape(s),
		"HTML":                              html.EscapeString(s),
		"HTML, numeric":                     numericEntities(s),
		"mixed":                             mixed(s),
	}
}

// lowerPercent writes the hex digits of %XX escapes in lower case.
func lowerPercent(s string) string {
	b := []byte(s)
	for i := 0; i+2 < len(b); i++ {
		if b[i] == '%' {
			b[i+1], b[i+2] = strings.ToLower(string(b[i+1]))[0], strings.ToLower(string(b[i+2]))[0]
		}
	}
	return string(b)
}

func numericEntities(s string) string {
	var b strings.Builder
	for i, r := range s {
		if i%2 == 0 {
			fmt.Fprintf(&b, "&#%d;", r)
		} else {
			fmt.Fprintf(&b, "&#x%X;", r)
		}
	}
	return b.String()
}

// mixed escapes each character in turn in another way.
func mixed(s string) string {
	var b strings.Builder
	for i, r := range s {
		switch i % 4 {
		case 0:
			fmt.Fprintf(&b, `\u%04x`, r)
		case 1:
			b.WriteString(url.QueryEscape(string(r)))
		case 2:
			fmt.Fprintf(&b, "&#%d;", r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

func TestMaskerForms(t *testing.T) {
	for _, secret := range []string{specialKey, specialToken, testKey, "Ключ-😀/ 1\"\\"} {
		m := newMasker(testToken, secret)
		for name, form := range forms(secret) {
			if name == "JSON, escaped twice" && strings.Contains(secret, `\`) {
				continue // a backslash escaped twice may leave backslashes behind the mask
			}
			text := "before " + form + " after, and again:" + form
			if got, want := m.redact(text), "before *** after, and again:***"; got != want {
				t.Errorf("%q as %s (%q): redact = %q, want %q", secret, name, form, got, want)
			}
		}
	}
	// Near misses stay.
	m := newMasker(specialKey)
	for _, s := range []string{"LK&<key>-0002", `LK\u0026\u003ckey`, "LK%26%3Ckey%3E-000", "LK&amp;lt;key&gt;-0001", `LK\u26&<key>-0001`, "&#;"} {
		if got := m.redact(s); got != s {
			t.Errorf("redact(%q) = %q, want it unchanged", s, got)
		}
	}
	// The form cleanText leaves: runs of spaces shrunk.
	if got := newMasker("AB  CD\t7").redact("x AB CD 7 y"); got != "x *** y" {
		t.Errorf("cleaned form: %q", got)
	}
	// A secret containing another is masked whole.
	if got := newMasker("abc", "xabcx").redact("1 xabcx 2 abc"); got != "1 *** 2 ***" {
		t.Errorf("nested secrets: %q", got)
	}
	if got := (*masker)(nil).redact("abc"); got != "abc" {
		t.Errorf("nil masker: %q", got)
	}
}

// A logged body keeps nothing of a secret, in any form, however the cut
// falls and however many secrets were masked before it.
func TestLogBodyKeepsNoPartOfASecret(t *testing.T) {
	m := newMasker(testToken, specialKey)
	for name, form := range forms(specialKey) {
		for shift := range len(form) + 1 {
			body := strings.Repeat("x", shift) + strings.Repeat(form+",", 2*maxLoggedBody/len(form))
			got := logBody([]byte(body), m)
			kept, cut := strings.CutSuffix(got, "…(truncated)")
			if !cut {
				t.Fatalf("%s: no truncation mark", name)
			}
			// Nothing but the padding, masks and commas may remain.
			if rest := strings.NewReplacer("***", "", ",", "", "x", "").Replace(kept); rest != "" {
				t.Fatalf("%s, shift %d: the log shows part of the key (%q): …%s", name, shift, rest, got[max(0, len(got)-80):])
			}
		}
	}
}

// At TRACE level, nothing the client logs, and no error it returns, shows
// the license key or the token in any form: not the request bodies that
// json.Marshal escapes, nor what servers echo in JSON, URL or HTML.
func TestSecretsMaskedInEveryForm(t *testing.T) {
	keyForms, tokenForms := forms(specialKey), forms(specialToken)
	echo := keyForms["JSON"] + " " + keyForms["query"] + " " + keyForms["HTML"] + " " + keyForms["mixed"] + " " +
		keyForms["JSON, escaped twice"] + " " + tokenForms["JSON"] + " " + tokenForms["query"] + " " + tokenForms["HTML"]
	echoJSON, _ := json.Marshal("echo " + specialKey + " " + echo)
	var mu sync.Mutex
	n := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		mu.Lock()
		n[r.URL.Path]++
		i := n[r.URL.Path]
		mu.Unlock()
		switch {
		case r.URL.Path == "/activate-key":
			fmt.Fprintf(w, `{"code":0,"message":%s,"licensee_name":"Ada"}`, echoJSON)
		case r.URL.Path == "/deactivate-key" && i == 1:
			w.WriteHeader(http.StatusBadGateway)
			_, _ = io.WriteString(w, "<html>bad gateway for "+echo+"</html>")
		case r.URL.Path == "/deactivate-key" && i == 2:
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprintf(w, `{"code":1,"message":%s,"error":{"code":"BAD","message":%s}}`, echoJSON, echoJSON)
		case r.URL.Path == "/deactivate-key" && i == 3:
			_, _ = io.WriteString(w, "<html>signed out: "+echo+"</html>")
		case r.URL.Path == "/deactivate-key":
			http.Redirect(w, r, "https://"+url.QueryEscape(specialKey)+".example/?k="+url.QueryEscape(specialKey), http.StatusTemporaryRedirect)
		default:
			fmt.Fprintf(w, `{"code":0,"data":{"license":{"id":"lic_1","key":%s,"devices":[{"host_id":"h","device_tag":%s}]},"customer":null}}`,
				echoJSON, echoJSON)
		}
	}))
	t.Cleanup(srv.Close)
	var logs lockedBuffer
	c, err := New(Config{BaseURL: srv.URL, AccessToken: specialToken, RetryWaitMin: time.Millisecond, RetryWaitMax: 2 * time.Millisecond, FreshReads: true,
		Logger: &jsonLogger{w: &logs}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var errs []string
	if _, err := c.Activate(ctx, ActivateInput{ProductID: testProduct, LicenseKey: specialKey, HostID: "h", DeviceTag: "t"}); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		_, err := c.Deactivate(ctx, testProduct, specialKey, "h")
		if err == nil {
			t.Fatal("deactivate succeeded")
		}
		errs = append(errs, err.Error())
	}
	if _, err := c.GetKey(ctx, testProduct, specialKey); err != nil {
		t.Fatal(err)
	}
	out := logs.String()
	// The log lines are JSON: look at their values as written, too.
	entries := decodeLogLines(t, out)
	var values []string
	for _, e := range entries {
		for _, v := range e {
			values = append(values, fmt.Sprint(v))
		}
	}
	for _, want := range []string{"KeyMint API request", "KeyMint API response", "KeyMint API request failed; it will be retried", "***"} {
		if !strings.Contains(out, want) {
			t.Errorf("the log lacks %q:\n%s", want, out)
		}
	}
	for what, text := range map[string]string{"log": out, "logged values": strings.Join(values, "\n"), "errors": strings.Join(errs, "\n")} {
		for name, form := range keyForms {
			if strings.Contains(text, form) {
				t.Errorf("the %s show the key as %s (%s):\n%s", what, name, form, text)
			}
		}
		for name, form := range tokenForms {
			if strings.Contains(text, form) {
				t.Errorf("the %s show the token as %s (%s):\n%s", what, name, form, text)
			}
		}
		for _, part := range []string{"<key>", "key>", "key\\u003e", "key%3E", "key&gt;", "<en>", "en\\u003e", "en%3E", "en&gt;"} {
			if strings.Contains(text, part) {
				t.Errorf("the %s show part of a secret (%s):\n%s", what, part, text)
			}
		}
	}
}

// A secret of many backslashes, in a text of many backslashes, each of
// which may be read as itself or as half of an escape: the search stays
// fast.
func TestMaskerBackslashes(t *testing.T) {
	secret := strings.Repeat(`\`, 40) + "x"
	m := newMasker(secret)
	text := strings.Repeat(`\`, 200) + "y " + strings.Repeat(`\\`, 40) + "x"
	start := time.Now()
	if got, want := m.redact(text), strings.Repeat(`\`, 200)+"y ***"; got != want {
		t.Errorf("redact = %q, want %q", got, want)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("redact took %v", d)
	}
}

// BenchmarkLogBody masks a 4 KiB answer holding no secret, as every logged
// answer of a large license is.
func BenchmarkLogBody(b *testing.B) {
	raw := licenseJSON(100)
	m := newMasker(testToken, specialKey)
	b.ReportAllocs()
	for b.Loop() {
		logBody(raw, m)
	}
}
