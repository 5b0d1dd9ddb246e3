package localserver

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"time"
)

// FaultConfig makes the server misbehave on purpose, for tests that prove
// a client loses nothing when the service fails. Rates are probabilities
// in [0,1] applied to each API request; requests to /_local/ paths never
// get a fault.
//
// In JSON, durations are Go duration strings such as "250ms" or "2s"; a
// missing or empty duration is zero. Unknown fields are an error.
type FaultConfig struct {
	// ServerErrorRate is the probability of answering 500 {"message":
	// "Server error","code":1} before doing anything.
	ServerErrorRate float64 `json:"server_error_rate"`
	// RateLimitRate is the probability of answering 429 with a Retry-After
	// header before doing anything.
	RateLimitRate float64 `json:"rate_limit_rate"`
	// RetryAfter is the Retry-After of injected 429 answers and, when not
	// zero, of real ones too (which otherwise announce the time until the
	// token may send again). It is sent in whole seconds, rounded up, and
	// at least 1 s.
	RetryAfter time.Duration `json:"retry_after"`
	// Latency is waited before each request is handled. The server stops
	// waiting, and does not handle the request, if the client goes away.
	Latency time.Duration `json:"latency"`
	// LostAnswerRate is the probability of handling the request fully (its
	// change is committed, and saved if there is a state file) and then
	// closing the connection without an answer.
	LostAnswerRate float64 `json:"lost_answer_rate"`
	// Seed seeds the random source of the decisions, so that the same
	// sequence of requests gets the same faults.
	Seed int64 `json:"seed"`
}

// Validate reports whether every rate is in [0,1] and no duration is
// negative.
func (f FaultConfig) Validate() error {
	for _, r := range []struct {
		name string
		rate float64
	}{
		{"server_error_rate", f.ServerErrorRate},
		{"rate_limit_rate", f.RateLimitRate},
		{"lost_answer_rate", f.LostAnswerRate},
	} {
		if !(r.rate >= 0 && r.rate <= 1) { // also refuses NaN
			return fmt.Errorf("%s must be between 0 and 1", r.name)
		}
	}
	for _, d := range []struct {
		name string
		d    time.Duration
	}{
		{"retry_after", f.RetryAfter},
		{"latency", f.Latency},
	} {
		if d.d < 0 {
			return fmt.Errorf("%s must not be negative", d.name)
		}
	}
	return nil
}

// faultConfigAlias is FaultConfig without its JSON methods.
type faultConfigAlias FaultConfig

// faultConfigJSON is the JSON form of FaultConfig: its duration fields
// shadow those of the embedded alias.
type faultConfigJSON struct {
	faultConfigAlias
	RetryAfter string `json:"retry_after"`
	Latency    string `json:"latency"`
}

// MarshalJSON encodes f with durations as Go duration strings.
func (f FaultConfig) MarshalJSON() ([]byte, error) {
	return json.Marshal(faultConfigJSON{faultConfigAlias(f), f.RetryAfter.String(), f.Latency.String()})
}

// UnmarshalJSON decodes f from JSON with durations as Go duration
// strings. Unknown fields are an error; the values are not validated (see
// Validate).
func (f *FaultConfig) UnmarshalJSON(data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var j faultConfigJSON
	if err := dec.Decode(&j); err != nil {
		var typeErr *json.UnmarshalTypeError
		if !errors.As(err, &typeErr) || typeErr.Field == "" {
			return err
		}
		name := typeErr.Field[strings.LastIndex(typeErr.Field, ".")+1:] // without the embedded alias
		if name == "retry_after" || name == "latency" {
			return durationError(name)
		}
		return fieldError(name + " must be a number")
	}
	cfg := FaultConfig(j.faultConfigAlias)
	for _, d := range []struct {
		name, text string
		to         *time.Duration
	}{
		{"retry_after", j.RetryAfter, &cfg.RetryAfter},
		{"latency", j.Latency, &cfg.Latency},
	} {
		if d.text == "" {
			continue
		}
		v, err := time.ParseDuration(d.text)
		if err != nil {
			return durationError(d.name)
		}
		*d.to = v
	}
	*f = cfg
	return nil
}

// fieldError is a FaultConfig field of the wrong type or form; its message
// names the field as in JSON.
type fieldError string

func (e fieldError) Error() string { return string(e) }

// durationError reports a duration field that is not a duration string.
func durationError(name string) fieldError {
	return fieldError(name + ` must be a duration string such as "250ms" or "2s"`)
}

// FaultStats counts what the fault injection and the rate limit did since
// the server started or its counters were last reset.
type FaultStats struct {
	ServerErrors int `json:"server_errors"` // injected 500 answers
	RateLimited  int `json:"rate_limited"`  // 429 answers, injected and real
	LostAnswers  int `json:"lost_answers"`  // requests handled without an answer
	Requests     int `json:"requests"`      // API requests seen
}

// FaultReport is the answer of GET and PUT /_local/faults.
type FaultReport struct {
	Config FaultConfig `json:"config"`
	Stats  FaultStats  `json:"stats"`
}

// SetFaults replaces the fault configuration and reseeds the random source
// with f.Seed. An invalid configuration is an error and changes nothing.
func (s *Server) SetFaults(f FaultConfig) error {
	if err := f.Validate(); err != nil {
		return fmt.Errorf("localserver: faults: %w", err)
	}
	s.faults.set(f)
	return nil
}

// Faults returns the fault configuration.
func (s *Server) Faults() FaultConfig {
	return s.faults.report().Config
}

// FaultStats returns the counts of injected faults and rate-limited
// requests since the server started or ResetCalls was last called.
func (s *Server) FaultStats() FaultStats {
	return s.faults.report().Stats
}

// faultKind is a kind of fault, as counted in FaultStats.
type faultKind int

const (
	noFault faultKind = iota
	serverErrorFault
	rateLimitFault
	lostAnswerFault
)

// faultDecision is what happens to one API request.
type faultDecision struct {
	latency time.Duration // waited before anything else
	kind    faultKind
	answer  error // the injected error answer, or nil to handle the request
}

// pcgStream is the second seed of the random source; only the first one
// comes from FaultConfig.Seed.
const pcgStream = 0x9e3779b97f4a7c15

// faultInjector decides the faults of API requests and keeps the stats.
type faultInjector struct {
	mu    sync.Mutex
	cfg   FaultConfig
	rng   *rand.Rand
	stats FaultStats
}

// set replaces the configuration and reseeds the random source.
func (fi *faultInjector) set(cfg FaultConfig) {
	fi.mu.Lock()
	defer fi.mu.Unlock()
	fi.cfg = cfg
	fi.rng = rand.New(rand.NewPCG(uint64(cfg.Seed), pcgStream))
}

// decide counts an API request and decides its fault. Every rate above
// zero consumes one random number per request, whatever the outcome, so
// the decisions depend only on the configuration and the number of
// requests before.
func (fi *faultInjector) decide() faultDecision {
	fi.mu.Lock()
	defer fi.mu.Unlock()
	fi.stats.Requests++
	c := fi.cfg
	serverError, rateLimited, lost := fi.draw(c.ServerErrorRate), fi.draw(c.RateLimitRate), fi.draw(c.LostAnswerRate)
	d := faultDecision{latency: c.Latency}
	switch {
	case serverError:
		d.kind, d.answer = serverErrorFault, errServer
	case rateLimited:
		d.kind, d.answer = rateLimitFault, &rateLimitError{retryAfter: c.RetryAfter}
	case lost:
		d.kind = lostAnswerFault
	}
	return d
}

// draw reports whether an event of probability rate happens. The caller
// holds fi.mu.
func (fi *faultInjector) draw(rate float64) bool {
	return rate > 0 && fi.rng.Float64() < rate
}

// record counts a fault that was applied.
func (fi *faultInjector) record(k faultKind) {
	fi.mu.Lock()
	defer fi.mu.Unlock()
	switch k {
	case serverErrorFault:
		fi.stats.ServerErrors++
	case rateLimitFault:
		fi.stats.RateLimited++
	case lostAnswerFault:
		fi.stats.LostAnswers++
	}
}

// report returns the configuration and the stats.
func (fi *faultInjector) report() FaultReport {
	fi.mu.Lock()
	defer fi.mu.Unlock()
	return FaultReport{Config: fi.cfg, Stats: fi.stats}
}

// resetStats sets the stats to zero.
func (fi *faultInjector) resetStats() {
	fi.mu.Lock()
	defer fi.mu.Unlock()
	fi.stats = FaultStats{}
}

// waitLatency waits d before a request is handled and reports whether the
// client is still there. It reads the request body first: the HTTP server
// only notices a client that goes away once the body has been read.
func waitLatency(r *http.Request, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	data, err := io.ReadAll(io.LimitReader(r.Body, maxBodyBytes+1))
	r.Body = &bufferedBody{bytes.NewReader(data), err}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
		return false
	}
}

// bufferedBody is a request body read ahead into memory. Once the data is
// consumed, it reports the error that ended the read ahead, if any.
type bufferedBody struct {
	*bytes.Reader
	err error
}

func (b *bufferedBody) Read(p []byte) (int, error) {
	n, err := b.Reader.Read(p)
	if err == io.EOF && b.err != nil {
		err = b.err
	}
	return n, err
}

func (b *bufferedBody) Close() error { return nil }

// dropConnection closes the client's connection without an answer. Where
// the connection cannot be taken over (HTTP/2), it aborts the handler
// with http.ErrAbortHandler, which resets the stream instead.
func dropConnection(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	_ = conn.Close()
}
