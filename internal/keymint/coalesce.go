package keymint

import (
	"context"
	"sync"
)

// readCoalescer shares get-key reads of a license.
//
// get-key is the only call that lists a license's devices, and it returns
// all of them: if each of N activations of one license read it on its own, a
// refresh would make N calls of N devices each. Instead, a read joins a read
// of the same license that is in flight, or uses the last result, as long as
// that read started after the last write to the license through this client
// had completed. Writes (activate, deactivate) bump the license's generation
// when they complete, whatever their outcome, so a read that starts later
// never sees what predates them.
//
// Only the map lookup is under the coalescer's lock; each license has its own
// lock, held only to inspect or update its entry, never during a request.
type readCoalescer struct {
	enabled  bool
	mu       sync.Mutex
	licenses map[licenseID]*licenseReads
}

type licenseID struct{ productID, key string }

type licenseReads struct {
	mu sync.Mutex
	// gen counts completed writes to the license.
	gen uint64
	// last is the newest successful read, made at generation lastGen.
	last    *License
	lastGen uint64
	// flight is the read in progress, if any.
	flight *readFlight
}

// readFlight is one get-key request that several callers wait for.
type readFlight struct {
	gen  uint64 // generation when the request was sent
	done chan struct{}
	lic  *License
	err  error
}

func newReadCoalescer(enabled bool) *readCoalescer {
	return &readCoalescer{enabled: enabled, licenses: map[licenseID]*licenseReads{}}
}

func (c *readCoalescer) entry(productID, key string) *licenseReads {
	id := licenseID{productID, key}
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.licenses[id]
	if !ok {
		e = &licenseReads{}
		c.licenses[id] = e
	}
	return e
}

// invalidate records a completed write to the license.
func (c *readCoalescer) invalidate(productID, key string) {
	if !c.enabled {
		return
	}
	e := c.entry(productID, key)
	e.mu.Lock()
	e.gen++
	e.last = nil
	e.mu.Unlock()
}

// get returns a read of the license that started after every write that had
// completed when get was called, calling fetch only when there is none.
func (c *readCoalescer) get(ctx context.Context, productID, key string, fetch func(context.Context) (*License, error)) (*License, error) {
	if !c.enabled {
		return fetch(ctx)
	}
	e := c.entry(productID, key)
	e.mu.Lock()
	want := e.gen
	if e.last != nil && e.lastGen >= want {
		lic := e.last
		e.mu.Unlock()
		return lic, nil
	}
	f := e.flight
	if f == nil || f.gen < want {
		f = &readFlight{gen: want, done: make(chan struct{})}
		e.flight = f
		// The request belongs to every caller waiting for it, so one
		// caller's cancellation must not end it for the others.
		go c.run(context.WithoutCancel(ctx), e, f, fetch)
	}
	e.mu.Unlock()

	select {
	case <-f.done:
		return f.lic, f.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (c *readCoalescer) run(ctx context.Context, e *licenseReads, f *readFlight, fetch func(context.Context) (*License, error)) {
	f.lic, f.err = fetch(ctx)
	e.mu.Lock()
	if f.err == nil && f.gen == e.gen && (e.last == nil || f.gen >= e.lastGen) {
		e.last, e.lastGen = f.lic, f.gen
	}
	if e.flight == f {
		e.flight = nil
	}
	e.mu.Unlock()
	close(f.done)
}
