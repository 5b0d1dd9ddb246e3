package localserver

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// The key lifecycle: create (POST /create-key, POST /key), update (PATCH
// /key, in both generations: generation 1 documents no update call, and
// KeyMint's current SDKs send PATCH /key), block and unblock (POST
// /block-key and /unblock-key, POST /key/block and /key/unblock). As on
// the hosted API, keys cannot be deleted: they are blocked.
//
// Create takes productId (required; the product must be known),
// maxActivations (a numeric string such as "5", or a number; omitted or
// null: unlimited), expiryDate (ISO 8601; omitted or null: one month from
// creation, as KeyMint documents), customerId (an existing customer) or
// newCustomer {name, email?} (created with the key; not both), format (see
// keyformat.go), metadata (an object, kept but not returned by get-key)
// and amountKeys (1-100 keys at once, answered {"code":0,"keys":[…]}).
// Unknown fields are ignored, as a web API does.
//
// A create that carries an Idempotency-Key header is remembered for a day
// (in memory, per access token): the same key with the same body is
// answered with the keys created the first time, without creating more; the
// same key with another body is refused with a 409. A client whose answer
// was lost can so repeat the create safely on this server.
//
// Update takes productId and licenseKey (required) and any of
// maxActivations (null: unlimited), expiryDate (null: never expires),
// customerId or newCustomer, and metadata (null: none); a field left out
// keeps its value. A seat limit lowered below the seats in use is
// accepted: the devices keep their seats, and no new device is activated
// until enough of them are freed.
//
// Block and unblock are idempotent: blocking a blocked key, or unblocking
// one that is not, answers the same success and changes nothing.

// Messages of the key lifecycle's answers.
const (
	messageKeyBlocked   = "Key blocked"
	messageKeyUnblocked = "Key unblocked"
	messageKeyUpdated   = "License key updated"
)

// Failures of the key lifecycle.
var (
	errProductNotFound = &apiError{http.StatusNotFound, codeRequest, "Product not found or inactive"}
	errBothCustomers   = &apiError{http.StatusBadRequest, codeRequest, "Cannot specify both customerId and newCustomer"}
	errKeySpaceFull    = &apiError{http.StatusConflict, codeState, "The key format leaves no unused key; choose a longer format"}
	errIdempotencyUsed = &apiError{http.StatusConflict, codeRequest, "Idempotency-Key was already used with another request"}
)

// customerNotFound is the answer for a customerId the server does not know.
func customerNotFound(id string) *apiError {
	return &apiError{http.StatusNotFound, codeState, fmt.Sprintf("Customer with ID %s not found", id)}
}

// customerEmailExists is the answer for a newCustomer whose e-mail address
// another customer has.
func customerEmailExists(email string) *apiError {
	return &apiError{http.StatusConflict, codeState, fmt.Sprintf("CONFLICT: Customer email %s already exists.", email)}
}

// Limits of the create and update fields.
const (
	maxAmountKeys    = 100
	maxCustomerName  = 256
	maxCustomerEmail = 256
	maxMetadataBytes = 64 << 10
	// defaultKeyLifetime: a key created without an expiryDate expires one
	// month after its creation (time.AddDate(0, 1, 0)).
	defaultKeyLifetimeMonths = 1
	// keyGenerationAttempts bounds the draws for an unused key.
	keyGenerationAttempts = 64
)

// createKeyRequest is the JSON body of a create. Raw fields tell a missing
// field from a null one and are checked by hand.
type createKeyRequest struct {
	ProductID      *string          `json:"productId"`
	MaxActivations json.RawMessage  `json:"maxActivations"`
	ExpiryDate     json.RawMessage  `json:"expiryDate"`
	CustomerID     *string          `json:"customerId"`
	NewCustomer    *newCustomerBody `json:"newCustomer"`
	Format         *formatRequest   `json:"format"`
	Metadata       json.RawMessage  `json:"metadata"`
	AmountKeys     json.RawMessage  `json:"amountKeys"`
}

// updateKeyRequest is the JSON body of PATCH /key.
type updateKeyRequest struct {
	ProductID      *string          `json:"productId"`
	LicenseKey     *string          `json:"licenseKey"`
	MaxActivations json.RawMessage  `json:"maxActivations"`
	ExpiryDate     json.RawMessage  `json:"expiryDate"`
	CustomerID     *string          `json:"customerId"`
	NewCustomer    *newCustomerBody `json:"newCustomer"`
	Metadata       json.RawMessage  `json:"metadata"`
}

// newCustomerBody is the newCustomer object of create and update.
type newCustomerBody struct {
	Name  *string `json:"name"`
	Email *string `json:"email"`
}

// customerChoice is the customer a create or update assigns: an existing
// one (ID), a new one (New), or none.
type customerChoice struct {
	ID  string
	New *Customer // ID empty until created
}

// createParams are the validated parameters of a create.
type createParams struct {
	ProductID      string
	MaxActivations *int
	Expiry         *time.Time // nil: the default
	Customer       customerChoice
	Format         keyFormat
	Metadata       map[string]any
	Amount         int
}

// updateParams are the validated parameters of an update; a nil field is
// left as it is.
type updateParams struct {
	ProductID, LicenseKey string
	MaxActivations        **int
	Expiry                **time.Time
	Customer              *customerChoice
	Metadata              *map[string]any
}

// decodeBody reads the JSON body of r into v. A field of the wrong type is
// named in the answer, never quoted.
func decodeBody(r *http.Request, v any) error {
	body, err := readBody(r)
	if err != nil {
		return err
	}
	return decodeJSON(body, v)
}

// decodeJSON decodes a request body into v, as decodeBody does.
func decodeJSON(body []byte, v any) error {
	if err := json.Unmarshal(body, v); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) && typeErr.Field != "" {
			return &apiError{http.StatusBadRequest, codeRequest, typeErr.Field + " has the wrong type"}
		}
		return errInvalidJSON
	}
	return nil
}

// present reports whether a raw field was sent (null included).
func present(raw json.RawMessage) bool { return len(raw) > 0 }

// isNull reports whether a raw field was sent as null.
func isNull(raw json.RawMessage) bool { return string(bytes.TrimSpace(raw)) == "null" }

// parseMaxActivations reads a seat limit: a whole number of at least 1, as
// a JSON number or a string of digits; null is unlimited (nil).
func parseMaxActivations(raw json.RawMessage) (*int, error) {
	bad := &apiError{http.StatusBadRequest, codeRequest, "maxActivations must be a whole number of at least 1 (such as \"5\"), or null for unlimited"}
	if isNull(raw) {
		return nil, nil
	}
	text := string(bytes.TrimSpace(raw))
	if strings.HasPrefix(text, `"`) {
		if json.Unmarshal(raw, &text) != nil {
			return nil, bad
		}
	}
	for _, c := range text {
		if c < '0' || c > '9' {
			return nil, bad
		}
	}
	n, err := strconv.Atoi(text)
	if err != nil || n < 1 {
		return nil, bad
	}
	return &n, nil
}

// parseExpiry reads an ISO 8601 date-time (RFC 3339) or date; null is nil.
func parseExpiry(raw json.RawMessage) (*time.Time, error) {
	bad := &apiError{http.StatusBadRequest, codeRequest, "expiryDate must be an ISO 8601 date-time such as 2030-12-31T23:59:59Z, or null"}
	if isNull(raw) {
		return nil, nil
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return nil, bad
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return new(t.UTC()), nil
		}
	}
	return nil, bad
}

// parseMetadata reads a metadata object; null is an empty one.
func parseMetadata(raw json.RawMessage) (map[string]any, error) {
	if isNull(raw) {
		return nil, nil
	}
	if len(raw) > maxMetadataBytes {
		return nil, &apiError{http.StatusBadRequest, codeRequest, fmt.Sprintf("metadata must be at most %d bytes", maxMetadataBytes)}
	}
	var m map[string]any
	if bytes.TrimSpace(raw)[0] != '{' || json.Unmarshal(raw, &m) != nil {
		return nil, &apiError{http.StatusBadRequest, codeRequest, "metadata must be an object"}
	}
	return m, nil
}

// customer validates the customerId and newCustomer fields; ok is false
// when neither was sent.
func customerOf(id *string, nc *newCustomerBody) (c customerChoice, ok bool, err error) {
	switch {
	case id != nil && nc != nil:
		return c, false, errBothCustomers
	case id != nil:
		if *id == "" || len(*id) > 256 {
			return c, false, &apiError{http.StatusBadRequest, codeRequest, "customerId must be 1-256 characters"}
		}
		return customerChoice{ID: *id}, true, nil
	case nc != nil:
		if nc.Name == nil || strings.TrimSpace(*nc.Name) == "" {
			return c, false, &apiError{http.StatusBadRequest, codeRequest, "newCustomer.name is required"}
		}
		if len(*nc.Name) > maxCustomerName {
			return c, false, &apiError{http.StatusBadRequest, codeRequest, fmt.Sprintf("newCustomer.name must be at most %d characters", maxCustomerName)}
		}
		cust := &Customer{Name: *nc.Name, Active: true}
		if nc.Email != nil {
			e := strings.TrimSpace(*nc.Email)
			if e != "" && (len(e) > maxCustomerEmail || !strings.Contains(e, "@")) {
				return c, false, &apiError{http.StatusBadRequest, codeRequest, "newCustomer.email must be an e-mail address"}
			}
			cust.Email = e
		}
		return customerChoice{New: cust}, true, nil
	}
	return c, false, nil
}

// createParamsOf validates a create request.
func createParamsOf(q createKeyRequest) (createParams, error) {
	var p createParams
	if q.ProductID == nil || *q.ProductID == "" {
		return p, errMissingParams
	}
	if err := productIDField.check(*q.ProductID); err != nil {
		return p, err
	}
	p.ProductID = *q.ProductID
	var err error
	if present(q.MaxActivations) {
		if p.MaxActivations, err = parseMaxActivations(q.MaxActivations); err != nil {
			return p, err
		}
	}
	if present(q.ExpiryDate) {
		if p.Expiry, err = parseExpiry(q.ExpiryDate); err != nil {
			return p, err
		}
	}
	if p.Customer, _, err = customerOf(q.CustomerID, q.NewCustomer); err != nil {
		return p, err
	}
	if p.Format, err = q.Format.keyFormat(); err != nil {
		return p, err
	}
	if present(q.Metadata) {
		if p.Metadata, err = parseMetadata(q.Metadata); err != nil {
			return p, err
		}
	}
	p.Amount = 1
	if present(q.AmountKeys) && !isNull(q.AmountKeys) {
		n, err := strconv.Atoi(string(bytes.TrimSpace(q.AmountKeys)))
		if err != nil || n < 1 || n > maxAmountKeys {
			return p, &apiError{http.StatusBadRequest, codeRequest, fmt.Sprintf("amountKeys must be a whole number from 1 to %d", maxAmountKeys)}
		}
		p.Amount = n
	}
	return p, nil
}

// updateParamsOf validates an update request.
func updateParamsOf(q updateKeyRequest) (updateParams, error) {
	var p updateParams
	kp, err := keyRequest{ProductID: q.ProductID, LicenseKey: q.LicenseKey}.params(getKeyFields)
	if err != nil {
		return p, err
	}
	p.ProductID, p.LicenseKey = kp.ProductID, kp.LicenseKey
	if present(q.MaxActivations) {
		limit, err := parseMaxActivations(q.MaxActivations)
		if err != nil {
			return p, err
		}
		p.MaxActivations = &limit
	}
	if present(q.ExpiryDate) {
		expiry, err := parseExpiry(q.ExpiryDate)
		if err != nil {
			return p, err
		}
		p.Expiry = &expiry
	}
	c, ok, err := customerOf(q.CustomerID, q.NewCustomer)
	if err != nil {
		return p, err
	}
	if ok {
		p.Customer = &c
	}
	if present(q.Metadata) {
		m, err := parseMetadata(q.Metadata)
		if err != nil {
			return p, err
		}
		p.Metadata = &m
	}
	return p, nil
}

// resolveCustomer returns the customer c names, creating a new one. The
// caller holds s.mu and commits the change; created tells that a customer
// was added.
func (s *Server) resolveCustomer(c customerChoice) (cust *Customer, err error) {
	switch {
	case c.ID != "":
		known, ok := s.customers[c.ID]
		if !ok {
			return nil, customerNotFound(c.ID)
		}
		return new(known), nil
	case c.New != nil:
		if c.New.Email != "" {
			for _, known := range s.customers {
				if strings.EqualFold(known.Email, c.New.Email) {
					return nil, customerEmailExists(c.New.Email)
				}
			}
		}
		cust := *c.New
		cust.ID = newCustomerID()
		s.customers[cust.ID] = cust
		return &cust, nil
	}
	return nil, nil
}

// newCustomerID returns a random customer ID in the shape of KeyMint's IDs
// (22 hex digits).
func newCustomerID() string {
	var b [11]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand)
	return hex.EncodeToString(b[:])
}

// createKeys creates p.Amount keys and returns them.
func (s *Server) createKeys(p createParams) ([]string, error) {
	now := s.now()
	var keys []string
	err := s.update(func() (bool, error) {
		if !s.products[p.ProductID] {
			return false, errProductNotFound
		}
		// Draw every key first: nothing changes unless all can be made.
		taken := map[string]bool{}
		for range p.Amount {
			key, ok := "", false
			for range keyGenerationAttempts {
				key = p.Format.generate()
				if s.licenses[key] == nil && !taken[key] {
					ok = true
					break
				}
			}
			if !ok {
				return false, errKeySpaceFull
			}
			taken[key] = true
			keys = append(keys, key)
		}
		cust, err := s.resolveCustomer(p.Customer)
		if err != nil {
			return false, err
		}
		expiry := p.Expiry
		if expiry == nil {
			expiry = new(now.UTC().AddDate(0, defaultKeyLifetimeMonths, 0).Truncate(activationTimePrecision))
		}
		for _, key := range keys {
			l := LicenseSeed{Key: key, MaxActivations: p.MaxActivations, ExpirationDate: expiry, Customer: cust, Metadata: p.Metadata}
			if err := s.insertLicense(p.ProductID, l, nil); err != nil {
				return false, err
			}
		}
		return true, nil
	})
	if err != nil {
		return nil, err
	}
	return keys, nil
}

// updateKey applies p to a license key.
func (s *Server) updateKey(p updateParams) error {
	return s.update(func() (bool, error) {
		l, err := s.lookup(p.ProductID, p.LicenseKey)
		if err != nil {
			return false, err
		}
		var cust *Customer
		if p.Customer != nil {
			if cust, err = s.resolveCustomer(*p.Customer); err != nil {
				return false, err
			}
		}
		if p.MaxActivations != nil {
			l.MaxActivations = clonePtr(*p.MaxActivations)
		}
		if p.Expiry != nil {
			l.ExpirationDate = clonePtr(*p.Expiry)
		}
		if p.Customer != nil {
			l.Customer = cust
		}
		if p.Metadata != nil {
			l.Metadata = maps.Clone(*p.Metadata)
		}
		return true, nil
	})
}

// setBlocked blocks or unblocks a license key; doing it twice changes
// nothing and succeeds.
func (s *Server) setBlocked(p keyParams, blocked bool) error {
	return s.update(func() (bool, error) {
		l, err := s.lookup(p.ProductID, p.LicenseKey)
		if err != nil {
			return false, err
		}
		if l.Blocked == blocked {
			return false, nil
		}
		l.Blocked = blocked
		return true, nil
	})
}

// The answers of the key lifecycle, alike in both generations.

// createKeyAnswer answers a create of one key.
type createKeyAnswer struct {
	Code int    `json:"code"`
	Key  string `json:"key"`
}

// createKeysAnswer answers a create of several keys (amountKeys).
type createKeysAnswer struct {
	Code int      `json:"code"`
	Keys []string `json:"keys"`
}

// updateKeyAnswer answers PATCH /key.
type updateKeyAnswer struct {
	Code          int    `json:"code"`
	Message       string `json:"message"`
	AffectedCount int    `json:"affectedCount"`
}

// createKey answers a create in either generation.
func (s *Server) createKey(r *http.Request) (any, error) {
	body, err := readBody(r)
	if err != nil {
		return nil, err
	}
	return s.idempotent(r, body, func() (any, error) {
		var q createKeyRequest
		if err := decodeJSON(body, &q); err != nil {
			return nil, err
		}
		p, err := createParamsOf(q)
		if err != nil {
			return nil, err
		}
		keys, err := s.createKeys(p)
		if err != nil {
			return nil, err
		}
		if present(q.AmountKeys) && !isNull(q.AmountKeys) {
			return createKeysAnswer{Code: 0, Keys: keys}, nil
		}
		return createKeyAnswer{Code: 0, Key: keys[0]}, nil
	})
}

// updateKeyHandler answers PATCH /key.
func (s *Server) updateKeyHandler(r *http.Request) (any, error) {
	var q updateKeyRequest
	if err := decodeBody(r, &q); err != nil {
		return nil, err
	}
	p, err := updateParamsOf(q)
	if err != nil {
		return nil, err
	}
	if err := s.updateKey(p); err != nil {
		return nil, err
	}
	return updateKeyAnswer{Code: 0, Message: messageKeyUpdated, AffectedCount: 1}, nil
}

// blockKey answers POST /block-key and /key/block.
func (s *Server) blockKey(r *http.Request) (any, error) {
	return s.blockOrUnblock(r, true)
}

// unblockKey answers POST /unblock-key and /key/unblock.
func (s *Server) unblockKey(r *http.Request) (any, error) {
	return s.blockOrUnblock(r, false)
}

func (s *Server) blockOrUnblock(r *http.Request, blocked bool) (any, error) {
	p, err := decodeKeyParams(r, getKeyFields)
	if err != nil {
		return nil, err
	}
	if err := s.setBlocked(p, blocked); err != nil {
		return nil, err
	}
	message := messageKeyUnblocked
	if blocked {
		message = messageKeyBlocked
	}
	return messageBody{Message: message, Code: 0}, nil
}
