package localserver

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"
)

// RateLimit is a limit of Requests API requests per access token in any
// interval of length Window, like the plans of the hosted service (10, 100
// or 1,000 requests a minute). The zero value means no limit.
type RateLimit struct {
	Requests int           // 0 = no limit
	Window   time.Duration // must be positive when Requests is
}

// Validate reports whether l is a limit SetRateLimit accepts: Requests
// and Window are not negative, and Window is positive when Requests is.
func (l RateLimit) Validate() error {
	if err := l.check(); err != nil {
		return fmt.Errorf("rate limit %v: %w", l, err)
	}
	return nil
}

// check returns why l is invalid, or nil.
func (l RateLimit) check() error {
	switch {
	case l.Requests < 0:
		return errors.New("the number of requests must not be negative")
	case l.Window < 0:
		return errors.New("the window must not be negative")
	case l.Requests > 0 && l.Window == 0:
		return errors.New("the window must be longer than 0")
	}
	return nil
}

// normalized returns l with the zero window of "no limit".
func (l RateLimit) normalized() RateLimit {
	if l.Requests == 0 {
		return RateLimit{}
	}
	return l
}

// String returns l in the form ParseRateLimit reads: "N/DURATION", or "0"
// for no limit.
func (l RateLimit) String() string {
	if l.Requests == 0 {
		return "0"
	}
	return strconv.Itoa(l.Requests) + "/" + l.Window.String()
}

// errRateLimitSyntax describes the forms ParseRateLimit accepts.
var errRateLimitSyntax = errors.New(`want N or N/DURATION, such as 10/1m or 3/3s (a bare N means N a minute, 0 no limit)`)

// ParseRateLimit parses a rate limit of the form "N/DURATION", where N is a
// number of requests and DURATION a Go duration such as "1m", "3s" or
// "1h30m". A bare "N" means N requests a minute; "0" (or "0/DURATION")
// means no limit, and yields the zero RateLimit.
func ParseRateLimit(s string) (RateLimit, error) {
	count, window, hasWindow := strings.Cut(s, "/")
	n, err := strconv.Atoi(count)
	if err != nil {
		return RateLimit{}, fmt.Errorf("rate limit %q: %w", s, errRateLimitSyntax)
	}
	l := RateLimit{Requests: n, Window: time.Minute}
	if hasWindow {
		if l.Window, err = time.ParseDuration(window); err != nil {
			return RateLimit{}, fmt.Errorf("rate limit %q: %w", s, errRateLimitSyntax)
		}
	}
	if err := l.check(); err != nil {
		return RateLimit{}, fmt.Errorf("rate limit %q: %w", s, err)
	}
	return l.normalized(), nil
}

// SetRateLimit limits each access token to l.Requests API requests in any
// interval of length l.Window: a strict sliding window, which remembers
// the times of each token's last l.Requests accepted requests. The zero
// RateLimit removes the limit. Every token starts with a full allowance
// again. Requests over the limit are answered 429 with a Retry-After;
// requests to /_local/ paths, requests to paths the server does not serve
// and requests without a valid token are not counted. Time is the server's
// clock (Options.Now). An invalid limit is an error and changes nothing.
func (s *Server) SetRateLimit(l RateLimit) error {
	if err := l.Validate(); err != nil {
		return fmt.Errorf("localserver: %w", err)
	}
	s.limiter.set(l.normalized())
	return nil
}

// RateLimit returns the rate limit of each access token; the zero value
// means no limit.
func (s *Server) RateLimit() RateLimit {
	s.limiter.mu.Lock()
	defer s.limiter.mu.Unlock()
	return s.limiter.limit
}

// limit counts one request of token. Over the limit, it counts the
// refusal and returns the 429 answer, whose Retry-After is the time until
// the token may send again unless FaultConfig.RetryAfter says otherwise.
func (s *Server) limit(token string) error {
	wait, ok := s.limiter.take(token, s.now())
	if ok {
		return nil
	}
	s.faults.record(rateLimitFault)
	if override := s.Faults().RetryAfter; override > 0 {
		wait = override
	}
	return &rateLimitError{retryAfter: wait}
}

// rateLimiter is a sliding-window log per access token.
type rateLimiter struct {
	mu      sync.Mutex
	limit   RateLimit              // normalized; zero = no limit
	windows map[string][]time.Time // by access token: the accepted requests within the window, oldest first, at most limit.Requests
}

// set changes the limit and forgets every token's requests.
func (l *rateLimiter) set(limit RateLimit) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.limit = limit
	l.windows = nil
}

// take counts a request of token at time now. It reports whether the
// request is allowed and, if not, how long until it would be. A request
// leaves the window once a whole window has passed since it was accepted.
func (l *rateLimiter) take(token string, now time.Time) (wait time.Duration, ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.limit.Requests == 0 {
		return 0, true
	}
	times := l.windows[token]
	expired := 0
	for expired < len(times) && now.Sub(times[expired]) >= l.limit.Window {
		expired++
	}
	times = times[expired:]
	if len(times) >= l.limit.Requests {
		l.windows[token] = times
		return times[0].Add(l.limit.Window).Sub(now), false
	}
	if l.windows == nil {
		l.windows = map[string][]time.Time{}
	}
	// Appending to the tail of a slice whose head was cut off reallocates
	// once the capacity runs out, copying only the live entries, so the
	// memory of a token stays proportional to its window.
	l.windows[token] = append(times, now)
	return 0, true
}
