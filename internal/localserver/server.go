// Package localserver is an in-memory, KeyMint-compatible licensing API for
// tests, demos and users' CI. On one port it answers the generation-1
// paths (/activate-key, /deactivate-key, /get-key, /create-key,
// /block-key, /unblock-key) in snake_case and the generation-2 paths
// (/key/activate, /key/deactivate, GET and POST /key, /key/block,
// /key/unblock) in camelCase, like the real service, or only one
// generation (Options.API); PATCH /key, the update of a key, in both (see
// keys.go). Local aids under /_local/ serve people debugging their CI:
// seats, licenses, call counters, fault injection and the rate limit.
//
// It behaves like the hosted API where a client can tell:
//
//   - Access tokens carry scopes (Seed.Tokens; Seed.AccessTokens have
//     every scope). get-key needs ScopeLicensesRead, activate and
//     deactivate need ScopeLicensesActivate, create and update need
//     ScopeLicensesWrite, block and unblock need ScopeLicensesBlock;
//     without it a call is answered 403 {"message":"Insufficient permissions for this
//     operation","code":1}.
//   - Each token may send RateLimit.Requests API requests in any interval
//     of RateLimit.Window (a strict sliding window); the next are answered
//     429 {"message":"Request failed","code":1,"error":{"code":
//     "RATE_LIMIT_EXCEEDED",...}} with a Retry-After. Requests refused for
//     their scopes count; unauthenticated ones, those to unknown paths and
//     those to /_local/ do not.
//   - Paths it does not serve, and methods a path does not take, are
//     answered as the web framework in front of the hosted API answers
//     them, not as KeyMint does: 404 {"message":"Cannot POST /path",
//     "error":"Not Found","statusCode":404} (405 "Method Not Allowed" with
//     an Allow header), without KeyMint's numeric "code". They are counted
//     in Calls.
//   - License keys may have 1 to 256 characters, as custom key formats
//     produce; product IDs 22 to 256.
//
// A state file (Options.StateFile) keeps the state across restarts; every
// change is written to it before it is acknowledged. One server at a time
// may have it open: New locks it, through an OS lock on the lock file
// FILE.lock beside it (flock on Linux, macOS, the BSDs and illumos, a
// handle no other may write on Windows; elsewhere the lock file is written
// but not enforced), and records its PID, host and start time there. A
// second server on the same file fails with a *StateLockedError naming the
// first, instead of the two silently overwriting each other's changes.
// Close releases the lock; so does the end of the process, so a server
// that crashed blocks nobody.
//
// The core state logic (core.go) returns Go values and typed errors; the
// wire encoding of each path set lives in thin handlers (gen1.go, gen2.go),
// which share the store and the port. Fault injection (faults.go) and the
// rate limit (ratelimit.go) let tests prove that a client loses nothing
// when the service fails.
package localserver

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/keymint-dev/terraform-provider-keymint/internal/keymint"
)

// Options configure a Server.
type Options struct {
	// Seed is the initial content of the server.
	Seed Seed
	// StateFile, if not empty, makes the state durable. If the file exists,
	// New loads it and its licenses win over the seed's (the seed still adds
	// the tokens, products and licenses the file does not have, and the
	// seed's scopes of a token win over the file's); if it does not exist,
	// New creates it from the seed. Every mutation is written to it
	// atomically before it is acknowledged.
	//
	// The server locks the file until Close, through the lock file
	// StateFile+".lock" beside it: New fails with a *StateLockedError
	// while another server, in this process or another, has it open.
	StateFile string
	// Now is the clock used for activation times and expiration checks;
	// nil means time.Now.
	Now func() time.Time
	// ErrorLog receives failures that a client only sees as a 500 (such as
	// a state file that cannot be written); nil means the log package's
	// standard logger.
	ErrorLog *log.Logger
	// Faults is the initial fault injection (see SetFaults); the zero
	// value injects none.
	Faults FaultConfig
	// RateLimit is the initial rate limit per access token (see
	// SetRateLimit); the zero value means none.
	RateLimit RateLimit
	// API is the generation of paths the server answers: APIv1, APIv2 or
	// APIBoth; "" means APIBoth. The paths of a generation not served
	// answer like any unknown path: 404 from the web front end, not from
	// KeyMint.
	API string
}

// The values of Options.API.
const (
	APIBoth = "both"        // generation 1 and generation 2 on one port
	APIv1   = keymint.APIv1 // POST /activate-key, /deactivate-key, /get-key, /create-key, /block-key, /unblock-key; PATCH /key
	APIv2   = keymint.APIv2 // POST /key/activate, /key/deactivate, /key, /key/block, /key/unblock; GET and PATCH /key
)

// Server is an in-memory KeyMint licensing API. It is safe for concurrent
// use.
type Server struct {
	now       func() time.Time
	statePath string
	errorLog  *log.Logger
	routes    map[string]map[string]endpoint

	mu        sync.Mutex
	tokens    map[string]scopeSet // the scopes of each access token; never 0
	products  map[string]bool
	licenses  map[string]*license // by key; keys are unique across products
	customers map[string]Customer // by ID: those of the licenses, and those created through the API
	version   uint64              // incremented by every mutation

	idempotency idempotencyStore // the answers of creates with an Idempotency-Key

	writeMu sync.Mutex // serializes state file writes, and Close
	written uint64     // version of the state on disk
	lock    *stateLock // the lock on the state file; nil without one, or once closed
	closed  bool       // Close was called

	callsMu sync.Mutex
	calls   map[string]int
	agents  map[string]int // User-Agent header => API requests
	methods map[string]int // "METHOD /path" => API requests

	faults  faultInjector
	limiter rateLimiter
}

// Device is a device (host) holding a seat of a license key.
type Device struct {
	HostID         string    `json:"host_id"`
	DeviceTag      string    `json:"device_tag,omitempty"` // "" = no tag
	IPAddress      string    `json:"ip_address"`
	ActivationTime time.Time `json:"activation_time"`
}

// license is the state of one license key.
type license struct {
	LicenseSeed
	productID string
	devices   []Device // in activation order
}

// New returns a Server holding opts.Seed, merged with the state file if
// one is configured. A server with a state file holds its lock until
// Close.
func New(opts Options) (*Server, error) {
	s := &Server{
		now:       opts.Now,
		statePath: opts.StateFile,
		errorLog:  opts.ErrorLog,
		tokens:    map[string]scopeSet{},
		products:  map[string]bool{},
		licenses:  map[string]*license{},
		customers: map[string]Customer{},
		calls:     map[string]int{},
		agents:    map[string]int{},
		methods:   map[string]int{},
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.errorLog == nil {
		s.errorLog = log.Default()
	}
	switch opts.API {
	case "", APIBoth, APIv1, APIv2:
	default:
		return nil, fmt.Errorf("localserver: API %q: want %q, %q or %q", opts.API, APIv1, APIv2, APIBoth)
	}
	s.routes = s.routeTable(opts.API)
	if err := s.SetFaults(opts.Faults); err != nil {
		return nil, err
	}
	if err := s.SetRateLimit(opts.RateLimit); err != nil {
		return nil, err
	}
	if s.statePath != "" {
		lock, err := lockState(s.statePath)
		if err != nil {
			return nil, err
		}
		s.lock = lock
	}
	if err := s.load(opts.Seed); err != nil {
		if cerr := s.Close(); cerr != nil {
			err = errors.Join(err, cerr)
		}
		return nil, err
	}
	return s, nil
}

// load fills a new server from its state file, if any, and the seed, and
// writes the result to the state file.
func (s *Server) load(seed Seed) error {
	restored := map[string]bool{}
	if s.statePath != "" {
		st, err := readStateFile(s.statePath)
		switch {
		case err == nil:
			if restored, err = s.restore(st); err != nil {
				return err
			}
		case !errors.Is(err, fs.ErrNotExist):
			return err
		}
	}
	if err := s.addSeed(seed, restored); err != nil {
		return err
	}
	s.version = 1
	return s.persist(s.version)
}

// errClosed is the error of a change to a closed server's state, which it
// no longer writes: another server may own the state file by now.
var errClosed = errors.New("localserver: the server is closed; its state file is no longer written")

// Close releases the lock on the state file, and removes the lock file.
// Shut down the HTTP server serving Handler first: after Close, a change
// that would be written to the state file fails (an API call that makes
// one is answered 500), since another server may own the file by then.
// Without a state file, Close does nothing. It may be called more than
// once; only the first call does anything.
func (s *Server) Close() error {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	if s.lock == nil {
		return nil
	}
	err := s.lock.release()
	s.lock = nil
	return err
}

// addSeed adds the seed's tokens, products and licenses. A token the
// server has already gets the seed's scopes. A license whose key is in
// skip and that belongs to the same product is left as it is.
func (s *Server) addSeed(seed Seed, skip map[string]bool) error {
	tokens := map[string]scopeSet{}
	for _, t := range seed.AccessTokens {
		if t == "" {
			return errors.New("localserver: empty access token in seed")
		}
		tokens[t] = allScopes
	}
	for i, t := range seed.Tokens {
		if t.Token == "" {
			return fmt.Errorf("localserver: seed tokens[%d]: empty token", i)
		}
		scopes, err := parseScopes(t.Scopes)
		if err != nil {
			return fmt.Errorf("localserver: seed tokens[%d]: %w", i, err)
		}
		tokens[t.Token] |= scopes
	}
	maps.Copy(s.tokens, tokens)
	for _, p := range seed.Products {
		if err := s.addProduct(p.ID); err != nil {
			return err
		}
		for _, l := range p.Licenses {
			if old := s.licenses[l.Key]; skip[l.Key] && old.productID == p.ID {
				continue
			}
			if err := s.insertLicense(p.ID, l, nil); err != nil {
				return err
			}
		}
	}
	return nil
}

// addProduct records a product; its ID must be reachable through the API.
// The caller holds s.mu (or owns s exclusively).
func (s *Server) addProduct(id string) error {
	if err := productIDField.check(id); err != nil {
		return fmt.Errorf("localserver: product %q: %w", id, err)
	}
	s.products[id] = true
	return nil
}

// insertLicense adds a license key to a product, creating the product if
// needed. The key must be new and reachable through the API. The caller
// holds s.mu (or owns s exclusively).
func (s *Server) insertLicense(productID string, l LicenseSeed, devices []Device) error {
	if err := s.addProduct(productID); err != nil {
		return err
	}
	fail := func(err error) error { return adminError("add license", productID, l.Key, err) }
	if err := licenseKeyField.check(l.Key); err != nil {
		return fail(err)
	}
	if l.MaxActivations != nil && *l.MaxActivations < 0 {
		return fail(errNegativeLimit)
	}
	if _, ok := s.licenses[l.Key]; ok {
		return fail(errKeyExists)
	}
	s.licenses[l.Key] = &license{LicenseSeed: cloneLicenseSeed(l), productID: productID, devices: slices.Clone(devices)}
	if c := l.Customer; c != nil && c.ID != "" {
		s.customers[c.ID] = *c
	}
	return nil
}

// lookup finds the license key of a product. The caller holds s.mu.
func (s *Server) lookup(productID, key string) (*license, error) {
	l := s.licenses[key]
	if l == nil || l.productID != productID {
		return nil, errInvalidKey
	}
	return l, nil
}

// sortedLicensesLocked returns all licenses sorted by product and key. The
// caller holds s.mu.
func (s *Server) sortedLicensesLocked() []*license {
	ls := make([]*license, 0, len(s.licenses))
	for _, l := range s.licenses {
		ls = append(ls, l)
	}
	slices.SortFunc(ls, func(a, b *license) int {
		if c := strings.Compare(a.productID, b.productID); c != 0 {
			return c
		}
		return strings.Compare(a.Key, b.Key)
	})
	return ls
}

// update runs fn with s.mu held. If fn reports a change, the new state is
// written to the state file before update returns, so a caller that
// acknowledges the change afterwards never acknowledges lost state.
func (s *Server) update(fn func() (changed bool, err error)) error {
	s.mu.Lock()
	changed, err := fn()
	if changed {
		s.version++
	}
	version := s.version
	s.mu.Unlock()
	if err != nil || !changed {
		return err
	}
	return s.persist(version)
}

// persist makes sure that a state at least as new as version is on disk.
// Writers are serialized, and each writes the newest state, so an older
// state never overwrites a newer one and concurrent mutations share writes.
func (s *Server) persist(version uint64) error {
	if s.statePath == "" {
		return nil
	}
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	if version <= s.written {
		return nil
	}
	if s.closed {
		return errClosed
	}
	s.mu.Lock()
	latest := s.version
	data, err := encodeState(s.snapshotLocked())
	s.mu.Unlock()
	if err == nil {
		err = writeStateFile(s.statePath, data)
	}
	if err != nil {
		return err
	}
	s.written = latest
	return nil
}

// id is the license's stable short ID, derived from product and key
// without revealing the key.
func (l *license) id() string {
	sum := sha256.Sum256([]byte(l.productID + "\x00" + l.Key))
	return "lic_" + hex.EncodeToString(sum[:8])
}

// deviceIndex returns the index of hostID among the devices, or -1.
func (l *license) deviceIndex(hostID string) int {
	return slices.IndexFunc(l.devices, func(d Device) bool { return d.HostID == hostID })
}

// full reports whether every seat of the license is taken.
func (l *license) full() bool {
	return l.MaxActivations != nil && len(l.devices) >= *l.MaxActivations
}

// usable returns why the license cannot be activated at time now, or nil.
func (l *license) usable(now time.Time) error {
	switch {
	case l.Blocked:
		return errBlocked
	case l.ExpirationDate != nil && !now.Before(*l.ExpirationDate):
		return errExpired
	case l.Customer != nil && !l.Customer.Active:
		return errCustomerInactive
	}
	return nil
}

// cloneLicenseSeed returns a deep copy of l.
func cloneLicenseSeed(l LicenseSeed) LicenseSeed {
	l.MaxActivations = clonePtr(l.MaxActivations)
	l.ExpirationDate = clonePtr(l.ExpirationDate)
	l.Customer = clonePtr(l.Customer)
	l.Metadata = maps.Clone(l.Metadata)
	return l
}

func clonePtr[T any](p *T) *T {
	if p == nil {
		return nil
	}
	return new(*p)
}
