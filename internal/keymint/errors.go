package keymint

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// Error is a refusal from the KeyMint API: any answer that is not a success.
// Its message never contains the access token or the license key.
type Error struct {
	// Operation is the call that failed: activate, deactivate or get-key.
	Operation string
	// StatusCode is the HTTP status.
	StatusCode int
	// Code is the numeric code of the body ({"code": N}), or 0 when absent.
	Code int64
	// ErrorCode is the symbolic code some servers send
	// ({"error": {"code": "RATE_LIMIT_EXCEEDED"}}), or "".
	ErrorCode string
	// Message is the server's message, or the HTTP status text.
	Message string
}

func (e *Error) Error() string {
	return fmt.Sprintf("KeyMint API %s: HTTP %d (code %d): %s", e.Operation, e.StatusCode, e.Code, e.Message)
}

// newError builds an *Error from a non-success answer. It reads both body
// shapes the API is documented to send: {"message": "…", "code": N} and
// {"error": {"code": "…", "message": "…"}, "code": N}.
func newError(op string, status int, body []byte, secrets []string) *Error {
	e := &Error{Operation: op, StatusCode: status}
	var obj object
	if json.Unmarshal(body, &obj) == nil {
		if n, ok := integer(obj, "code"); ok {
			e.Code = n
		}
		e.Message = str(obj, "message")
		if inner, ok := sub(obj, "error"); ok {
			e.ErrorCode = str(inner, "code")
			if e.Message == "" {
				e.Message = str(inner, "message")
			}
		} else if e.Message == "" {
			e.Message = str(obj, "error")
		}
	}
	if e.Message == "" {
		e.Message = http.StatusText(status)
	}
	e.Message = truncate(redact(e.Message, secrets...), 512)
	return e
}

// AsError returns the *Error in err's chain, if any.
func AsError(err error) (*Error, bool) {
	var e *Error
	if errors.As(err, &e) {
		return e, true
	}
	return nil, false
}

func matches(err error, status int, pred func(*Error) bool) bool {
	e, ok := AsError(err)
	if !ok || e.StatusCode != status {
		return false
	}
	return pred == nil || pred(e)
}

func mentions(e *Error, words ...string) bool {
	m := strings.ToLower(e.Message)
	for _, w := range words {
		if strings.Contains(m, w) {
			return true
		}
	}
	return false
}

// IsUnauthorized reports a missing, invalid or under-scoped access token (401).
func IsUnauthorized(err error) bool { return matches(err, http.StatusUnauthorized, nil) }

// IsNotFound reports any 404: an unknown product or license key, or (on
// deactivate with a host ID) an unknown device.
func IsNotFound(err error) bool { return matches(err, http.StatusNotFound, nil) }

// IsDeviceNotFound reports a 404 "Device not found": the host holds no seat.
func IsDeviceNotFound(err error) bool {
	return matches(err, http.StatusNotFound, func(e *Error) bool { return mentions(e, "device") })
}

// IsLicenseNotFound reports a 404 for an unknown product or license key
// ("Invalid license key"). A 404 whose message names neither a license, a
// key nor a product (a path the server does not serve, because base_url or
// api_version is wrong, or a proxy's page) is not one: the callers treat a
// license that is gone as nothing left to free, which must never be
// concluded from a misrouted request.
func IsLicenseNotFound(err error) bool {
	return matches(err, http.StatusNotFound, func(e *Error) bool {
		return !mentions(e, "device") && mentions(e, "license", "key", "product")
	})
}

// IsSeatLimitReached reports a 403 "Activation limit reached": every seat of
// the license is taken.
func IsSeatLimitReached(err error) bool {
	return matches(err, http.StatusForbidden, func(e *Error) bool { return mentions(e, "limit") })
}

// IsNotActivated reports a 403 "License not activated": the license has no
// active device, so there is nothing to deactivate.
func IsNotActivated(err error) bool {
	return matches(err, http.StatusForbidden, func(e *Error) bool { return mentions(e, "not activated", "not active") })
}

// IsAlreadyFree reports the answers to a deactivation that mean the seat is
// already free: "Device not found" and "License not activated".
func IsAlreadyFree(err error) bool { return IsDeviceNotFound(err) || IsNotActivated(err) }

// IsRateLimited reports a 429.
func IsRateLimited(err error) bool { return matches(err, http.StatusTooManyRequests, nil) }

// IsServerError reports a 5xx answer.
func IsServerError(err error) bool {
	e, ok := AsError(err)
	return ok && e.StatusCode >= 500 && e.StatusCode <= 599
}
