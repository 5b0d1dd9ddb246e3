package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/keymint-dev/terraform-provider-keymint/internal/keymint"
)

// Call counting modes.
const (
	// CountEndpoint reads GET /_local/calls.
	CountEndpoint = "GET /_local/calls"
	// CountLog counts the server's request log lines.
	CountLog = "request log"
)

// server is a keymint-local process.
type server struct {
	cmd     *exec.Cmd
	url     string
	token   string
	http    *http.Client
	log     *requestLog
	mode    string // CountEndpoint or CountLog
	exited  chan struct{}
	waitErr error
}

// startServer starts keymint-local (bin) on a free loopback port with the
// given token and product, and one unlimited license per key for customer.
// Its request log goes to dir/server.log.
func startServer(ctx context.Context, bin, dir, token, product, customer string, keys []string) (*server, error) {
	addrFile := filepath.Join(dir, "server.url")
	args := []string{"serve", "-addr", "127.0.0.1:0", "-addr-file", addrFile, "-token", token,
		"-product", product, "-customer", customer}
	for _, k := range keys {
		args = append(args, "-license", k+"=unlimited")
	}
	logFile, err := os.Create(filepath.Join(dir, "server.log"))
	if err != nil {
		return nil, err
	}
	// Not CommandContext: the server is stopped by stop, after the CLI.
	cmd := exec.Command(bin, args...)
	cmd.Stdout = io.Discard
	stderr, err := cmd.StderrPipe()
	if err != nil {
		logFile.Close()
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("starting keymint-local: %w", err)
	}
	s := &server{
		cmd:    cmd,
		token:  token,
		http:   &http.Client{Timeout: 30 * time.Second},
		log:    newRequestLog(),
		exited: make(chan struct{}),
	}
	logDone := make(chan struct{})
	go func() {
		defer close(logDone)
		defer logFile.Close()
		s.log.consume(io.TeeReader(stderr, logFile))
	}()
	go func() {
		<-logDone // Wait closes the pipe: read it to the end first
		s.waitErr = cmd.Wait()
		close(s.exited)
	}()

	deadline := time.Now().Add(15 * time.Second)
	for {
		if data, err := os.ReadFile(addrFile); err == nil && len(data) > 0 {
			s.url = strings.TrimSpace(string(data))
			break
		}
		select {
		case <-s.exited:
			return nil, fmt.Errorf("keymint-local exited before listening (%w):\n%s", s.waitErr, s.log.tail())
		case <-ctx.Done():
			s.stop()
			return nil, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.stop()
			return nil, fmt.Errorf("keymint-local did not write %s:\n%s", addrFile, s.log.tail())
		}
	}

	// Prefer the server's own counters; fall back to its request log.
	s.mode = CountLog
	if _, err := s.endpointCalls(ctx); err == nil {
		s.mode = CountEndpoint
	}
	return s, nil
}

// pid returns the server's process ID.
func (s *server) pid() int { return s.cmd.Process.Pid }

// stop interrupts the server and waits for it.
func (s *server) stop() {
	select {
	case <-s.exited:
		return
	default:
	}
	_ = s.cmd.Process.Signal(os.Interrupt)
	select {
	case <-s.exited:
	case <-time.After(10 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.exited
	}
}

// get GETs a /_local path into v.
func (s *server) get(ctx context.Context, path string, v any) error {
	return s.do(ctx, http.MethodGet, path, nil, v)
}

// do sends a request with the JSON of in (nil: no body) to a /_local path
// and decodes the answer into out (nil: ignored).
func (s *server) do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		data, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, method, s.url+path, body)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+s.token)
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := s.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, strings.TrimSpace(string(data)))
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(data, out)
}

// setRateLimit sets the rate limit of every access token with PUT
// /_local/rate-limit; the zero RateLimit removes it. Every token starts
// with a full allowance.
func (s *server) setRateLimit(ctx context.Context, l RateLimit) error {
	type setting struct {
		Requests int    `json:"requests"`
		Window   string `json:"window"`
	}
	in := setting{Requests: l.Requests, Window: "0s"}
	if l.Requests > 0 {
		in.Window = l.Window.String()
	}
	var got setting
	if err := s.do(ctx, http.MethodPut, "/_local/rate-limit", in, &got); err != nil {
		return fmt.Errorf("setting the rate limit to %s: %w", l, err)
	}
	if w, err := time.ParseDuration(got.Window); got.Requests != l.Requests || (l.Requests > 0 && (err != nil || w != l.Window)) {
		return fmt.Errorf("PUT /_local/rate-limit %+v answered %+v", in, got)
	}
	return nil
}

// rateLimited returns how many requests keymint-local has answered 429 so
// far (GET /_local/faults: stats.rate_limited).
func (s *server) rateLimited(ctx context.Context) (int, error) {
	var body struct {
		Stats struct {
			RateLimited *int `json:"rate_limited"`
		} `json:"stats"`
	}
	if err := s.get(ctx, "/_local/faults", &body); err != nil {
		return 0, err
	}
	if body.Stats.RateLimited == nil {
		return 0, errors.New("GET /_local/faults: the answer has no stats.rate_limited")
	}
	return *body.Stats.RateLimited, nil
}

// endpointCalls reads GET /_local/calls.
func (s *server) endpointCalls(ctx context.Context) (map[string]int, error) {
	var body struct {
		Total  *int           `json:"total"`
		ByPath map[string]int `json:"by_path"`
	}
	if err := s.get(ctx, "/_local/calls", &body); err != nil {
		return nil, err
	}
	if body.Total == nil || body.ByPath == nil {
		return nil, errors.New("GET /_local/calls: the answer has no total and by_path")
	}
	return body.ByPath, nil
}

// calls returns how many requests each path has received so far. In log
// mode it first makes a request to /_local/health and waits until the log
// shows it, so that every earlier request is counted.
func (s *server) calls(ctx context.Context) (map[string]int, error) {
	if s.mode == CountEndpoint {
		return s.endpointCalls(ctx)
	}
	before := s.log.count(healthPath)
	if err := s.get(ctx, healthPath, nil); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := s.log.waitCount(ctx, healthPath, before+1); err != nil {
		return nil, fmt.Errorf("the request log did not show the barrier request: %w", err)
	}
	return s.log.snapshot(), nil
}

// seatRow is a row of GET /_local/seats.
type seatRow struct {
	ProductID string `json:"product_id"`
	HostID    string `json:"host_id"`
}

// seats returns every seat the server holds.
func (s *server) seats(ctx context.Context) ([]seatRow, error) {
	var rows []seatRow
	err := s.get(ctx, "/_local/seats", &rows)
	return rows, err
}

const healthPath = "/_local/health"

// apiCalls sums the requests to API paths (everything outside /_local/).
func apiCalls(byPath map[string]int) int {
	n := 0
	for p, c := range byPath {
		if !strings.HasPrefix(p, "/_local/") {
			n += c
		}
	}
	return n
}

// getKeyPaths are the paths of the get-key call: generation 1 (POST
// /get-key) and the current API (GET /key).
var getKeyPaths = []string{keymint.PathGetKeyV1, keymint.PathGetKeyV2}

// getKeyCalls sums the get-key requests of byPath.
func getKeyCalls(byPath map[string]int) int {
	n := 0
	for _, p := range getKeyPaths {
		n += byPath[p]
	}
	return n
}

// diffCalls returns after - before, path by path, dropping zeroes.
func diffCalls(before, after map[string]int) map[string]int {
	out := map[string]int{}
	for p, n := range after {
		if d := n - before[p]; d != 0 {
			out[p] = d
		}
	}
	return out
}

// requestLog counts the request lines keymint-local writes to stderr:
// "2006/01/02 15:04:05 POST /get-key 200 1.234ms".
type requestLog struct {
	mu     sync.Mutex
	cond   *sync.Cond
	counts map[string]int
	last   []string // the last lines, for error messages
	closed bool
}

// The outcome is a status code, or a word such as "dropped" for injected
// faults.
var requestLine = regexp.MustCompile(`^\d{4}/\d\d/\d\d \d\d:\d\d:\d\d(?:\.\d+)? ([A-Z]+) (/\S*) (\S+) \S+$`)

// parseRequestLine returns the path of a request log line.
func parseRequestLine(line string) (path string, ok bool) {
	m := requestLine.FindStringSubmatch(line)
	if m == nil {
		return "", false
	}
	return m[2], true
}

const logTailLines = 30

func newRequestLog() *requestLog {
	l := &requestLog{counts: map[string]int{}}
	l.cond = sync.NewCond(&l.mu)
	return l
}

func (l *requestLog) consume(r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		path, ok := parseRequestLine(line)
		l.mu.Lock()
		if ok {
			l.counts[path]++
		}
		l.last = append(l.last, line)
		if len(l.last) > 2*logTailLines {
			l.last = append([]string(nil), l.last[len(l.last)-logTailLines:]...)
		}
		l.cond.Broadcast()
		l.mu.Unlock()
	}
	l.mu.Lock()
	l.closed = true
	l.cond.Broadcast()
	l.mu.Unlock()
}

func (l *requestLog) count(path string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.counts[path]
}

func (l *requestLog) snapshot() map[string]int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return maps.Clone(l.counts)
}

// waitCount waits until path has been logged at least n times.
func (l *requestLog) waitCount(ctx context.Context, path string, n int) error {
	stop := context.AfterFunc(ctx, func() {
		l.mu.Lock()
		l.cond.Broadcast()
		l.mu.Unlock()
	})
	defer stop()
	l.mu.Lock()
	defer l.mu.Unlock()
	for l.counts[path] < n {
		if l.closed {
			return errors.New("the server's log ended")
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		l.cond.Wait()
	}
	return nil
}

func (l *requestLog) tail() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	lines := l.last
	if len(lines) > logTailLines {
		lines = lines[len(lines)-logTailLines:]
	}
	return strings.Join(lines, "\n")
}
