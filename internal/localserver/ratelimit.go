package localserver

import (
	"fmt"
	"sync"
	"time"
)

// SetRateLimit limits each access token to perMinute API requests per
// rolling minute, like the plans of the real service; 0 removes the
// limit. Every token starts with a full allowance again. Requests over the
// limit are answered 429 with a Retry-After; requests to /_local/ paths
// and requests without a valid token are not counted. Time is the
// server's clock (Options.Now).
func (s *Server) SetRateLimit(perMinute int) error {
	if perMinute < 0 {
		return fmt.Errorf("localserver: rate limit %d: must not be negative", perMinute)
	}
	s.limiter.set(perMinute)
	return nil
}

// RateLimit returns the requests each access token may send per minute;
// 0 means no limit.
func (s *Server) RateLimit() int {
	s.limiter.mu.Lock()
	defer s.limiter.mu.Unlock()
	return s.limiter.perMinute
}

// limit takes one request from the allowance of token. Over the limit, it
// counts the refusal and returns the 429 answer, whose Retry-After is the
// time until the token may send again unless FaultConfig.RetryAfter says
// otherwise.
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

// rateLimiter is a token bucket per access token: it holds up to
// perMinute requests and refills continuously at perMinute a minute.
type rateLimiter struct {
	mu        sync.Mutex
	perMinute int                     // 0 = no limit
	buckets   map[string]*tokenBucket // by access token
}

// tokenBucket is the allowance of one access token.
type tokenBucket struct {
	requests float64   // requests the token may send now
	last     time.Time // time of the last refill
}

// set changes the limit and refills every bucket.
func (l *rateLimiter) set(perMinute int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.perMinute = perMinute
	l.buckets = nil
}

// take takes one request from the bucket of token at time now. It reports
// whether the request is allowed and, if not, how long until it would be.
func (l *rateLimiter) take(token string, now time.Time) (wait time.Duration, ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.perMinute == 0 {
		return 0, true
	}
	capacity := float64(l.perMinute)
	b := l.buckets[token]
	if b == nil {
		if l.buckets == nil {
			l.buckets = map[string]*tokenBucket{}
		}
		b = &tokenBucket{requests: capacity, last: now}
		l.buckets[token] = b
	}
	if elapsed := now.Sub(b.last); elapsed > 0 {
		b.requests = min(capacity, b.requests+elapsed.Minutes()*capacity)
		b.last = now
	}
	if b.requests >= 1 {
		b.requests--
		return 0, true
	}
	return time.Duration((1 - b.requests) * float64(time.Minute) / capacity), false
}
