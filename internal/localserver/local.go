package localserver

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"time"
)

// Local debugging and admin aids, not part of the KeyMint API. They need
// an access token like the API (except health), any valid one whatever its
// scopes, but are not counted in Calls, and neither faults nor the rate
// limit apply to them.

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

// rateLimitSetting is the body of PUT /_local/rate-limit: requests and
// window, or the older per_minute.
type rateLimitSetting struct {
	Requests  *int    `json:"requests"`   // 0 = no limit
	Window    *string `json:"window"`     // a Go duration string; required when requests is above 0
	PerMinute *int    `json:"per_minute"` // older form: requests a minute, 0 = no limit
}

// rateLimitAnswer is the answer of GET and PUT /_local/rate-limit.
type rateLimitAnswer struct {
	Requests int    `json:"requests"` // 0 = no limit
	Window   string `json:"window"`   // "0s" when there is no limit
}

// rateLimitMessage explains the body of PUT /_local/rate-limit.
const rateLimitMessage = `want {"requests":N,"window":"DURATION"} such as {"requests":10,"window":"1m"}, or {"per_minute":N}; 0 requests for no limit`

// limit returns the rate limit b sets.
func (b rateLimitSetting) limit() (RateLimit, error) {
	if b.PerMinute != nil {
		if b.Requests != nil || b.Window != nil {
			return RateLimit{}, badRequest("give requests and window, or per_minute, not both")
		}
		b.Requests, b.Window = b.PerMinute, new("1m")
	}
	if b.Requests == nil {
		return RateLimit{}, badRequest(rateLimitMessage)
	}
	l := RateLimit{Requests: *b.Requests}
	if b.Window != nil {
		w, err := time.ParseDuration(*b.Window)
		if err != nil {
			return RateLimit{}, badRequest(`window must be a duration string such as "1m" or "3s"`)
		}
		l.Window = w
	}
	if err := l.check(); err != nil {
		return RateLimit{}, badRequest(err.Error() + "; " + rateLimitMessage)
	}
	return l.normalized(), nil
}

// rateLimitAnswerOf returns the answer that reports l.
func rateLimitAnswerOf(l RateLimit) rateLimitAnswer {
	return rateLimitAnswer{Requests: l.Requests, Window: l.Window.String()}
}

// rateLimitLocal answers GET /_local/rate-limit.
func (s *Server) rateLimitLocal(*http.Request) (any, error) {
	return rateLimitAnswerOf(s.RateLimit()), nil
}

// setRateLimitLocal answers PUT /_local/rate-limit {"requests":N,
// "window":"DURATION"} or {"per_minute":N}.
func (s *Server) setRateLimitLocal(r *http.Request) (any, error) {
	var b rateLimitSetting
	if err := decodeAdminBody(r, &b); err != nil {
		return nil, err
	}
	l, err := b.limit()
	if err != nil {
		return nil, err
	}
	s.limiter.set(l)
	return rateLimitAnswerOf(l), nil
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
