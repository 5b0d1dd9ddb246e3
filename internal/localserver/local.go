package localserver

import "net/http"

// Local debugging aids, not part of the KeyMint API.

// seatsLocal answers GET /_local/seats with every held seat, keys masked.
func (s *Server) seatsLocal(*http.Request) (any, error) {
	return s.Seats(), nil
}

// healthLocal answers GET /_local/health.
func (s *Server) healthLocal(*http.Request) (any, error) {
	return struct {
		Status string `json:"status"`
	}{"ok"}, nil
}
