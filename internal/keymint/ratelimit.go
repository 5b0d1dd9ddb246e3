package keymint

import (
	"context"
	"crypto/sha256"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// KeyMint limits requests per access token (10, 100 or 1,000 a minute by
// plan) and answers 429 with a Retry-After beyond that. Terraform runs many
// operations at once, each with a client call of its own, and a provider
// process may hold several clients with one token (provider aliases, the
// data sources): if each call retried on its own, each would wait its own
// Retry-After and they would keep sending into the window the server asked
// them to leave alone, each refusal possibly extending it.
//
// So every client of the process that talks to one server with one token
// shares one gate: a rate-limit answer that names a moment (429 with a
// Retry-After, or 503 with one) closes the gate until then, and every
// request of the process with that token, first attempts included, waits
// for it before it is sent. A pacer (Config.MaxRequestsPerMinute) spaces
// the requests of the token out so that a known plan limit is not hit at
// all.

// sharedLimits is the gate and the pacer of one server and token.
type sharedLimits struct {
	mu sync.Mutex
	// until is the moment before which no request may be sent; cause is
	// the answer that named it.
	until time.Time
	cause *Error
	// pacer spaces requests out, perMinute a minute; nil when unpaced.
	pacer     *rate.Limiter
	perMinute int
}

// limitsKey names a server and a token; the token is kept hashed.
type limitsKey struct {
	baseURL string
	token   [sha256.Size]byte
}

// registry holds the limits of every server and token of the process.
var registry = struct {
	mu     sync.Mutex
	limits map[limitsKey]*sharedLimits
}{limits: map[limitsKey]*sharedLimits{}}

// limitsFor returns the limits shared by every client of baseURL and token.
// When clients ask for different paces, the slowest wins: the server's
// limit is per token, whichever client sends.
func limitsFor(baseURL, token string, perMinute int) *sharedLimits {
	k := limitsKey{baseURL: baseURL, token: sha256.Sum256([]byte(token))}
	registry.mu.Lock()
	l, ok := registry.limits[k]
	if !ok {
		l = &sharedLimits{}
		registry.limits[k] = l
	}
	registry.mu.Unlock()
	l.setPace(perMinute)
	return l
}

// paceMargin is how much slower than the limit requests are paced, in
// percent.
const paceMargin = 5

func (l *sharedLimits) setPace(perMinute int) {
	if perMinute <= 0 {
		return
	}
	// A margin of paceMargin between requests: a server that counts in a
	// sliding window refuses a request that arrives a millisecond early,
	// and each refusal closes the gate for a whole second or more.
	every := rate.Every(time.Minute / time.Duration(perMinute) * (100 + paceMargin) / 100)
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case l.pacer == nil:
		// Burst 1: never two requests closer together than the pace.
		l.pacer, l.perMinute = rate.NewLimiter(every, 1), perMinute
	case perMinute < l.perMinute:
		l.pacer.SetLimit(every)
		l.perMinute = perMinute
	}
}

// gate returns the moment before which no request may be sent, and the
// answer that named it.
func (l *sharedLimits) gate() (time.Time, *Error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.until, l.cause
}

// hold closes the gate until the moment a rate-limit answer named, unless
// it is closed longer already. It reports whether it moved the gate.
func (l *sharedLimits) hold(until time.Time, cause *Error) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !until.After(l.until) {
		return false
	}
	l.until, l.cause = until, cause
	return true
}

// pace waits for the pacer's next free slot, and takes it.
func (l *sharedLimits) pace(ctx context.Context) error {
	l.mu.Lock()
	p := l.pacer
	l.mu.Unlock()
	if p == nil {
		return nil
	}
	r := p.Reserve()
	if err := sleep(ctx, r.Delay()); err != nil {
		r.Cancel()
		return err
	}
	return nil
}

// sleep waits d, or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
