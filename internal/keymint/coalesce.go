package keymint

import (
	"context"
	"sync"
	"time"
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
// A read also waits for the writes to the license that are in flight when it
// is called: a create reads the license back just after its own write, and
// when many creates of one license run at once, the writes of the others
// are under way then. Waiting for them first lets a single read, sent once
// they are all done, serve every one of those creates, instead of each
// sending its own read as the writes finish one by one. Writes that start
// after the read was called are waited for only while they keep coming
// close together (a wave of creates that Terraform starts a few
// milliseconds apart, gatherQuiet), and for gatherMax at the most, so that a
// steady stream of writes cannot hold a read back for ever; a read when no
// write has started lately (a refresh) waits for nothing.
//
// When a read finds a request in flight that started too early for it, it
// does not send its own at once: it waits for a request queued behind the
// one in flight, which every reader arriving meanwhile shares. During an
// apply, where every create writes and then reads, this makes one read serve
// all the creates that finished writing while the previous read was out.
//
// Only the map lookup is under the coalescer's lock; each license has its own
// lock, held only to inspect or update its entry, never during a request.
type readCoalescer struct {
	enabled  bool
	mu       sync.Mutex
	licenses map[licenseID]*licenseReads
	// waitsForWrites, when set (by tests), is called when a read has taken
	// note of the writes it waits for.
	waitsForWrites func()
	// gatherQuiet and gatherMax shape the wait for a wave of writes (see
	// above); a zero gatherQuiet waits only for the writes in flight.
	gatherQuiet, gatherMax time.Duration
}

// The wait of a read for a wave of writes: Terraform starts the creates of
// one -parallelism wave a few milliseconds apart, so a read waits until no
// write of the license has started for gatherQuiet, and no longer than
// gatherMax in all. Against a server a request takes longer than that
// anyway; against one on loopback it is what lets one read serve the wave.
const (
	defaultGatherQuiet = 15 * time.Millisecond
	defaultGatherMax   = 250 * time.Millisecond
)

type licenseID struct{ productID, key string }

type licenseReads struct {
	mu sync.Mutex
	// gen counts completed writes to the license.
	gen uint64
	// writes are the writes in flight; each one's channel is closed when
	// it completes.
	writes map[*pendingWrite]struct{}
	// lastStart is when the last write started.
	lastStart time.Time
	// last is the newest successful read, made at generation lastGen.
	last    *License
	lastGen uint64
	// flight is the read in progress, if any; next is the read queued to
	// start when flight ends, for callers that flight is too old for.
	flight, next *readFlight
}

// pendingWrite is a write to a license that has not completed.
type pendingWrite struct{ done chan struct{} }

// readFlight is one get-key request that several callers wait for.
type readFlight struct {
	gen  uint64 // generation when the request was sent
	ctx  context.Context
	done chan struct{}
	lic  *License
	err  error
}

func newReadCoalescer(enabled bool) *readCoalescer {
	return &readCoalescer{
		enabled: enabled, licenses: map[licenseID]*licenseReads{},
		gatherQuiet: defaultGatherQuiet, gatherMax: defaultGatherMax,
	}
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

// startWrite records a write to the license as in flight; the function it
// returns records its completion, whatever its outcome. Call it before the
// write's request is sent.
func (c *readCoalescer) startWrite(productID, key string) (done func()) {
	if !c.enabled {
		return func() {}
	}
	e := c.entry(productID, key)
	w := &pendingWrite{done: make(chan struct{})}
	e.mu.Lock()
	if e.writes == nil {
		e.writes = map[*pendingWrite]struct{}{}
	}
	e.writes[w] = struct{}{}
	e.lastStart = time.Now()
	e.mu.Unlock()
	return func() {
		e.mu.Lock()
		e.gen++
		e.last = nil
		delete(e.writes, w)
		e.mu.Unlock()
		close(w.done)
	}
}

// get returns a read of the license that started after every write that had
// completed or was in flight when get was called, calling fetch only when
// there is none.
func (c *readCoalescer) get(ctx context.Context, productID, key string, fetch func(context.Context) (*License, error)) (*License, error) {
	if !c.enabled {
		return fetch(ctx)
	}
	e := c.entry(productID, key)
	e.mu.Lock()
	if len(e.writes) > 0 {
		pending := make([]chan struct{}, 0, len(e.writes))
		for w := range e.writes {
			pending = append(pending, w.done)
		}
		e.mu.Unlock()
		if c.waitsForWrites != nil {
			c.waitsForWrites()
		}
		for _, done := range pending {
			select {
			case <-done:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		e.mu.Lock()
	}
	if err := c.gather(ctx, e); err != nil {
		e.mu.Unlock()
		return nil, err
	}
	want := e.gen
	if e.last != nil && e.lastGen >= want {
		lic := e.last
		e.mu.Unlock()
		return lic, nil
	}
	// The request belongs to every caller waiting for it, so one caller's
	// cancellation must not end it for the others.
	var f *readFlight
	switch {
	case e.flight == nil:
		f = &readFlight{gen: want, ctx: context.WithoutCancel(ctx), done: make(chan struct{})}
		e.flight = f
		go c.run(e, f, fetch)
	case e.flight.gen >= want:
		f = e.flight
	default:
		if e.next == nil {
			e.next = &readFlight{ctx: context.WithoutCancel(ctx), done: make(chan struct{})}
		}
		f = e.next
	}
	e.mu.Unlock()

	select {
	case <-f.done:
		return f.lic, f.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// gather waits, with e.mu held on entry and on return, for the rest of a
// wave of writes: while a write of the license started less than
// gatherQuiet ago, or writes are in flight, and for gatherMax at the most.
func (c *readCoalescer) gather(ctx context.Context, e *licenseReads) error {
	if c.gatherQuiet <= 0 {
		return nil
	}
	deadline := time.Now().Add(c.gatherMax)
	for {
		now := time.Now()
		if !now.Before(deadline) {
			return nil
		}
		var wait <-chan struct{}
		for w := range e.writes {
			wait = w.done // any one; the loop comes back for the others
			break
		}
		if wait == nil {
			since := now.Sub(e.lastStart)
			if since >= c.gatherQuiet {
				return nil
			}
			t := time.NewTimer(min(c.gatherQuiet-since, deadline.Sub(now)))
			e.mu.Unlock()
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
				e.mu.Lock()
				return ctx.Err()
			}
			e.mu.Lock()
			continue
		}
		t := time.NewTimer(deadline.Sub(now))
		e.mu.Unlock()
		select {
		case <-wait:
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			e.mu.Lock()
			return ctx.Err()
		}
		t.Stop()
		e.mu.Lock()
	}
}

// run sends the request of f, then starts the queued one, if any. A queued
// read takes the generation current when it starts, which is at least what
// each of its callers needed.
func (c *readCoalescer) run(e *licenseReads, f *readFlight, fetch func(context.Context) (*License, error)) {
	f.lic, f.err = fetch(f.ctx)
	e.mu.Lock()
	if f.err == nil && f.gen == e.gen && (e.last == nil || f.gen >= e.lastGen) {
		e.last, e.lastGen = f.lic, f.gen
	}
	e.flight = nil
	if n := e.next; n != nil {
		n.gen = e.gen
		e.flight, e.next = n, nil
		go c.run(e, n, fetch)
	}
	e.mu.Unlock()
	close(f.done)
}
