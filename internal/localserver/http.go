package localserver

import (
	"encoding/json"
	"errors"
	"maps"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/keymint-dev/terraform-provider-keymint/internal/keymint"
)

// localPrefix starts the paths of the local debugging and admin aids,
// which are not part of the KeyMint API: they are not counted in Calls,
// and neither faults nor the rate limit apply to them.
const localPrefix = "/_local/"

// endpoint is the handler of one method on one path. handle returns the
// body of a 200 answer, or an error that the dispatcher turns into an
// error answer.
type endpoint struct {
	public bool     // served without an access token
	scope  scopeSet // the scopes the token needs
	handle func(r *http.Request) (any, error)
}

// routeTable maps every path and method the server answers to its
// endpoint, with the paths of the API generation api (see Options.API). A
// new path set only needs its own lines here and its own thin handlers
// around the core.
func (s *Server) routeTable(api string) map[string]map[string]endpoint {
	post := func(scope string, h func(*http.Request) (any, error)) map[string]endpoint {
		return map[string]endpoint{http.MethodPost: {scope: scopeOf(scope), handle: h}}
	}
	get := func(scope string, h func(*http.Request) (any, error)) map[string]endpoint {
		return map[string]endpoint{http.MethodGet: {scope: scopeOf(scope), handle: h}}
	}
	const anyToken = "" // any valid token, whatever its scopes
	getPut := func(read, replace func(*http.Request) (any, error)) map[string]endpoint {
		return map[string]endpoint{http.MethodGet: {handle: read}, http.MethodPut: {handle: replace}}
	}
	// Generation 1, snake_case answers.
	gen1 := map[string]map[string]endpoint{
		keymint.PathActivateV1:   post(ScopeLicensesActivate, s.activateKeyV1),
		keymint.PathDeactivateV1: post(ScopeLicensesActivate, s.deactivateKeyV1),
		keymint.PathGetKeyV1:     post(ScopeLicensesRead, s.getKeyV1),
		keymint.PathCreateKeyV1:  post(ScopeLicensesWrite, s.createKey),
		keymint.PathBlockKeyV1:   post(ScopeLicensesBlock, s.blockKey),
		keymint.PathUnblockKeyV1: post(ScopeLicensesBlock, s.unblockKey),
	}
	// Generation 2, camelCase answers.
	gen2 := map[string]map[string]endpoint{
		keymint.PathActivateV2:   post(ScopeLicensesActivate, s.activateKeyV2),
		keymint.PathDeactivateV2: post(ScopeLicensesActivate, s.deactivateKeyV2),
		keymint.PathGetKeyV2: { // = PathCreateKeyV2
			http.MethodGet:  {scope: scopeOf(ScopeLicensesRead), handle: s.getKeyV2},
			http.MethodPost: {scope: scopeOf(ScopeLicensesWrite), handle: s.createKey},
		},
		keymint.PathBlockKeyV2:   post(ScopeLicensesBlock, s.blockKey),
		keymint.PathUnblockKeyV2: post(ScopeLicensesBlock, s.unblockKey),
	}
	// Both generations: the update of a key, which generation 1 documents
	// no call for, is PATCH /key in KeyMint's current SDKs.
	both := map[string]map[string]endpoint{
		keymint.PathUpdateKey: {http.MethodPatch: {scope: scopeOf(ScopeLicensesWrite), handle: s.updateKeyHandler}},
	}
	routes := map[string]map[string]endpoint{
		// Local debugging and admin aids.
		localPrefix + "seats":       get(anyToken, s.seatsLocal),
		localPrefix + "licenses":    get(anyToken, s.licensesLocal),
		localPrefix + "calls":       get(anyToken, s.callsLocal),
		localPrefix + "calls/reset": post(anyToken, s.resetCallsLocal),
		localPrefix + "faults":      getPut(s.faultsLocal, s.setFaultsLocal),
		localPrefix + "rate-limit":  getPut(s.rateLimitLocal, s.setRateLimitLocal),
		localPrefix + "health":      {http.MethodGet: {public: true, handle: s.healthLocal}},
	}
	add := func(set map[string]map[string]endpoint) {
		for path, methods := range set {
			if routes[path] == nil {
				routes[path] = map[string]endpoint{}
			}
			maps.Copy(routes[path], methods)
		}
	}
	if api != APIv2 {
		add(gen1)
	}
	if api != APIv1 {
		add(gen2)
	}
	add(both)
	return routes
}

// Handler returns the HTTP handler of the API.
func (s *Server) Handler() http.Handler {
	return http.HandlerFunc(s.serveHTTP)
}

// serveHTTP answers one request. API requests (every path outside
// localPrefix) are counted and may get an injected fault first.
func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, localPrefix) {
		body, err := s.dispatch(w, r, false)
		s.writeAnswer(w, body, err)
		return
	}
	s.countCall(r.Method, r.URL.Path, r.UserAgent())
	fault := s.faults.decide()
	if !waitLatency(r, fault.latency) {
		return // the client went away
	}
	if fault.answer != nil {
		s.faults.record(fault.kind)
		s.writeError(w, fault.answer)
		return
	}
	body, err := s.dispatch(w, r, true)
	if fault.kind == lostAnswerFault {
		s.faults.record(lostAnswerFault)
		dropConnection(w)
		return
	}
	s.writeAnswer(w, body, err)
}

// dispatch finds the endpoint of r, checks its access token, counts the
// request against the token's rate limit (API requests only), checks the
// token's scopes, and runs it. A hosted API counts every authenticated
// request, so a request refused for its scopes counts too.
func (s *Server) dispatch(w http.ResponseWriter, r *http.Request, api bool) (any, error) {
	methods, ok := s.routes[r.URL.Path]
	if !ok {
		return nil, &routeError{http.StatusNotFound, r.Method, r.URL.Path}
	}
	ep, ok := methods[r.Method]
	if !ok {
		w.Header().Set("Allow", strings.Join(slices.Sorted(maps.Keys(methods)), ", "))
		return nil, &routeError{http.StatusMethodNotAllowed, r.Method, r.URL.Path}
	}
	if !ep.public {
		token := bearerToken(r)
		scopes := s.scopes(token)
		if scopes == 0 {
			return nil, errUnauthorized
		}
		if api {
			if err := s.limit(token); err != nil {
				return nil, err
			}
		}
		if !scopes.has(ep.scope) {
			return nil, errInsufficientScope
		}
	}
	return ep.handle(r)
}

// bearerToken returns the bearer token of r, or "".
func bearerToken(r *http.Request) string {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(token)
}

// scopes returns the scopes of token, or 0 if it is not a known access
// token.
func (s *Server) scopes(token string) scopeSet {
	if token == "" {
		return 0
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tokens[token]
}

// messageBody is the body of an error answer, and of answers that carry
// only a message.
type messageBody struct {
	Message string       `json:"message"`
	Code    int          `json:"code"`
	Error   *errorDetail `json:"error,omitempty"` // newer servers' form, on 429 answers
}

// errorDetail is the "error" object of newer servers' error answers.
type errorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// errorAnswer returns the status and body for err, and the value of the
// Retry-After header (0 = none). Errors that are not API errors are logged
// and answered with a 500.
func (s *Server) errorAnswer(err error) (status int, body any, retryAfter int64) {
	var limited *rateLimitError
	if errors.As(err, &limited) {
		return http.StatusTooManyRequests, rateLimitBody, retryAfterSeconds(limited.retryAfter)
	}
	var route *routeError
	if errors.As(err, &route) {
		return route.status, route.body(), 0
	}
	var apiErr *apiError
	if !errors.As(err, &apiErr) {
		s.errorLog.Printf("localserver: %v", err)
		apiErr = errServer
	}
	return apiErr.status, messageBody{Message: apiErr.message, Code: apiErr.code}, 0
}

// writeAnswer writes body as a 200 answer, or the error answer of err.
func (s *Server) writeAnswer(w http.ResponseWriter, body any, err error) {
	if err != nil {
		s.writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, body)
}

// writeError writes the error answer of err.
func (s *Server) writeError(w http.ResponseWriter, err error) {
	status, body, retryAfter := s.errorAnswer(err)
	if retryAfter > 0 {
		w.Header().Set("Retry-After", strconv.FormatInt(retryAfter, 10))
	}
	writeJSON(w, status, body)
}

func writeJSON(w http.ResponseWriter, status int, body any) {
	data, err := json.Marshal(body)
	if err != nil {
		status, data = http.StatusInternalServerError, []byte(`{"message":"Server error","code":1}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(data, '\n'))
}

// clientIP returns the IP address of the client of r.
func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
