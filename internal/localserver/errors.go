package localserver

import (
	"errors"
	"fmt"
	"net/http"
	"time"
)

// apiError is a failure that the API reports to its client: the HTTP
// status, KeyMint's numeric code and a message. Messages never contain a
// license key or token.
type apiError struct {
	status  int
	code    int
	message string
}

func (e *apiError) Error() string { return e.message }

// KeyMint's numeric error codes.
const (
	codeRequest = 1 // bad request, authentication, unknown object, rate limit, server error
	codeState   = 2 // the license's state forbids the operation
)

// The failures the core and the handlers report. Handlers of every path set
// translate them to their own wire format.
var (
	errUnauthorized      = &apiError{http.StatusUnauthorized, codeRequest, "Invalid access token"}
	errInsufficientScope = &apiError{http.StatusForbidden, codeRequest, "Insufficient permissions for this operation"}
	errInvalidJSON       = &apiError{http.StatusBadRequest, codeRequest, "Invalid JSON body"}
	errBodyTooLarge      = &apiError{http.StatusBadRequest, codeRequest, "Request body too large"}
	errMissingParams     = &apiError{http.StatusBadRequest, codeRequest, "Missing required params"}
	errInvalidKey        = &apiError{http.StatusNotFound, codeRequest, "Invalid license key"}
	errDeviceNotFound    = &apiError{http.StatusNotFound, codeRequest, "Device not found"}
	errBlocked           = &apiError{http.StatusForbidden, codeState, "License is blocked"}
	errExpired           = &apiError{http.StatusForbidden, codeState, "License expired"}
	errCustomerInactive  = &apiError{http.StatusForbidden, codeState, "Customer is inactive"}
	errLimitReached      = &apiError{http.StatusForbidden, codeState, "Activation limit reached"}
	errNotActivated      = &apiError{http.StatusForbidden, codeState, "License not activated"}
	errServer            = &apiError{http.StatusInternalServerError, codeRequest, "Server error"}
)

// Failures of the admin helpers and of seed validation.
var (
	errNegativeLimit = errors.New("max_activations must not be negative")
	errKeyExists     = errors.New("license key already exists")
)

// badRequest is a 400 answer with a message of its own, for the local
// admin endpoints.
func badRequest(message string) *apiError {
	return &apiError{http.StatusBadRequest, codeRequest, message}
}

// routeError is a request for a path the server does not serve (404) or
// with a method the path does not take (405). The hosted API answers those
// from the web framework in front of it (NestJS on Express), not from
// KeyMint's code, in the framework's own shape: {"message":"Cannot POST
// /activate-key","error":"Not Found","statusCode":404}, without the
// numeric "code" of KeyMint's answers, so that a client can tell that the
// answer says nothing about a license. Unlike Express, the message leaves
// out the query string, which may carry a license key.
type routeError struct {
	status       int // 404 or 405
	method, path string
}

func (e *routeError) Error() string { return e.body().Message }

// routeErrorBody is the body of a routeError answer.
type routeErrorBody struct {
	Message    string `json:"message"`
	Error      string `json:"error"`
	StatusCode int    `json:"statusCode"`
}

// body returns the answer of e.
func (e *routeError) body() routeErrorBody {
	return routeErrorBody{Message: "Cannot " + e.method + " " + e.path, Error: http.StatusText(e.status), StatusCode: e.status}
}

// rateLimitError is a 429 answer, injected or real. It is answered with
// the hosted service's body, which adds an "error" object, and a
// Retry-After header.
type rateLimitError struct {
	retryAfter time.Duration // sent rounded up to whole seconds, at least 1 s
}

func (e *rateLimitError) Error() string { return rateLimitBody.Error.Message }

// rateLimitBody is the body of every 429 answer, as the contract tests of
// KeyMint's SDKs show it.
var rateLimitBody = messageBody{
	Message: "Request failed",
	Code:    codeRequest,
	Error:   &errorDetail{Code: "RATE_LIMIT_EXCEEDED", Message: "Too many requests. Please try again later."},
}

// retryAfterSeconds returns d in whole seconds, rounded up, at least 1.
func retryAfterSeconds(d time.Duration) int64 {
	secs := int64(d / time.Second)
	if d%time.Second > 0 {
		secs++
	}
	return max(1, secs)
}

// wrongTypeError reports a request field that is not a string.
func wrongTypeError(field string) *apiError {
	return &apiError{http.StatusBadRequest, codeRequest, field + " must be a string"}
}

// adminError wraps a failure of an admin helper with the operation and the
// masked license key.
func adminError(op, productID, key string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("localserver: %s %s/%s: %w", op, productID, MaskKey(key), err)
}
