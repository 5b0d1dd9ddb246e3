package keymint

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Bounds on the retry settings; anything outside is a configuration mistake.
const (
	MaxMaxRetries     = 20
	MaxRetryWait      = 10 * time.Minute
	MinRequestTimeout = 1 * time.Second
	MaxRequestTimeout = 10 * time.Minute
	MinRateLimitWait  = 0
	MaxRateLimitWait  = time.Hour
	// MaxMaxRequestsPerMinute is far above any KeyMint plan (1,000 a
	// minute), and low enough to catch a typo.
	MaxMaxRequestsPerMinute = 100000
)

// Why retrying is safe here, call by call:
//   - activate: re-activating a host that holds a seat answers success and
//     uses no second seat, so a retry after a lost answer takes no extra seat;
//   - deactivate: a retry after a lost answer is answered "Device not found"
//     or "License not activated", which callers count as freed (the latter
//     once a read confirms it, see IsNotActivated);
//   - get-key: a read;
//   - update, block and unblock set a state (see keys.go); create is sent
//     again only when an attempt certainly did not reach the server
//     (request.once).
//
// What is retried (the provider's docs say the same, from the
// max_retries row of its settings table, internal/provider/settings.go):
//   - up to MaxRetries times: a request that got no answer (the connection
//     failed, the answer was cut off, or the attempt ran past
//     RequestTimeout), and a 5xx answer other than 501 and other than a 503
//     with a Retry-After;
//   - within RateLimitWait instead: rate-limit answers, 429 and 503 with a
//     Retry-After;
//   - nothing else: not a 501, a redirect (3xx) or any other 4xx, which a
//     retry would only repeat; not a 2xx that is not a success (the change
//     may have been made); not a server certificate the client does not
//     trust (see permanent); not a call whose context ended.
//
// Two budgets bound the retries of one call. Transport failures and 5xx
// answers are retried up to MaxRetries times, with jittered exponential
// backoff between RetryWaitMin and RetryWaitMax. Rate-limit answers (429,
// and 503 with a Retry-After) do not count against MaxRetries: they are
// retried until the call has waited RateLimitWait in total because of rate
// limits, honouring the server's Retry-After in full, and backing off as
// above where it names no time. A call whose next wait would not fit in what
// is left of that budget gives up at once rather than sleeping in vain.
// Waiting for the pacer (MaxRequestsPerMinute) counts against neither.

// retryPolicy is the retry settings of a client.
type retryPolicy struct {
	maxRetries       int
	waitMin, waitMax time.Duration
	rateLimitWait    time.Duration
}

// newRetryPolicy checks the retry settings of cfg and fills in defaults.
func newRetryPolicy(cfg Config) (retryPolicy, error) {
	p := retryPolicy{
		maxRetries:    DefaultMaxRetries,
		waitMin:       orDefault(cfg.RetryWaitMin, DefaultRetryWaitMin),
		waitMax:       orDefault(cfg.RetryWaitMax, DefaultRetryWaitMax),
		rateLimitWait: DefaultRateLimitWait,
	}
	if cfg.MaxRetries != nil {
		p.maxRetries = max(*cfg.MaxRetries, 0)
	}
	if cfg.RateLimitWait != nil {
		p.rateLimitWait = *cfg.RateLimitWait
	}
	switch {
	case p.maxRetries > MaxMaxRetries:
		return p, fmt.Errorf("max retries %d is more than %d", p.maxRetries, MaxMaxRetries)
	case p.waitMin < 0 || p.waitMax < 0:
		return p, errors.New("retry waits must not be negative")
	case p.waitMin > p.waitMax:
		return p, fmt.Errorf("the minimum retry wait (%s) is longer than the maximum (%s)", p.waitMin, p.waitMax)
	case p.waitMax > MaxRetryWait:
		return p, fmt.Errorf("the maximum retry wait %s is longer than %s", p.waitMax, MaxRetryWait)
	case p.rateLimitWait < MinRateLimitWait || p.rateLimitWait > MaxRateLimitWait:
		return p, fmt.Errorf("the rate-limit wait %s is not between %s and %s", p.rateLimitWait, time.Duration(MinRateLimitWait), MaxRateLimitWait)
	case cfg.MaxRequestsPerMinute < 0 || cfg.MaxRequestsPerMinute > MaxMaxRequestsPerMinute:
		return p, fmt.Errorf("max requests per minute %d is not between 0 and %d", cfg.MaxRequestsPerMinute, MaxMaxRequestsPerMinute)
	}
	return p, nil
}

// newHTTPClient builds the HTTP client of one attempt: it reads every
// answer whole, within the request timeout.
func newHTTPClient(cfg Config) (*http.Client, error) {
	timeout := orDefault(cfg.RequestTimeout, DefaultRequestTimeout)
	if timeout < MinRequestTimeout || timeout > MaxRequestTimeout {
		return nil, fmt.Errorf("the request timeout %s is not between %s and %s", timeout, MinRequestTimeout, MaxRequestTimeout)
	}
	base := cfg.Transport
	if base == nil {
		t, ok := http.DefaultTransport.(*http.Transport)
		if !ok {
			return nil, errors.New("http.DefaultTransport is not an *http.Transport")
		}
		t = t.Clone()
		// Terraform runs up to -parallelism operations at once; keep that
		// many connections to the one API host alive.
		t.MaxIdleConnsPerHost = 64
		base = t
	}
	return &http.Client{
		Transport: bufferingTransport{base},
		Timeout:   timeout,
		// A redirect is never followed: following it would send the token
		// and the license key to wherever it points (see redirectError).
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}, nil
}

func orDefault(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}

// bufferingTransport reads every answer whole inside the round trip, so
// that an answer cut off mid-way is a failure of the attempt, and retried.
//
// It also moves the Location header of a 3xx answer to redirectLocation,
// so that http.Client sees a redirect without a target, which it returns
// as it is: it would otherwise parse the Location before asking
// CheckRedirect, and fail the attempt, repeating the Location in its error,
// when the Location is not a URL.
type bufferingTransport struct{ base http.RoundTripper }

// redirectLocation holds the Location header of a 3xx answer.
const redirectLocation = "X-Keymint-Client-Redirect-Location"

func (t bufferingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	delete(resp.Header, redirectLocation)
	if resp.StatusCode >= 300 && resp.StatusCode <= 399 {
		if loc, ok := resp.Header["Location"]; ok {
			resp.Header[redirectLocation] = loc
			delete(resp.Header, "Location")
		}
	}
	if err := bufferBody(resp); err != nil {
		return nil, fmt.Errorf("the answer was cut off: %w", err)
	}
	return resp, nil
}

// callState is what one call (all its attempts) has used of its budgets.
type callState struct {
	op   string
	mask *masker // the call's secrets
	// idempotencyKey is sent with every attempt of a mutating call.
	idempotencyKey string
	// retries counts retries after transport failures and 5xx answers.
	retries int
	// rateLimited counts rate-limit answers; waited is the time waited
	// because of rate limits; lastRateLimit is the latest such answer.
	rateLimited   int
	waited        time.Duration
	lastRateLimit *Error
}

// giveUp is the error of a call that stops waiting for a rate limit: the
// answer that named the wait, saying how long the call waited.
func (st *callState) giveUp(cause *Error, next, budget time.Duration) error {
	if st.lastRateLimit != nil {
		cause = st.lastRateLimit
	}
	if cause == nil { // the gate is only ever closed with a cause
		cause = &Error{StatusCode: http.StatusTooManyRequests, Message: http.StatusText(http.StatusTooManyRequests)}
	}
	e := *cause
	e.Operation = st.op
	e.Message, e.ErrorMessage = st.mask.redact(e.Message), st.mask.redact(e.ErrorMessage)
	e.RateLimited, e.Waited = st.rateLimited, st.waited
	e.gaveUp, e.budget, e.next, e.note = true, budget, next, ""
	return &e
}

// send sends r until it gets a definite answer, within the call's budgets,
// and returns the body of a 2xx answer, or an error: an *Error for any
// other answer.
func (c *Client) send(ctx context.Context, st *callState, r request) (int, []byte, error) {
	target := c.baseURL + r.path
	if len(r.query) > 0 {
		target += "?" + r.query.Encode()
	}
	payload, err := r.payload()
	if err != nil {
		return 0, nil, fmt.Errorf("%s: encoding the request: %w", st.op, err)
	}
	if _, err := c.newRequest(ctx, st, r, target, payload); err != nil {
		// Not the *url.Error, whose text repeats the request URL.
		return 0, nil, fmt.Errorf("%s: building the request for %s: %s", st.op, c.shownURL, st.mask.redact(unwrapURLError(err).Error()))
	}
	c.log(ctx, st, levelDebug, "KeyMint API request", map[string]any{
		"operation": st.op,
		"method":    r.method,
		"path":      r.path,
		"body":      logBody(payload, st.mask),
	})
	start := time.Now()
	// own is this call's backoff after a rate-limit answer that named no
	// time; the shared gate holds the times servers name.
	var own time.Duration
	for attempt := 0; ; attempt++ {
		if err := c.waitTurn(ctx, st, own); err != nil {
			return 0, nil, err
		}
		own = 0
		if attempt > 0 {
			c.log(ctx, st, levelDebug, "KeyMint API retry", map[string]any{"attempt": attempt, "path": r.path})
		}
		status, header, raw, err := c.attempt(ctx, st, r, target, payload)
		if err == nil && r.secretsInAnswer != nil {
			st.mask.add(r.secretsInAnswer(raw)...)
		}
		now := time.Now()
		var failure error // the call's error if no retry is left
		fields := map[string]any{"operation": st.op, "path": r.path}
		switch {
		case err != nil:
			if ctxErr := ctx.Err(); ctxErr != nil {
				return 0, nil, fmt.Errorf("%s: %w", st.op, ctxErr)
			}
			msg := st.mask.redact(unwrapURLError(err).Error())
			failure = fmt.Errorf("%s: no answer from %s: %s", st.op, c.shownURL, msg)
			fields["error"] = msg
			if permanent(err) {
				return 0, nil, failure
			}
			if r.once {
				if !unsent(err) {
					return 0, nil, failure // it may have reached the server
				}
				failure = &notSentError{failure}
			}
		case isRateLimit(status, header):
			e := newError(st.op, status, raw, st.mask)
			st.rateLimited++
			st.lastRateLimit = e
			wait, named := retryAfter(header.Get("Retry-After"), now)
			if named && wait > 0 {
				if c.limits.hold(now.Add(wait), e) {
					c.log(ctx, st, levelInfo, "KeyMint API rate limit reached; requests with this access token wait for the time the server named", map[string]any{
						"operation": st.op, "status": status, "retry_after": wait.String(),
					})
				}
			} else {
				wait = backoff(c.retry.waitMin, c.retry.waitMax, st.rateLimited-1)
				own = wait
			}
			if st.waited+wait > c.retry.rateLimitWait {
				c.logAnswer(ctx, st, r, status, raw, start)
				return 0, nil, st.giveUp(e, wait, c.retry.rateLimitWait)
			}
			c.log(ctx, st, levelDebug, "KeyMint API request rate-limited; it will be sent again", map[string]any{
				"operation": st.op, "path": r.path, "status": status, "wait": wait.String(),
				"waited": st.waited.String(), "budget": c.retry.rateLimitWait.String(),
			})
			continue
		case status >= 500 && status <= 599 && status != http.StatusNotImplemented:
			failure = newError(st.op, status, raw, st.mask)
			fields["status"] = status
			if r.once {
				c.logAnswer(ctx, st, r, status, raw, start)
				return 0, nil, failure // the server may have done it
			}
		case status >= 300 && status <= 399:
			// Never followed (see newHTTPClient), and never retried: the
			// same request would be redirected again.
			c.logAnswer(ctx, st, r, status, raw, start)
			return status, raw, redirectError(st, status, header.Get(redirectLocation), target)
		default:
			c.logAnswer(ctx, st, r, status, raw, start)
			if status < 200 || status > 299 {
				return status, raw, newError(st.op, status, raw, st.mask)
			}
			return status, raw, nil
		}
		if st.retries >= c.retry.maxRetries {
			if err == nil {
				c.logAnswer(ctx, st, r, status, raw, start)
			}
			return 0, nil, failure
		}
		wait := backoff(c.retry.waitMin, c.retry.waitMax, st.retries)
		st.retries++
		fields["wait"] = wait.String()
		c.log(ctx, st, levelDebug, "KeyMint API request failed; it will be retried", fields)
		if err := sleep(ctx, wait); err != nil {
			return 0, nil, fmt.Errorf("%s: %w", st.op, err)
		}
	}
}

// waitTurn waits until a request of the call may be sent: for this call's
// own rate-limit backoff (own), until the shared gate opens, then for the
// pacer. It gives up when a wait would not fit in what is left of the
// call's rate-limit budget.
func (c *Client) waitTurn(ctx context.Context, st *callState, own time.Duration) error {
	paced := false
	for {
		need, cause := own, st.lastRateLimit
		if need <= 0 {
			var until time.Time
			until, cause = c.limits.gate()
			need = time.Until(until)
		}
		if need > 0 {
			if st.waited+need > c.retry.rateLimitWait {
				return st.giveUp(cause, need, c.retry.rateLimitWait)
			}
			c.log(ctx, st, levelDebug, "KeyMint API request waits for the rate limit", map[string]any{
				"operation": st.op, "wait": need.String(), "waited": st.waited.String(), "budget": c.retry.rateLimitWait.String(),
			})
			if err := sleep(ctx, need); err != nil {
				return fmt.Errorf("%s: %w", st.op, err)
			}
			st.waited += need
			own = 0
			continue // the gate may have moved meanwhile
		}
		if paced {
			return nil
		}
		if err := c.limits.pace(ctx); err != nil {
			return fmt.Errorf("%s: %w", st.op, err)
		}
		paced = true // and look at the gate again: it may have closed meanwhile
	}
}

// permanent reports a failure in transit that a retry would only repeat:
// a certificate the client does not trust.
func permanent(err error) bool {
	var certErr *tls.CertificateVerificationError
	var unknownAuthority x509.UnknownAuthorityError
	var hostname x509.HostnameError
	var invalid x509.CertificateInvalidError
	return errors.As(err, &certErr) || errors.As(err, &unknownAuthority) || errors.As(err, &hostname) || errors.As(err, &invalid)
}

// isRateLimit reports an answer that asks the client to slow down: a 429,
// or a 503 that names when to come back.
func isRateLimit(status int, header http.Header) bool {
	if status == http.StatusTooManyRequests {
		return true
	}
	if status == http.StatusServiceUnavailable {
		_, ok := retryAfter(header.Get("Retry-After"), time.Now())
		return ok
	}
	return false
}

// backoff is an exponentially growing wait from minWait to maxWait, with
// jitter so that parallel requests do not retry in lockstep.
func backoff(minWait, maxWait time.Duration, attempt int) time.Duration {
	ceiling := maxWait
	if attempt < 32 && minWait<<attempt > 0 && minWait<<attempt < maxWait {
		ceiling = minWait << attempt
	}
	// Equal jitter: half fixed, half random, never below min.
	half := ceiling / 2
	wait := half + time.Duration(rand.Int64N(int64(half)+1))
	return max(wait, minWait)
}

// retryAfter parses a Retry-After value: delay seconds or an HTTP date.
func retryAfter(v string, now time.Time) (time.Duration, bool) {
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64); err == nil {
		if secs < 0 {
			return 0, false
		}
		// Beyond any budget; and keeps the multiplication from overflowing.
		return time.Duration(min(secs, int64(24*time.Hour/time.Second))) * time.Second, true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	return max(t.Sub(now), 0), true
}
