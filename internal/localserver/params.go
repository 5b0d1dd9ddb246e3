package localserver

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"unicode/utf8"
)

// maxBodyBytes is the largest request body the server reads.
const maxBodyBytes = 1 << 20

// field is a request field and its length limits in characters.
type field struct {
	name     string
	min, max int
}

// The request fields and their documented limits. License keys come in
// custom formats (1-10 sections of 1-32 characters, with separators, a
// prefix and a suffix): KeyMint's docs show the 17-character key
// 0B4ADFD8-8C47ECD0, so any length from 1 is accepted, although the
// /deactivate-key page says 23-256.
var (
	productIDField  = field{"productId", 22, 256}
	licenseKeyField = field{"licenseKey", 1, 256}
	hostIDField     = field{"hostId", 1, 64}
	deviceTagField  = field{"deviceTag", 1, 64}
)

// check reports whether v has an allowed length. The message names the
// field, never its value.
func (f field) check(v string) error {
	if n := utf8.RuneCountInString(v); n < f.min || n > f.max {
		return &apiError{http.StatusBadRequest, codeRequest, fmt.Sprintf("%s must be %d-%d characters", f.name, f.min, f.max)}
	}
	return nil
}

// presence says whether an operation requires, accepts or ignores a field.
type presence int

const (
	ignored presence = iota
	optional
	required
)

// fieldSpec lists the optional fields an operation uses; productId and
// licenseKey are always required.
type fieldSpec struct {
	hostID, deviceTag presence
}

// The field specs of the operations.
var (
	activateFields   = fieldSpec{hostID: required, deviceTag: optional}
	deactivateFields = fieldSpec{hostID: optional}
	getKeyFields     = fieldSpec{}
)

// keyRequest is the JSON body of a key operation. Pointers tell a missing
// field from an empty one.
type keyRequest struct {
	ProductID  *string `json:"productId"`
	LicenseKey *string `json:"licenseKey"`
	HostID     *string `json:"hostId"`
	DeviceTag  *string `json:"deviceTag"`
}

// keyParams are the validated parameters of a key operation. An empty
// HostID or DeviceTag means the field was not given (or is ignored).
type keyParams struct {
	ProductID, LicenseKey, HostID, DeviceTag string
}

// params validates the request against spec: first that every required
// field is present and not empty, then the length of every field used.
func (q keyRequest) params(spec fieldSpec) (keyParams, error) {
	type rule struct {
		field
		value *string
		use   presence
	}
	rules := []rule{
		{productIDField, q.ProductID, required},
		{licenseKeyField, q.LicenseKey, required},
		{hostIDField, q.HostID, spec.hostID},
		{deviceTagField, q.DeviceTag, spec.deviceTag},
	}
	for _, r := range rules {
		if r.use == required && (r.value == nil || *r.value == "") {
			return keyParams{}, errMissingParams
		}
	}
	values := make([]string, len(rules))
	for i, r := range rules {
		if r.use == ignored || r.value == nil {
			continue
		}
		if err := r.check(*r.value); err != nil {
			return keyParams{}, err
		}
		values[i] = *r.value
	}
	return keyParams{ProductID: values[0], LicenseKey: values[1], HostID: values[2], DeviceTag: values[3]}, nil
}

// readBody reads the body of r, up to maxBodyBytes.
func readBody(r *http.Request) ([]byte, error) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBodyBytes+1))
	switch {
	case err != nil:
		return nil, errInvalidJSON
	case len(body) > maxBodyBytes:
		return nil, errBodyTooLarge
	}
	return body, nil
}

// decodeKeyParams reads the JSON body of r and validates it against spec.
func decodeKeyParams(r *http.Request, spec fieldSpec) (keyParams, error) {
	body, err := readBody(r)
	if err != nil {
		return keyParams{}, err
	}
	var q keyRequest
	if err := json.Unmarshal(body, &q); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) && typeErr.Field != "" {
			return keyParams{}, wrongTypeError(typeErr.Field)
		}
		return keyParams{}, errInvalidJSON
	}
	return q.params(spec)
}

// optionalString returns nil for "" and a pointer to s otherwise.
func optionalString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
