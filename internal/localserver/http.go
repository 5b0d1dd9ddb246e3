package localserver

import (
	"encoding/json"
	"errors"
	"maps"
	"net"
	"net/http"
	"slices"
	"strings"
)

// endpoint is the handler of one method on one path. handle returns the
// body of a 200 answer, or an error that the dispatcher turns into an
// error answer.
type endpoint struct {
	public bool // served without an access token
	handle func(r *http.Request) (any, error)
}

// routeTable maps every path and method the server answers to its
// endpoint. A new path set only needs its own lines here and its own thin
// handlers around the core.
func (s *Server) routeTable() map[string]map[string]endpoint {
	post := func(h func(*http.Request) (any, error)) map[string]endpoint {
		return map[string]endpoint{http.MethodPost: {handle: h}}
	}
	return map[string]map[string]endpoint{
		// Generation 1, snake_case answers.
		"/activate-key":   post(s.activateKeyV1),
		"/deactivate-key": post(s.deactivateKeyV1),
		"/get-key":        post(s.getKeyV1),

		// Local debugging aids.
		"/_local/seats":  {http.MethodGet: {handle: s.seatsLocal}},
		"/_local/health": {http.MethodGet: {public: true, handle: s.healthLocal}},
	}
}

// Handler returns the HTTP handler of the API.
func (s *Server) Handler() http.Handler {
	return http.HandlerFunc(s.serveHTTP)
}

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	s.countCall(r.URL.Path)
	body, err := s.dispatch(w, r)
	if err != nil {
		status, answer := s.errorAnswer(err)
		writeJSON(w, status, answer)
		return
	}
	writeJSON(w, http.StatusOK, body)
}

// dispatch finds the endpoint of r, checks its access token and runs it.
func (s *Server) dispatch(w http.ResponseWriter, r *http.Request) (any, error) {
	methods, ok := s.routes[r.URL.Path]
	if !ok {
		return nil, errPathNotFound
	}
	ep, ok := methods[r.Method]
	if !ok {
		w.Header().Set("Allow", strings.Join(slices.Sorted(maps.Keys(methods)), ", "))
		return nil, errMethodNotAllowed
	}
	if !ep.public && !s.authorized(r) {
		return nil, errUnauthorized
	}
	return ep.handle(r)
}

// authorized reports whether r carries a known bearer token.
func (s *Server) authorized(r *http.Request) bool {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return false
	}
	token = strings.TrimSpace(token)
	s.mu.Lock()
	defer s.mu.Unlock()
	return token != "" && s.tokens[token]
}

// messageBody is the body of an error answer, and of answers that carry
// only a message.
type messageBody struct {
	Message string `json:"message"`
	Code    int    `json:"code"`
}

// errorAnswer returns the status and body for err. Errors that are not API
// errors are logged and answered with a 500.
func (s *Server) errorAnswer(err error) (int, messageBody) {
	var apiErr *apiError
	if !errors.As(err, &apiErr) {
		s.errorLog.Printf("localserver: %v", err)
		apiErr = errServer
	}
	return apiErr.status, messageBody{Message: apiErr.message, Code: apiErr.code}
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
