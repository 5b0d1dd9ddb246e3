package localserver

import (
	"maps"
	"time"
)

// The admin helpers below change or inspect the state directly, without
// HTTP and without authentication. They are meant for tests. Mutations are
// written to the state file like those made through the API, and errors
// show license keys masked.

// AddToken makes token a valid access token with every scope. An empty
// token is ignored. A failure to write the state file is logged to
// Options.ErrorLog.
func (s *Server) AddToken(token string) {
	if token == "" {
		return
	}
	err := s.update(func() (bool, error) {
		if s.tokens[token] == allScopes {
			return false, nil
		}
		s.tokens[token] = allScopes
		return true, nil
	})
	if err != nil {
		s.errorLog.Printf("localserver: add token: %v", err)
	}
}

// AddLicense adds a license key to a product, creating the product if
// needed. It fails if the key exists already (in any product) or if the
// product ID or key is not of a length the API accepts.
func (s *Server) AddLicense(productID string, l LicenseSeed) error {
	return s.update(func() (bool, error) {
		err := s.insertLicense(productID, l, nil)
		return err == nil, err
	})
}

// AddProduct adds a product without licenses, for which keys can be
// created through the API. Adding a product that exists changes nothing.
func (s *Server) AddProduct(productID string) error {
	return s.update(func() (bool, error) {
		if s.products[productID] {
			return false, nil
		}
		return true, s.addProduct(productID)
	})
}

// Keys returns the license keys of a product, sorted, in full: for tests
// that need a key the API created and did not answer (a lost answer).
func (s *Server) Keys(productID string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	keys := []string{}
	for _, l := range s.sortedLicensesLocked() {
		if l.productID == productID {
			keys = append(keys, l.Key)
		}
	}
	return keys
}

// SetBlocked blocks or unblocks a license key.
func (s *Server) SetBlocked(productID, key string, blocked bool) error {
	return s.modify("set blocked", productID, key, func(l *license) { l.Blocked = blocked })
}

// SetExpiration changes the expiration date of a license key; nil means
// it never expires.
func (s *Server) SetExpiration(productID, key string, expiry *time.Time) error {
	return s.modify("set expiration", productID, key, func(l *license) { l.ExpirationDate = clonePtr(expiry) })
}

// SetMaxActivations changes the seat limit of a license key; nil means
// unlimited. Devices above a lowered limit keep their seats.
func (s *Server) SetMaxActivations(productID, key string, limit *int) error {
	if limit != nil && *limit < 0 {
		return adminError("set max activations", productID, key, errNegativeLimit)
	}
	return s.modify("set max activations", productID, key, func(l *license) { l.MaxActivations = clonePtr(limit) })
}

// modify applies change to a license key and saves the state.
func (s *Server) modify(op, productID, key string, change func(*license)) error {
	err := s.update(func() (bool, error) {
		l, err := s.lookup(productID, key)
		if err != nil {
			return false, err
		}
		change(l)
		return true, nil
	})
	return adminError(op, productID, key, err)
}

// Devices returns the devices holding seats of a license key, in
// activation order.
func (s *Server) Devices(productID, key string) ([]Device, error) {
	v, err := s.license(productID, key)
	return v.Devices, adminError("devices", productID, key, err)
}

// ActivateDevice activates a device out of band, with the same checks as
// POST /activate-key (field lengths, blocked, expired, seat limit, ...).
// An empty tag means no device tag.
func (s *Server) ActivateDevice(productID, key, hostID, tag, ip string) error {
	q := keyRequest{ProductID: &productID, LicenseKey: &key, HostID: &hostID, DeviceTag: optionalString(tag)}
	p, err := q.params(activateFields)
	if err == nil {
		_, err = s.activate(p, ip)
	}
	return adminError("activate device", productID, key, err)
}

// DeactivateDevice frees the seat of one device out of band, with the same
// checks as POST /deactivate-key.
func (s *Server) DeactivateDevice(productID, key, hostID string) error {
	q := keyRequest{ProductID: &productID, LicenseKey: &key, HostID: &hostID}
	p, err := q.params(deactivateFields)
	if err == nil {
		_, err = s.deactivate(p)
	}
	return adminError("deactivate device", productID, key, err)
}

// RemoveLicense deletes a license key and the seats it holds, as when the
// key is deleted in KeyMint. Its product stays.
func (s *Server) RemoveLicense(productID, key string) error {
	err := s.update(func() (bool, error) {
		if _, err := s.lookup(productID, key); err != nil {
			return false, err
		}
		delete(s.licenses, key)
		return true, nil
	})
	return adminError("remove license", productID, key, err)
}

// Calls returns how many API requests each URL path received, rejected
// ones and unknown paths included. Requests to /_local/ paths are not
// counted.
func (s *Server) Calls() map[string]int {
	return s.callCounts().ByPath
}

// TotalCalls returns how many API requests the server received.
func (s *Server) TotalCalls() int {
	return s.callCounts().Total
}

// MethodCalls returns how many API requests each method and path received,
// counted as Calls counts them, under "METHOD /path" (for example "PATCH
// /key"): for paths that several methods share.
func (s *Server) MethodCalls() map[string]int {
	s.callsMu.Lock()
	defer s.callsMu.Unlock()
	return maps.Clone(s.methods)
}

// UserAgents returns how many API requests came with each User-Agent
// header, counted as Calls counts them.
func (s *Server) UserAgents() map[string]int {
	s.callsMu.Lock()
	defer s.callsMu.Unlock()
	return maps.Clone(s.agents)
}

// ResetCalls sets all request counters to zero: those of Calls, UserAgents
// and FaultStats.
func (s *Server) ResetCalls() {
	s.callsMu.Lock()
	clear(s.calls)
	clear(s.agents)
	clear(s.methods)
	s.callsMu.Unlock()
	s.faults.resetStats()
}

// callCounts are the request counters, as GET /_local/calls answers them.
type callCounts struct {
	Total  int            `json:"total"`
	ByPath map[string]int `json:"by_path"`
}

// callCounts returns a copy of the request counters.
func (s *Server) callCounts() callCounts {
	s.callsMu.Lock()
	defer s.callsMu.Unlock()
	c := callCounts{ByPath: maps.Clone(s.calls)}
	for _, n := range s.calls {
		c.Total += n
	}
	return c
}

// countCall counts an API request, by path, by method and path, and by
// User-Agent.
func (s *Server) countCall(method, path, userAgent string) {
	s.callsMu.Lock()
	defer s.callsMu.Unlock()
	s.calls[path]++
	s.methods[method+" "+path]++
	s.agents[userAgent]++
}

// Metadata returns the metadata a license key was created or updated with
// through the API (get-key does not return it); nil when it has none.
func (s *Server) Metadata(productID, key string) (map[string]any, error) {
	v, err := s.license(productID, key)
	return v.Metadata, adminError("metadata", productID, key, err)
}
