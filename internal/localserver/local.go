package localserver

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
)

// Local debugging and admin aids, not part of the KeyMint API. They need
// an access token like the API (except health), but are not counted in
// Calls, and neither faults nor the rate limit apply to them.

// seatsLocal answers GET /_local/seats with every held seat, keys masked.
func (s *Server) seatsLocal(*http.Request) (any, error) {
	return s.Seats(), nil
}

// licensesLocal answers GET /_local/licenses with every license key,
// masked, and the seats it holds.
func (s *Server) licensesLocal(*http.Request) (any, error) {
	return s.Licenses(), nil
}

// callsLocal answers GET /_local/calls with the request counters.
func (s *Server) callsLocal(*http.Request) (any, error) {
	return s.callCounts(), nil
}

// resetCallsLocal answers POST /_local/calls/reset: it resets the request
// counters and the fault stats, and answers the counters.
func (s *Server) resetCallsLocal(*http.Request) (any, error) {
	s.ResetCalls()
	return s.callCounts(), nil
}

// faultsLocal answers GET /_local/faults with the fault configuration and
// stats.
func (s *Server) faultsLocal(*http.Request) (any, error) {
	return s.faults.report(), nil
}

// setFaultsLocal answers PUT /_local/faults: the body, a FaultConfig,
// replaces the configuration (fields left out are zero).
func (s *Server) setFaultsLocal(r *http.Request) (any, error) {
	var cfg FaultConfig
	if err := decodeAdminBody(r, &cfg); err != nil {
		return nil, err
	}
	if err := cfg.Validate(); err != nil {
		return nil, badRequest(err.Error())
	}
	s.faults.set(cfg)
	return s.faults.report(), nil
}

// rateLimitSetting is the body of PUT /_local/rate-limit and of the
// answers of /_local/rate-limit.
type rateLimitSetting struct {
	PerMinute *int `json:"per_minute"` // 0 = no limit; required in a PUT
}

// rateLimitLocal answers GET /_local/rate-limit.
func (s *Server) rateLimitLocal(*http.Request) (any, error) {
	return rateLimitSetting{PerMinute: new(s.RateLimit())}, nil
}

// setRateLimitLocal answers PUT /_local/rate-limit {"per_minute":N}.
func (s *Server) setRateLimitLocal(r *http.Request) (any, error) {
	var b rateLimitSetting
	if err := decodeAdminBody(r, &b); err != nil {
		return nil, err
	}
	if b.PerMinute == nil || *b.PerMinute < 0 {
		return nil, badRequest("per_minute must be a number of requests, 0 for no limit")
	}
	s.limiter.set(*b.PerMinute)
	return b, nil
}

// healthLocal answers GET /_local/health.
func (s *Server) healthLocal(*http.Request) (any, error) {
	return struct {
		Status string `json:"status"`
	}{"ok"}, nil
}

// decodeAdminBody decodes the JSON body of an admin request into v.
// Unknown fields and trailing data are errors, so that a typing mistake is
// not silently ignored. Admin bodies hold no secrets, so the messages may
// quote them.
func decodeAdminBody(r *http.Request, v any) error {
	data, err := readBody(r)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var fe fieldError
		if errors.As(err, &fe) {
			return badRequest(fe.Error())
		}
		return badRequest("Invalid JSON body: " + err.Error())
	}
	if dec.More() {
		return badRequest("Invalid JSON body: unexpected data after the JSON value")
	}
	return nil
}
