package keymint

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Error is a refusal from the KeyMint API, or from whatever answered in its
// place: any answer that is not a success. Its message never contains the
// access token or the license key in any form (see masker), nor control
// characters from the server.
type Error struct {
	// Operation is the call that failed: activate, deactivate, get-key, or
	// one of the key lifecycle's (keys.go).
	Operation string
	// StatusCode is the HTTP status.
	StatusCode int
	// Code is the numeric code of the body ({"code": N}), or 0 when absent.
	Code int64
	// ErrorCode is the symbolic code some servers send
	// ({"error": {"code": "RATE_LIMIT_EXCEEDED"}}), or "".
	ErrorCode string
	// Message is the server's top-level message; when there is none, the
	// nested error.message or error text; failing those, the HTTP status text.
	Message string
	// ErrorMessage is the nested message ({"error": {"message": "…"}}), or "".
	ErrorMessage string
	// FromKeyMint tells that the answer is KeyMint's own: a JSON object
	// with a numeric "code". Anything else (an HTML page, a proxy's or a web
	// framework's answer for a route it does not know) is not, and allows
	// no conclusion about a license or a seat.
	FromKeyMint bool
	// Ambiguous tells a 2xx answer that is not a success: its body is not a
	// JSON object, is not KeyMint's (it has no numeric "code"), or says
	// "success": false. The server may or may not have made the change, so
	// callers must treat the outcome as unknown (an activation stays
	// tainted). It allows no conclusion about a license or a seat.
	Ambiguous bool
	// RateLimited counts the rate-limit answers this call got: 429s, and
	// 503s that named a Retry-After.
	RateLimited int
	// Waited is the time this call waited because of rate limits: for the
	// moment a server named (its own answers' or another call's with the
	// same token), and backing off after 429s that named none.
	Waited time.Duration

	// gaveUp: the call stopped retrying because the next wait for the rate
	// limit, next, did not fit in what was left of budget.
	gaveUp       bool
	budget, next time.Duration
	// note says more about the failure; it goes before the answer.
	note string
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("KeyMint API ")
	b.WriteString(e.Operation)
	b.WriteString(": ")
	if e.note != "" {
		b.WriteString(e.note)
		b.WriteString(": ")
	}
	if e.gaveUp {
		b.WriteString(e.gaveUpText())
		b.WriteString(": ")
	}
	fmt.Fprintf(&b, "HTTP %d", e.StatusCode)
	switch {
	case e.Ambiguous:
		b.WriteString(" (not a success; the change may or may not have been made)")
	case isRedirect(e):
		b.WriteString(" (a redirect, not a KeyMint answer)")
	case !e.FromKeyMint:
		b.WriteString(" (not a KeyMint answer)")
	case e.ErrorCode != "":
		fmt.Fprintf(&b, " (code %d, %s)", e.Code, e.ErrorCode)
	default:
		fmt.Fprintf(&b, " (code %d)", e.Code)
	}
	b.WriteString(": ")
	b.WriteString(e.quote())
	if isInsufficientScope(e) {
		if s := RequiredScope(e.Operation); s != "" {
			fmt.Fprintf(&b, " (%s needs a token with the %s scope)", e.Operation, s)
		}
	}
	return b.String()
}

// gaveUpText says how a call ended that gave up waiting for a rate limit.
func (e *Error) gaveUpText() string {
	waited, next := roundWait(e.Waited), roundWait(e.next)
	if e.RateLimited == 0 {
		// It found every request with its token held back, and never sent.
		return fmt.Sprintf("not sent: requests with this access token are held back for %s more after a rate-limit answer, "+
			"beyond the rate-limit wait budget (%s; waited %s)", next, e.budget, waited)
	}
	times := "once"
	if e.RateLimited > 1 {
		times = fmt.Sprintf("%d times", e.RateLimited)
	}
	if e.Waited == 0 && e.budget == 0 {
		return fmt.Sprintf("rate-limited %s; gave up at once (the rate-limit wait budget is 0s)", times)
	}
	return fmt.Sprintf("rate-limited %s; gave up after waiting %s in total (the rate-limit wait budget is %s; the next wait would have been %s)",
		times, waited, e.budget, next)
}

// roundWait rounds a wait for people to read: to the second from 10s on,
// to the tenth of a second from 1s on, else to the millisecond.
func roundWait(d time.Duration) time.Duration {
	switch {
	case d >= 10*time.Second:
		return d.Round(time.Second)
	case d >= time.Second:
		return d.Round(100 * time.Millisecond)
	}
	return d.Round(time.Millisecond)
}

// quote is the server's words: the top-level message, or the nested one
// when the top-level one says nothing ("Request failed"), or both.
func (e *Error) quote() string {
	top, nested := e.Message, e.ErrorMessage
	switch {
	case nested == "" || strings.EqualFold(top, nested):
		return top
	case isGeneric(top, e.StatusCode):
		return nested
	}
	return top + ": " + nested
}

// isGeneric reports a message that says no more than the status does.
func isGeneric(m string, status int) bool {
	m = strings.ToLower(strings.TrimRight(strings.TrimSpace(m), ".!"))
	switch m {
	case "", "request failed", "error", "failed", "an error occurred", "unknown error":
		return true
	}
	return m == strings.ToLower(http.StatusText(status))
}

// maxMessage bounds each server text kept in an Error.
const maxMessage = 512

// newError builds an *Error from a non-success answer. It reads both body
// shapes the API is documented to send: {"message": "…", "code": N} and
// {"error": {"code": "…", "message": "…"}, "code": N}.
func newError(op string, status int, body []byte, m *masker) *Error {
	e := &Error{Operation: op, StatusCode: status}
	var obj object
	if json.Unmarshal(body, &obj) == nil && obj != nil {
		e.FromKeyMint = isKeyMintAnswer(obj)
		if n, ok := integer(obj, "code"); ok && e.FromKeyMint {
			e.Code = n
		}
		e.Message = str(obj, "message")
		if inner, ok := sub(obj, "error"); ok {
			e.ErrorCode = str(inner, "code")
			e.ErrorMessage = str(inner, "message")
			if e.Message == "" {
				e.Message = e.ErrorMessage
			}
		} else if e.Message == "" {
			e.Message = str(obj, "error")
		}
	}
	clean := func(s string) string { return m.truncate(cleanText(s), maxMessage) }
	e.Message, e.ErrorMessage, e.ErrorCode = clean(e.Message), clean(e.ErrorMessage), clean(e.ErrorCode)
	if e.Message == "" {
		e.Message = http.StatusText(status)
	}
	return e
}

// ambiguousError is the error of a 2xx answer that is not a success (see
// Error.Ambiguous); why says what is wrong with it. A body that is not JSON
// is quoted in part, cleaned and with secrets masked, to show what answered.
func ambiguousError(st *callState, status int, why string, body []byte, fromKeyMint bool) *Error {
	e := &Error{Operation: st.op, StatusCode: status, Ambiguous: true, FromKeyMint: fromKeyMint, Message: why}
	if body != nil {
		e.Message += ": " + quoteBody(body, st.mask)
	}
	return e
}

// maxQuotedBody bounds the part of a body quoted in an error.
const maxQuotedBody = 120

// quoteBody is the start of body for an error: cleaned, then secrets
// masked (cleaning first, so that it cannot join the parts of a secret that
// control characters kept apart).
func quoteBody(body []byte, m *masker) string {
	window := maxQuotedBody
	if m != nil {
		window += m.longest
	}
	// Cleaning shrinks text: take enough of it to fill the window.
	var clean string
	for raw := window; ; raw *= 4 {
		clean = cleanText(string(body[:min(len(body), raw)]))
		if len(clean) >= window || raw >= len(body) {
			break
		}
	}
	return strconv.Quote(m.truncate(clean, maxQuotedBody))
}

// redirectError is the error of a 3xx answer, which the client never
// follows: following it would send the access token and the license key to
// wherever it points, and its answer would not be KeyMint's. It names the
// target's scheme, host and port only, never its user information, path or
// query, which may carry secrets.
func redirectError(st *callState, status int, location, target string) *Error {
	e := &Error{Operation: st.op, StatusCode: status}
	from, err := url.Parse(target)
	var to *url.URL
	if err == nil && location != "" {
		to, err = from.Parse(location)
	}
	switch {
	case location == "":
		e.Message = "base_url answers with a redirect that names no Location"
	case err != nil || to.Host == "":
		e.Message = "base_url redirects to a Location that is not a URL"
	default:
		where := st.mask.truncate(cleanText(strings.ToLower(to.Scheme)+"://"+to.Host), 256)
		e.Message = "base_url redirects to " + where
		switch {
		case strings.EqualFold(from.Scheme, to.Scheme) && strings.EqualFold(from.Host, to.Host):
			e.Message += ", another path on the same server"
		case strings.EqualFold(from.Scheme, "https") && strings.EqualFold(to.Scheme, "http"):
			e.Message += " (from https to plain http)"
		}
	}
	e.Message += "; requests are never sent anywhere but base_url"
	return e
}

// isRedirect reports an error made by redirectError.
func isRedirect(e *Error) bool { return e.StatusCode >= 300 && e.StatusCode <= 399 }

// displayURL is raw as errors show it: without user information, query or
// fragment, which may carry secrets.
func displayURL(raw string) string {
	if u, err := url.Parse(raw); err == nil {
		u.User, u.RawQuery, u.ForceQuery, u.Fragment, u.RawFragment = nil, "", false, "", ""
		return truncate(cleanText(u.String()), 256)
	}
	// Unparsable: cut what may be user information, a query or a fragment.
	s := raw
	if i := strings.IndexAny(s, "?#"); i >= 0 {
		s = s[:i]
	}
	if scheme, rest, ok := strings.Cut(s, "://"); ok {
		host, path, _ := strings.Cut(rest, "/")
		if i := strings.LastIndex(host, "@"); i >= 0 {
			host = host[i+1:]
		}
		s = scheme + "://" + host
		if path != "" {
			s += "/" + path
		}
	}
	return truncate(cleanText(s), 256)
}

// isKeyMintAnswer reports whether a decoded body is one of KeyMint's own
// answers: every one of them, success or refusal, carries a numeric "code".
func isKeyMintAnswer(obj object) bool {
	raw, ok := obj["code"]
	if !ok {
		return false
	}
	var f float64
	return len(raw) > 0 && raw[0] != '"' && json.Unmarshal(raw, &f) == nil
}

// ansiEscape matches terminal escape sequences: CSI (ESC [ … final), OSC
// (ESC ] … BEL or ESC \) and two-character escapes.
var ansiEscape = regexp.MustCompile(`\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)?|[@-Z\\-_])`)

// cleanText makes server text safe to show in a terminal: escape sequences
// and control characters go (line breaks and tabs become spaces), as do the
// invisible characters that reorder text, and runs of spaces shrink to one.
func cleanText(s string) string {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	s = ansiEscape.ReplaceAllString(s, "")
	s = strings.Map(func(r rune) rune {
		switch {
		case r == '\n' || r == '\r' || r == '\t':
			return ' '
		case unicode.IsControl(r), unicode.Is(unicode.Bidi_Control, r):
			return -1
		}
		return r
	}, s)
	return strings.Join(strings.Fields(s), " ")
}

// AsError returns the *Error in err's chain, if any.
func AsError(err error) (*Error, bool) {
	var e *Error
	if errors.As(err, &e) {
		return e, true
	}
	return nil, false
}

// Token scopes that the calls of this client need.
const (
	ScopeLicensesRead     = "licenses:read"
	ScopeLicensesActivate = "licenses:activate"
)

// RequiredScope returns the token scope that the operation (as in
// Error.Operation) needs, or "" for an operation it does not know.
func RequiredScope(op string) string {
	switch op {
	case "get-key":
		return ScopeLicensesRead
	case "activate", "deactivate":
		return ScopeLicensesActivate
	case OpCreateKey, OpUpdateKey:
		return ScopeLicensesWrite
	case OpBlockKey, OpUnblockKey:
		return ScopeLicensesBlock
	}
	return ""
}

// What an answer allows callers to conclude.
//
// Only KeyMint's own answers (FromKeyMint: a JSON object with a numeric
// "code") say anything about a license or a seat, and only those of them
// listed in the table below. A proxy, a wrong base URL prefix, a path set
// the server does not serve or a web framework in front of the API answer
// with their own 404s, 405s and redirects, whose words may well contain
// "key", "license" or "not found" ({"message":"Cannot POST
// /deactivate-key","error":"Not Found","statusCode":404}); concluding from
// them that a license is gone or a seat is free would drop seats that are
// still taken from the caller's view. Such answers are IsUnknownRoute or
// IsRedirect and nothing else. Nor does a KeyMint answer that is merely
// like a listed one allow a conclusion: "Product not found" (which a token
// of another account may get for a product that exists) is not a license
// that is gone, and neither is any other 404. Anything not listed is an
// error that leaves the caller's state as it is.
//
// An answer matches a row when it is KeyMint's, its HTTP status and
// numeric code are the row's, and the server's words (the top-level
// message; the nested error.message when the top-level one says no more
// than the status, see Error.quote) equal one of the row's messages,
// ignoring case and surrounding spaces. The status comes first and the
// code is checked too where the documentation gives one for the row (404:
// 1, 403: 2); "any" rows only give a hint for an error message, so a
// documented code that varies (as the numeric codes do) costs nothing there.
//
//	predicate            status  code  message(s)                           allows the caller to
//	IsLicenseNotFound    404     1     Invalid license key                  count the license as gone, holding no seats
//	IsDeviceNotFound     404     1     Device not found                     count the host's seat as free (on deactivate)
//	IsNotActivated       403     2     License not activated                count the seat as free only after a read confirms
//	                                                                          it: a blocked key or an inactive customer may
//	                                                                          answer like this while devices hold seats
//	IsSeatLimitReached   403     any   Activation limit reached             say that every seat is taken (a hint)
//	IsBlocked            403     any   License is blocked; Key blocked;     say that the key is blocked (a hint)
//	                                   Blocked
//
// Outside the table, and allowing no conclusion about a license or a seat:
//   - IsForbiddenByLicenseState: any KeyMint 403 that is not about the
//     token's scope (expired, blocked, inactive customer, ...), for a hint;
//   - IsInsufficientScope: "Insufficient permissions for this operation"
//     (401 or 403), the token lacking the call's scope (RequiredScope);
//   - IsAmbiguous: a 2xx that is not a success, after which the change may
//     or may not have been made.
var (
	answerLicenseGone    = answer{status: http.StatusNotFound, code: 1, messages: []string{"invalid license key"}}
	answerDeviceNotFound = answer{status: http.StatusNotFound, code: 1, messages: []string{"device not found"}}
	answerNotActivated   = answer{status: http.StatusForbidden, code: 2, messages: []string{"license not activated"}}
	answerSeatLimit      = answer{status: http.StatusForbidden, code: anyCode, messages: []string{"activation limit reached"}}
	answerBlocked        = answer{status: http.StatusForbidden, code: anyCode, messages: []string{"license is blocked", "key blocked", "blocked"}}
)

// answer is a row of the table above.
type answer struct {
	status int
	code   int64 // or anyCode
	// messages are lower case.
	messages []string
}

// anyCode in an answer matches any numeric code.
const anyCode = -1

// matches reports whether err is KeyMint's answer a.
func (a answer) matches(err error) bool {
	e, ok := AsError(err)
	if !ok || !e.FromKeyMint || e.StatusCode != a.status || (a.code != anyCode && e.Code != a.code) {
		return false
	}
	words := strings.ToLower(strings.TrimSpace(e.quote()))
	for _, m := range a.messages {
		if words == m {
			return true
		}
	}
	return false
}

// mentions reports whether the server's words (top-level message, nested
// message or symbolic code) contain any of words, ignoring case.
func mentions(e *Error, words ...string) bool {
	text := strings.ToLower(e.Message + " " + e.ErrorMessage + " " + strings.ReplaceAll(e.ErrorCode, "_", " "))
	for _, w := range words {
		if strings.Contains(text, w) {
			return true
		}
	}
	return false
}

func isInsufficientScope(e *Error) bool {
	return e.FromKeyMint && (e.StatusCode == http.StatusUnauthorized || e.StatusCode == http.StatusForbidden) &&
		mentions(e, "insufficient permission")
}

// IsUnauthorized reports any 401: a missing, invalid or under-scoped access
// token. IsInsufficientScope tells the last apart.
func IsUnauthorized(err error) bool {
	e, ok := AsError(err)
	return ok && e.StatusCode == http.StatusUnauthorized
}

// IsInsufficientScope reports KeyMint's "Insufficient permissions for this
// operation" (401 or 403): the token lacks the scope the call needs
// (RequiredScope of the error's Operation).
func IsInsufficientScope(err error) bool {
	e, ok := AsError(err)
	return ok && isInsufficientScope(e)
}

// IsNotFound reports any 404, KeyMint's or not. It allows no conclusion.
func IsNotFound(err error) bool {
	e, ok := AsError(err)
	return ok && e.StatusCode == http.StatusNotFound
}

// IsUnknownRoute reports a 404 or 405 that is not KeyMint's own answer: the
// server (or something in front of it) does not serve the path or method.
func IsUnknownRoute(err error) bool {
	e, ok := AsError(err)
	return ok && !e.FromKeyMint && (e.StatusCode == http.StatusNotFound || e.StatusCode == http.StatusMethodNotAllowed)
}

// IsDeviceNotFound reports KeyMint's 404 "Device not found" (see the table
// above): the host holds no seat.
func IsDeviceNotFound(err error) bool { return answerDeviceNotFound.matches(err) }

// IsLicenseNotFound reports KeyMint's 404 "Invalid license key" (see the
// table above): the license does not exist, so it holds no seats. No other
// 404 is one, "Product not found" included.
func IsLicenseNotFound(err error) bool { return answerLicenseGone.matches(err) }

// IsForbiddenByLicenseState reports a KeyMint 403 that is not about the
// token's scope: the license's state forbids the call (seat limit reached,
// expired, blocked, inactive customer, nothing activated). It is for
// hints, and allows no conclusion.
func IsForbiddenByLicenseState(err error) bool {
	e, ok := AsError(err)
	return ok && e.FromKeyMint && e.StatusCode == http.StatusForbidden && !isInsufficientScope(e)
}

// IsSeatLimitReached reports KeyMint's 403 "Activation limit reached" (see
// the table above): every seat of the license is taken.
func IsSeatLimitReached(err error) bool { return answerSeatLimit.matches(err) }

// IsBlocked reports KeyMint's 403 saying that the key is blocked (see the
// table above), for a hint.
func IsBlocked(err error) bool { return answerBlocked.matches(err) }

// IsNotActivated reports KeyMint's 403 "License not activated" (see the
// table above): the license has nothing active to deactivate, as when a
// retry follows a deactivation whose answer was lost. A blocked key or an
// inactive customer may answer the same while devices still hold seats, so
// it is not by itself proof that a seat is free: confirm with a read.
func IsNotActivated(err error) bool { return answerNotActivated.matches(err) }

// IsAmbiguous reports a 2xx answer that is not a success (Error.Ambiguous):
// the change may or may not have been made.
func IsAmbiguous(err error) bool {
	e, ok := AsError(err)
	return ok && e.Ambiguous
}

// IsRedirect reports a 3xx answer, which the client never follows: base_url
// (or something in front of it) points elsewhere. It is not KeyMint's
// answer and allows no conclusion.
func IsRedirect(err error) bool {
	e, ok := AsError(err)
	return ok && isRedirect(e)
}

// IsRateLimited reports a 429.
func IsRateLimited(err error) bool {
	e, ok := AsError(err)
	return ok && e.StatusCode == http.StatusTooManyRequests
}

// IsServerError reports a 5xx answer.
func IsServerError(err error) bool {
	e, ok := AsError(err)
	return ok && e.StatusCode >= 500 && e.StatusCode <= 599
}
