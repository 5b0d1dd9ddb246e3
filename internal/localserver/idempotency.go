package localserver

import (
	"crypto/sha256"
	"net/http"
	"sync"
	"time"
)

// Idempotency keys. Newer KeyMint servers accept an Idempotency-Key header
// on mutating calls. Of the calls this server answers, only create is not
// idempotent by itself (a repeated activation, deactivation, update, block
// or unblock ends in the same state), so only create remembers them: a
// successful create's answer is kept for idempotencyTTL under the access
// token and the header's value, and a repeat with the same body gets the
// same answer without creating anything. A repeat with another body is
// refused (errIdempotencyUsed). Failures are not kept: a repeat runs again.
// The memory is not written to the state file.

// idempotencyTTL is how long a create's answer is kept.
const idempotencyTTL = 24 * time.Hour

// maxIdempotencyEntries bounds the answers kept; the oldest go first.
const maxIdempotencyEntries = 10000

// idempotencyHeader is the request header that names a repeatable request.
const idempotencyHeader = "Idempotency-Key"

// maxIdempotencyKey bounds the length of the header's value.
const maxIdempotencyKey = 255

// idempotencyEntry is a remembered answer.
type idempotencyEntry struct {
	body   [sha256.Size]byte // of the request
	answer any
	at     time.Time
}

// idempotencyStore remembers the answers of creates. Its mutex is held
// during a create with an Idempotency-Key, so that two concurrent repeats
// create one key.
type idempotencyStore struct {
	mu      sync.Mutex
	entries map[string]idempotencyEntry // by token and key
}

// idempotent runs create, or answers what an earlier run with the same
// Idempotency-Key and body answered.
func (s *Server) idempotent(r *http.Request, body []byte, create func() (any, error)) (any, error) {
	key := r.Header.Get(idempotencyHeader)
	if key == "" || len(key) > maxIdempotencyKey {
		return create()
	}
	id := bearerToken(r) + "\x00" + r.URL.Path + "\x00" + key
	sum := sha256.Sum256(body)
	st := &s.idempotency
	st.mu.Lock()
	defer st.mu.Unlock()
	now := s.now()
	if e, ok := st.entries[id]; ok && now.Sub(e.at) < idempotencyTTL {
		if e.body != sum {
			return nil, errIdempotencyUsed
		}
		return e.answer, nil
	}
	answer, err := create()
	if err != nil {
		return nil, err
	}
	if st.entries == nil {
		st.entries = map[string]idempotencyEntry{}
	}
	st.prune(now)
	st.entries[id] = idempotencyEntry{body: sum, answer: answer, at: now}
	return answer, nil
}

// prune drops expired entries and, when the store is full, the oldest.
// The caller holds st.mu.
func (st *idempotencyStore) prune(now time.Time) {
	if len(st.entries) < maxIdempotencyEntries {
		return
	}
	oldestID, oldest := "", now
	for id, e := range st.entries {
		if now.Sub(e.at) >= idempotencyTTL {
			delete(st.entries, id)
			continue
		}
		if !e.at.After(oldest) {
			oldestID, oldest = id, e.at
		}
	}
	if len(st.entries) >= maxIdempotencyEntries {
		delete(st.entries, oldestID)
	}
}
