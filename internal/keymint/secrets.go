package keymint

import (
	"encoding/json"
	"html"
	"net/url"
	"sort"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// The access token and the license key are secrets: whoever holds the key
// can activate. They are masked wherever text from this package goes, in
// logs and in errors, in every form they may take there, not only as they
// are:
//   - JSON-escaped, as json.Marshal writes them into the request bodies it
//     logs (it escapes &, < and > as \u0026, \u003c and \u003e) and as servers
//     echo them, with any \uXXXX escape in either case of hex digits, UTF-16
//     surrogate pairs, or a short escape (\" \\ \/ \b \f \n \r \t), also
//     escaped again, as JSON text quoted in a JSON string shows them;
//   - URL-escaped (%XX in either case, + for a space), as a proxy's or web
//     framework's page shows a request URL;
//   - HTML-escaped (&amp; &lt; &gt; &quot; &apos; and numeric &#N; &#xH;),
//     as an HTML page shows them;
//   - any mix of these, character by character, and the secret as cleanText
//     leaves it (runs of spaces shrunk, control characters dropped).
//
// A masker matches each character of a secret against each of its forms at
// each position of the text; there is no pattern to compile, and text
// without secrets costs a comparison or two per byte.

// masked replaces a secret.
const masked = "***"

// masker hides the secrets of one call.
type masker struct {
	// secrets are the secrets and their cleaned forms, longest first, so
	// that a secret containing another is masked whole.
	secrets []string
	// longest is the most bytes a form of a secret may take.
	longest int
	// starts marks the bytes that a form of a secret may start with.
	starts [256]bool
}

// maxFormPerRune bounds the bytes one character of a secret takes in any
// form: a surrogate pair escaped at the greatest depth takes 2 *
// (maxEscapeBackslashes + 5), four %XX take 12, an HTML numeric entity up
// to maxEntityDigits digits 13.
const maxFormPerRune = 2 * (maxEscapeBackslashes + 5)

// maxEscapeBackslashes bounds the backslashes that introduce a JSON escape:
// 7 for JSON text quoted in a JSON string quoted in a JSON string.
const maxEscapeBackslashes = 7

// maxEntityDigits bounds the digits of a numeric HTML entity.
const maxEntityDigits = 10

func newMasker(secrets ...string) *masker {
	m := &masker{}
	seen := map[string]bool{"": true}
	for _, s := range secrets {
		for _, v := range []string{s, cleanText(s)} {
			if !seen[v] {
				seen[v] = true
				m.secrets = append(m.secrets, v)
				m.longest = max(m.longest, maxFormPerRune*len(v))
				m.starts[v[0]] = true
			}
		}
	}
	sort.SliceStable(m.secrets, func(i, j int) bool { return len(m.secrets[i]) > len(m.secrets[j]) })
	if len(m.secrets) > 0 {
		m.starts['\\'], m.starts['%'], m.starts['&'], m.starts['+'] = true, true, true, true
	}
	return m
}

// logStrings are whole-string forms of the secrets for the Logger's own
// masking (Logger.WithSecrets), which backs up the masking of every field
// this package logs.
func (m *masker) logStrings() []string {
	if m == nil {
		return nil
	}
	var out []string
	seen := map[string]bool{"": true}
	add := func(v string) {
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	for _, s := range m.secrets {
		add(s)
		if b, err := json.Marshal(s); err == nil {
			add(string(b[1 : len(b)-1]))
		}
		add(url.QueryEscape(s))
		add(url.PathEscape(s))
		add(html.EscapeString(s))
	}
	return out
}

// redact masks every form of every secret in s.
func (m *masker) redact(s string) string {
	out, _ := m.prefix(s, len(s))
	return out
}

// prefix masks s and keeps what stands in its first n bytes: a secret that
// starts there is masked whole (s must hold it whole: at least m.longest
// bytes more than n), and nothing from beyond is kept. cut tells that s is
// longer than n.
func (m *masker) prefix(s string, n int) (out string, cut bool) {
	n = min(n, len(s))
	if m == nil || len(m.secrets) == 0 {
		return s[:n], n < len(s)
	}
	var b strings.Builder
	last := 0 // s[last:i] is yet to be copied
	for i := 0; i < n; {
		if !m.starts[s[i]] {
			i++
			continue
		}
		l := m.matchAt(s, i)
		if l == 0 {
			i++
			continue
		}
		b.WriteString(s[last:i])
		b.WriteString(masked)
		i += l
		last = i
	}
	if last < n {
		b.WriteString(s[last:n])
	}
	return b.String(), n < len(s)
}

// truncate is prefix with the mark that truncate puts on a cut.
func (m *masker) truncate(s string, n int) string {
	out, cut := m.prefix(s, n)
	if cut {
		out += "…(truncated)"
	}
	return out
}

// matchAt returns the length of the form of a secret that s holds at i,
// or 0.
func (m *masker) matchAt(s string, i int) int {
	for _, sec := range m.secrets {
		if l := matchSecret(s[i:], sec); l > 0 {
			return l
		}
	}
	return 0
}

// matchSecret returns the length of the form of secret at the start of t,
// or 0.
func matchSecret(t, secret string) int {
	if !utf8.ValidString(secret) {
		if strings.HasPrefix(t, secret) {
			return len(secret)
		}
		return 0
	}
	m := secretMatch{t: t, secret: secret}
	return m.from(0, 0)
}

// secretMatch matches one secret at the start of a text.
type secretMatch struct {
	t, secret string
	// failed holds the states (text offset, secret offset) from which no
	// match was found after trying both readings of a character, so that
	// a text of many backslashes cannot make the search exponential.
	failed map[[2]int]bool
}

// from matches secret[k:] at t[j:] and returns the end of the match, or 0.
// Where a character may be read two ways ("&amp;" as an escaped & or as &
// followed by "amp;", when the secret has an &), the escape is tried
// first, then the character itself.
func (m *secretMatch) from(j, k int) int {
	if k == len(m.secret) {
		return j
	}
	r, size := utf8.DecodeRuneInString(m.secret[k:])
	t := m.t[j:]
	l := escapedRune(t, r)
	// The character itself; utf8.RuneError with size 1 is an invalid byte,
	// not U+FFFD.
	c, n := utf8.DecodeRuneInString(t)
	literal := t != "" && c == r && (c != utf8.RuneError || n > 1)
	switch {
	case l > 0 && literal:
		if m.failed[[2]int{j, k}] {
			return 0
		}
		if end := m.from(j+l, k+size); end > 0 {
			return end
		}
		if end := m.from(j+n, k+size); end > 0 {
			return end
		}
		if m.failed == nil {
			m.failed = map[[2]int]bool{}
		}
		m.failed[[2]int{j, k}] = true
		return 0
	case l > 0:
		return m.from(j+l, k+size)
	case literal:
		return m.from(j+n, k+size)
	}
	return 0
}

// escapedRune returns the length of an escaped form of r at the start of
// t, or 0.
func escapedRune(t string, r rune) int {
	if t == "" {
		return 0
	}
	switch t[0] {
	case '\\':
		return jsonEscape(t, r)
	case '%':
		return percentEscape(t, r)
	case '&':
		return htmlEscape(t, r)
	case '+':
		if r == ' ' {
			return 1
		}
	}
	return 0
}

// jsonEscape returns the length of a JSON escape of r at the start of t
// (which starts with a backslash), or 0. Escapes of JSON text that was
// itself put in a JSON string (\\u0026, \\\"), at any depth, count too.
func jsonEscape(t string, r rune) int {
	k := 0 // the backslashes that introduce the escape
	for k < len(t) && k < maxEscapeBackslashes && t[k] == '\\' {
		k++
	}
	if r == '\\' && k >= 2 {
		return 2
	}
	if k == len(t) {
		return 0
	}
	if t[k] != 'u' {
		if v, ok := jsonShortEscapes[t[k]]; ok && v == r && v != '\\' {
			return k + 1
		}
		return 0
	}
	v, ok := hex4(t[k+1:])
	if !ok {
		return 0
	}
	if rune(v) == r && !utf16.IsSurrogate(r) {
		return k + 5
	}
	// A surrogate pair, its low half introduced like its high half.
	if lowStart := k + 5; utf16.IsSurrogate(rune(v)) && len(t) >= lowStart+k+5 &&
		t[lowStart:lowStart+k] == t[:k] && t[lowStart+k] == 'u' {
		if lo, ok := hex4(t[lowStart+k+1:]); ok && utf16.DecodeRune(rune(v), rune(lo)) == r {
			return lowStart + k + 5
		}
	}
	return 0
}

// jsonShortEscapes are the JSON escapes other than \uXXXX.
var jsonShortEscapes = map[byte]rune{'"': '"', '\\': '\\', '/': '/', 'b': '\b', 'f': '\f', 'n': '\n', 'r': '\r', 't': '\t'}

// hex4 reads four hex digits.
func hex4(t string) (int, bool) {
	if len(t) < 4 {
		return 0, false
	}
	v := 0
	for i := range 4 {
		d, ok := hexDigit(t[i])
		if !ok {
			return 0, false
		}
		v = v<<4 | d
	}
	return v, true
}

func hexDigit(c byte) (int, bool) {
	switch {
	case '0' <= c && c <= '9':
		return int(c - '0'), true
	case 'a' <= c && c <= 'f':
		return int(c-'a') + 10, true
	case 'A' <= c && c <= 'F':
		return int(c-'A') + 10, true
	}
	return 0, false
}

// percentEscape returns the length of the URL escape of r (each byte of its
// UTF-8 as %XX) at the start of t, or 0.
func percentEscape(t string, r rune) int {
	var buf [utf8.UTFMax]byte
	n := utf8.EncodeRune(buf[:], r)
	if len(t) < 3*n {
		return 0
	}
	for i := range n {
		hi, ok1 := hexDigit(t[3*i+1])
		lo, ok2 := hexDigit(t[3*i+2])
		if t[3*i] != '%' || !ok1 || !ok2 || byte(hi<<4|lo) != buf[i] {
			return 0
		}
	}
	return 3 * n
}

// htmlEntities are the named HTML entities of the characters that HTML
// escaping changes.
var htmlEntities = map[string]rune{"&amp;": '&', "&lt;": '<', "&gt;": '>', "&quot;": '"', "&apos;": '\''}

// htmlEscape returns the length of an HTML entity for r at the start of t
// (which starts with &), or 0.
func htmlEscape(t string, r rune) int {
	for name, v := range htmlEntities {
		if v == r && strings.HasPrefix(t, name) {
			return len(name)
		}
	}
	if len(t) < 4 || t[1] != '#' {
		return 0
	}
	i, base := 2, 10
	if t[2] == 'x' || t[2] == 'X' {
		i, base = 3, 16
	}
	start, v := i, 0
	for ; i < len(t) && i-start < maxEntityDigits; i++ {
		d, ok := hexDigit(t[i])
		if !ok || d >= base {
			break
		}
		v = v*base + d
	}
	if i == start || i >= len(t) || t[i] != ';' || rune(v) != r {
		return 0
	}
	return i + 1
}
