package keymint

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// The key lifecycle: create, update, block and unblock a license key.
//
//	call        generation 1          generation 2      scope
//	create-key  POST /create-key      POST /key         licenses:write
//	update-key  PATCH /key            PATCH /key        licenses:write
//	block-key   POST /block-key       POST /key/block   licenses:block
//	unblock-key POST /unblock-key     POST /key/unblock licenses:block
//
// Generation 1 documents no update call; KeyMint's current SDKs send PATCH
// /key, so every API version uses it.
//
// Why retrying is safe, or not, call by call (see also retry.go):
//   - update sets values, so repeating it ends in the same state;
//   - block and unblock are idempotent: blocking a blocked key changes
//     nothing;
//   - create is not: each create that reaches the server makes a key. Its
//     attempts carry one Idempotency-Key, which newer servers use to answer
//     a repeat with the key made the first time, but nothing says that a
//     given server does. So a create is sent again only when the earlier
//     attempt certainly did not reach the server: a rate-limit answer (429),
//     an answer from something that does not know the path (with APIAuto,
//     the other generation's path is tried), or a connection that could not
//     be opened. After a failure in transit, a 5xx or a cut-off answer the
//     key may or may not exist, and CreateKey returns that error (see
//     IsCreateOutcomeUnknown) instead of risking a second key nobody knows.
//     Callers that must find such a key again put a token of their own in
//     its metadata, which KeyMint's dashboard shows.

// Token scopes of the key lifecycle's calls.
const (
	ScopeLicensesWrite = "licenses:write"
	ScopeLicensesBlock = "licenses:block"
)

// Operation names of the key lifecycle's calls, as in Error.Operation.
const (
	OpCreateKey  = "create-key"
	OpUpdateKey  = "update-key"
	OpBlockKey   = "block-key"
	OpUnblockKey = "unblock-key"
)

// keyPaths are the paths of the create, block and unblock calls of one API
// generation; updatePath serves every generation.
type keyPaths struct {
	create, block, unblock string
}

var keyPathsByVersion = map[string]keyPaths{
	APIv1: {create: PathCreateKeyV1, block: PathBlockKeyV1, unblock: PathUnblockKeyV1},
	APIv2: {create: PathCreateKeyV2, block: PathBlockKeyV2, unblock: PathUnblockKeyV2},
}

const updatePath = PathUpdateKey

// NewCustomer is a customer that a create or update makes along with the
// key.
type NewCustomer struct {
	Name  string `json:"name"`
	Email string `json:"email,omitempty"` // optional
}

// KeyFormat is the format of a key to create; zero fields take KeyMint's
// defaults.
type KeyFormat struct {
	Sections      int64   `json:"sections,omitempty"`      // 1-10
	SectionLength int64   `json:"sectionLength,omitempty"` // 1-32
	Separator     *string `json:"separator,omitempty"`     // up to 3 characters; "" for none
	Charset       string  `json:"charset,omitempty"`
	Prefix        string  `json:"prefix,omitempty"` // up to 16 characters
	Suffix        string  `json:"suffix,omitempty"` // up to 16 characters
	Case          string  `json:"case,omitempty"`   // upper, lower or mixed
}

// CreateKeyInput describes a key to create.
type CreateKeyInput struct {
	ProductID string
	// MaxActivations is the seat limit; nil means unlimited.
	MaxActivations *int64
	// ExpiryDate is the expiry in ISO 8601; "" lets KeyMint choose (one
	// month from creation).
	ExpiryDate string
	// CustomerID assigns an existing customer; NewCustomer creates one. At
	// most one of them.
	CustomerID  string
	NewCustomer *NewCustomer
	Format      *KeyFormat
	Metadata    map[string]any
}

// CreatedKey is the answer to a create.
type CreatedKey struct {
	// Key is the new license key: a secret.
	Key string
}

// UpdateKeyInput changes a key; nil fields stay as they are.
type UpdateKeyInput struct {
	ProductID  string
	LicenseKey string
	// MaxActivations, when SetMaxActivations, is the new seat limit; nil
	// means unlimited.
	SetMaxActivations bool
	MaxActivations    *int64
	ExpiryDate        *string
	CustomerID        *string
	NewCustomer       *NewCustomer
	// Metadata, when not nil, replaces the key's metadata (an empty map
	// removes it).
	Metadata *map[string]any
}

// createKeyBody is the JSON body of a create.
type createKeyBody struct {
	ProductID      string         `json:"productId"`
	MaxActivations *string        `json:"maxActivations,omitempty"`
	ExpiryDate     string         `json:"expiryDate,omitempty"`
	CustomerID     string         `json:"customerId,omitempty"`
	NewCustomer    *NewCustomer   `json:"newCustomer,omitempty"`
	Format         *KeyFormat     `json:"format,omitempty"`
	Metadata       map[string]any `json:"metadata,omitempty"`
}

// seatLimit is a seat limit as KeyMint takes it: a numeric string.
func seatLimit(n int64) *string { return new(strconv.FormatInt(n, 10)) }

// CreateKey creates a license key. See the top of this file for when it
// is sent more than once; IsCreateOutcomeUnknown tells an error after
// which the key may exist.
//
// The new key is a secret from the moment the answer arrives: it is masked
// in the logs and errors of the call that receives it.
func (c *Client) CreateKey(ctx context.Context, in CreateKeyInput) (*CreatedKey, error) {
	if in.CustomerID != "" && in.NewCustomer != nil {
		return nil, errors.New("create-key: give a customer ID or a new customer, not both")
	}
	body := createKeyBody{
		ProductID: in.ProductID, ExpiryDate: in.ExpiryDate, CustomerID: in.CustomerID,
		NewCustomer: in.NewCustomer, Format: in.Format, Metadata: in.Metadata,
	}
	if in.MaxActivations != nil {
		body.MaxActivations = seatLimit(*in.MaxActivations)
	}
	obj, err := c.call(ctx, OpCreateKey, func(p *paths) request {
		return request{
			method: http.MethodPost, path: keyPathsByVersion[p.version].create, body: body,
			mutating: true, once: true, secretsInAnswer: createdKeys,
		}
	})
	if err != nil {
		return nil, err
	}
	key, err := createdKey(obj)
	if err != nil {
		return nil, err
	}
	return &CreatedKey{Key: key}, nil
}

// createdKeys returns the keys an answer to a create holds, for masking:
// "key", and the "keys" of a bulk create.
func createdKeys(raw []byte) []string {
	var obj object
	if json.Unmarshal(raw, &obj) != nil {
		return nil
	}
	var keys []string
	for _, name := range []string{"key", "licenseKey", "license_key"} {
		if s := str(obj, name); s != "" {
			keys = append(keys, s)
		}
	}
	var list []string
	if v, ok := obj["keys"]; ok && json.Unmarshal(v, &list) == nil {
		keys = append(keys, list...)
	}
	return keys
}

// createdKey reads the key of a create's success answer. The server said
// yes, so a key that cannot be read is a key that may exist: the error is a
// *CreateAnswerError.
func createdKey(obj object) (string, error) {
	raw, ok := obj["key"]
	if !ok || string(raw) == "null" {
		return "", &CreateAnswerError{why: `the answer has no "key"`}
	}
	var key string
	if raw[0] != '"' || json.Unmarshal(raw, &key) != nil {
		return "", &CreateAnswerError{why: `the answer's "key" is ` + describe(raw) + ", not a string"}
	}
	n := utf8.RuneCountInString(key)
	switch {
	case n == 0 || n > 256:
		return "", &CreateAnswerError{why: fmt.Sprintf(`the answer's "key" has %d characters, not 1 to 256`, n)}
	case strings.TrimSpace(key) != key || strings.ContainsFunc(key, unicode.IsControl) || !utf8.ValidString(key):
		return "", &CreateAnswerError{why: `the answer's "key" has whitespace around it or control characters`}
	}
	return key, nil
}

// CreateAnswerError is a create that KeyMint answered with success but
// whose key cannot be read: a key may have been made.
type CreateAnswerError struct{ why string }

func (e *CreateAnswerError) Error() string {
	return "KeyMint API " + OpCreateKey + ": KeyMint answered success, but " + e.why + "; a key may have been created"
}

// IsCreateOutcomeUnknown reports an error of CreateKey after which a key
// may or may not exist: a failure in transit after the request may have
// reached the server, a 5xx, an answer that is not a success although it
// is 2xx (IsAmbiguous), or a success answer whose key cannot be read.
// Refusals (4xx) and requests that never left are not.
func IsCreateOutcomeUnknown(err error) bool {
	if err == nil {
		return false
	}
	var cae *CreateAnswerError
	if errors.As(err, &cae) {
		return true
	}
	if e, ok := AsError(err); ok {
		return e.Ambiguous || (e.StatusCode >= 500 && e.StatusCode <= 599)
	}
	// A failure in transit, or a cancelled call: the request may have
	// reached the server, unless it could not even be sent.
	var notSent *notSentError
	return !errors.As(err, &notSent)
}

// notSentError is a failure of a request that never reached the server.
type notSentError struct{ err error }

func (e *notSentError) Error() string { return e.err.Error() }
func (e *notSentError) Unwrap() error { return e.err }

// UpdateKey changes a key with PATCH /key (every API version). Repeating it
// is safe: it sets values.
func (c *Client) UpdateKey(ctx context.Context, in UpdateKeyInput) error {
	if in.CustomerID != nil && in.NewCustomer != nil {
		return errors.New("update-key: give a customer ID or a new customer, not both")
	}
	body := map[string]any{"productId": in.ProductID, "licenseKey": in.LicenseKey}
	if in.SetMaxActivations {
		body["maxActivations"] = nil
		if in.MaxActivations != nil {
			body["maxActivations"] = *seatLimit(*in.MaxActivations)
		}
	}
	if in.ExpiryDate != nil {
		body["expiryDate"] = *in.ExpiryDate
	}
	if in.CustomerID != nil {
		body["customerId"] = *in.CustomerID
	}
	if in.NewCustomer != nil {
		body["newCustomer"] = in.NewCustomer
	}
	if in.Metadata != nil {
		m := *in.Metadata
		if m == nil {
			m = map[string]any{}
		}
		body["metadata"] = m
	}
	defer c.reads.startWrite(in.ProductID, in.LicenseKey)()
	_, err := c.call(ctx, OpUpdateKey, func(*paths) request {
		return request{method: http.MethodPatch, path: updatePath, body: body, key: in.LicenseKey, mutating: true}
	})
	return err
}

// BlockKey blocks a key: it can no longer be activated, and its devices
// keep their seats. Blocking a blocked key is not documented; KeyMint's
// own tests treat it as harmless, and keymint-local answers it as a
// success.
func (c *Client) BlockKey(ctx context.Context, productID, licenseKey string) error {
	return c.setBlocked(ctx, OpBlockKey, productID, licenseKey, func(p keyPaths) string { return p.block })
}

// UnblockKey unblocks a key.
func (c *Client) UnblockKey(ctx context.Context, productID, licenseKey string) error {
	return c.setBlocked(ctx, OpUnblockKey, productID, licenseKey, func(p keyPaths) string { return p.unblock })
}

func (c *Client) setBlocked(ctx context.Context, op, productID, licenseKey string, pathOf func(keyPaths) string) error {
	defer c.reads.startWrite(productID, licenseKey)()
	body := keyRequest{ProductID: productID, LicenseKey: licenseKey}
	_, err := c.call(ctx, op, func(p *paths) request {
		return request{method: http.MethodPost, path: pathOf(keyPathsByVersion[p.version]), body: body, key: licenseKey, mutating: true}
	})
	return err
}

// unsent reports a failure in transit of a request that never reached the
// server: the connection could not be opened, or the server's name not
// resolved.
func unsent(err error) bool {
	var op *net.OpError
	var dns *net.DNSError
	return errors.As(err, &dns) || (errors.As(err, &op) && op.Op == "dial")
}

// add makes m mask more secrets too.
func (m *masker) add(secrets ...string) {
	if m == nil || len(secrets) == 0 {
		return
	}
	*m = *newMasker(append(append([]string(nil), m.secrets...), secrets...)...)
}

// Answers of the key lifecycle that allow a hint, in the manner of the
// table in errors.go: KeyMint's own answers only, matched on the status
// and the server's words. None allows a conclusion about a key; for a key
// that does not exist, update, block and unblock answer like get-key
// (IsLicenseNotFound).
//
//	predicate               status    code  message
//	IsProductNotFound       404       1     Product not found or inactive; Product not found
//	IsCustomerNotFound      404, 400  any   Customer with ID … not found; Customer not found
//	IsCustomerEmailExists   409       any   CONFLICT: Customer email … already exists.;
//	                                        Customer with this email already exists; or the
//	                                        symbolic code CUSTOMER_EMAIL_EXISTS
var (
	answerProductNotFound = answer{status: http.StatusNotFound, code: 1, messages: []string{"product not found or inactive", "product not found"}}
	customerNotFoundWords = regexp.MustCompile(`^customer (with id \S+ )?not found\.?$`)
	emailExistsWords      = regexp.MustCompile(`^(conflict: customer email \S* ?already exists\.?|customer with this email already exists\.?)$`)
)

// IsProductNotFound reports KeyMint's 404 "Product not found or inactive":
// the product does not exist, is inactive, or belongs to another account.
func IsProductNotFound(err error) bool { return answerProductNotFound.matches(err) }

// IsCustomerNotFound reports KeyMint's answer that the customerId of a
// create or update names no customer (404, or 400 on some servers).
func IsCustomerNotFound(err error) bool {
	e, ok := AsError(err)
	return ok && e.FromKeyMint && (e.StatusCode == http.StatusNotFound || e.StatusCode == http.StatusBadRequest) &&
		customerNotFoundWords.MatchString(strings.ToLower(strings.TrimSpace(e.quote())))
}

// IsCustomerEmailExists reports KeyMint's 409 saying that a newCustomer's
// e-mail address belongs to a customer already.
func IsCustomerEmailExists(err error) bool {
	e, ok := AsError(err)
	if !ok || !e.FromKeyMint || e.StatusCode != http.StatusConflict {
		return false
	}
	return strings.EqualFold(e.ErrorCode, "CUSTOMER_EMAIL_EXISTS") ||
		emailExistsWords.MatchString(strings.ToLower(strings.TrimSpace(e.Message))) ||
		emailExistsWords.MatchString(strings.ToLower(strings.TrimSpace(e.ErrorMessage)))
}
