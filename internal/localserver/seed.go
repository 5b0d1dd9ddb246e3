package localserver

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"time"
)

// Customer is the licensee a license key is issued to. Its JSON form is the
// same in every generation of the API.
type Customer struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	Email  string `json:"email"`
	Active bool   `json:"active"`
}

// LicenseSeed describes one license key of a product as the server starts
// with it.
type LicenseSeed struct {
	Key            string     `json:"key"`
	MaxActivations *int       `json:"max_activations,omitempty"` // nil = unlimited
	Blocked        bool       `json:"blocked,omitempty"`
	ExpirationDate *time.Time `json:"expiration_date,omitempty"`
	Customer       *Customer  `json:"customer,omitempty"`
	// Metadata is what the key was created or updated with through the
	// API; get-key does not return it.
	Metadata map[string]any `json:"metadata,omitempty"`
}

// ProductSeed is a product and its license keys.
type ProductSeed struct {
	ID       string        `json:"id"`
	Licenses []LicenseSeed `json:"licenses"`
}

// TokenSeed is an access token limited to some scopes (see Scopes).
type TokenSeed struct {
	Token  string   `json:"token"`
	Scopes []string `json:"scopes"` // at least one
}

// Seed is the initial content of a server: the access tokens it accepts and
// the products and license keys it knows. A token listed more than once
// carries the scopes of all its listings.
type Seed struct {
	// AccessTokens are tokens with every scope.
	AccessTokens []string `json:"access_tokens"`
	// Tokens are tokens with the scopes they list.
	Tokens   []TokenSeed   `json:"tokens,omitempty"`
	Products []ProductSeed `json:"products"`
}

// LoadSeedFile reads a JSON-encoded Seed from path. Unknown fields are an
// error, so that a misspelled field in a hand-written seed is noticed.
func LoadSeedFile(path string) (Seed, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Seed{}, fmt.Errorf("localserver: read seed: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var seed Seed
	if err := dec.Decode(&seed); err != nil {
		return Seed{}, fmt.Errorf("localserver: seed file %s: %w", path, err)
	}
	if dec.More() {
		return Seed{}, fmt.Errorf("localserver: seed file %s: unexpected data after the JSON object", path)
	}
	return seed, nil
}

// minMaskedLen is the shortest string MaskKey shows any part of: shorter
// strings would give away too large a share of the secret.
const minMaskedLen = 16

// MaskKey returns a form of a license key or token that is safe to print:
// its first 4 and last 4 characters around an ellipsis, or "****" when the
// string is shorter than 16 characters.
func MaskKey(key string) string {
	r := []rune(key)
	if len(r) < minMaskedLen {
		return "****"
	}
	return string(r[:4]) + "…" + string(r[len(r)-4:])
}
