package main

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/mail"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/keymint-dev/terraform-provider-keymint/internal/keymint"
	"github.com/keymint-dev/terraform-provider-keymint/internal/localserver"
	"github.com/keymint-dev/terraform-provider-keymint/internal/localserver/atomicfile"
)

// envLocalToken names the variable that gives `keymint-local serve` its
// access token when no -token flag does.
const envLocalToken = "KEYMINT_LOCAL_TOKEN"

const (
	defaultAddr     = "127.0.0.1:8787"
	shutdownTimeout = 5 * time.Second
)

// serveConfig is the parsed command line of serve.
type serveConfig struct {
	addr, addrFile, seedFile, stateFile string
	api                                 string
	allowRemote                         bool
	tokens                              tokenList
	catalog                             catalog
	rateLimit                           localserver.RateLimit
	faults                              localserver.FaultConfig
}

func parseServeFlags(args []string, stderr io.Writer) (*serveConfig, error) {
	cfg := &serveConfig{}
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.addr, "addr", defaultAddr, "`host:port` to listen on; port 0 picks a free port")
	fs.StringVar(&cfg.addrFile, "addr-file", "", "write the base URL to this `file` once listening (atomically; removed on exit)")
	fs.StringVar(&cfg.seedFile, "seed", "", "JSON seed `file` (access_tokens, scoped tokens and products with licenses)")
	fs.StringVar(&cfg.stateFile, "state", "", "state `file`: loaded if present, rewritten after every change, and locked while the server runs\n(through FILE.lock beside it), so that a second server on the same file refuses to start")
	fs.BoolVar(&cfg.allowRemote, "allow-remote", false, "allow a non-loopback -addr (secrets travel over plain HTTP)")
	fs.Var(&cfg.tokens, "token", "accepted access token: `TOKEN` has every scope, TOKEN:SCOPE[,SCOPE...] only those (split at the\nfirst colon), such as at_client:licenses:activate (repeatable; default $"+envLocalToken+").\nScopes: "+strings.Join(localserver.Scopes(), ", "))
	fs.Var(productFlag{&cfg.catalog}, "product", "add a product `ID`; the following -license flags belong to it, and keys can be created for it through the API (repeatable)")
	fs.Var(licenseFlag{&cfg.catalog}, "license", "add a license `KEY=SEATS` to the last -product; SEATS is a number or \"unlimited\" (repeatable)")
	fs.Var(customerFlag{&cfg.catalog}, "customer", "customer `\"Name <email>\"` of the -license flags that follow (\"\" for none)")
	cfg.api = localserver.APIBoth
	fs.Var(apiFlag{&cfg.api}, "api", "the API generation(s) to serve, `v1|v2|both`: v1 = POST "+
		strings.Join([]string{keymint.PathActivateV1, keymint.PathDeactivateV1, keymint.PathGetKeyV1, keymint.PathCreateKeyV1}, ", ")+
		",\n"+keymint.PathBlockKeyV1+", "+keymint.PathUnblockKeyV1+"; v2 = POST "+
		strings.Join([]string{keymint.PathActivateV2, keymint.PathDeactivateV2, keymint.PathCreateKeyV2, keymint.PathBlockKeyV2, keymint.PathUnblockKeyV2}, ", ")+
		", GET "+keymint.PathGetKeyV2+";\nboth serve PATCH "+keymint.PathUpdateKey+" (update); the other generation's paths answer 404 like unknown paths")
	fs.Var(rateLimitFlag{&cfg.rateLimit}, "rate-limit", "limit each access token to `N/DURATION`: N API requests in any DURATION (a sliding window), such as 10/1m\nor 3/3s, then 429 with a Retry-After; a bare N means N a minute (default: no limit)")
	fs.Var(rateFlag{&cfg.faults.ServerErrorRate}, "fault-5xx", "answer this share of API requests with 500 before handling them (`RATE` 0-1)")
	fs.Var(rateFlag{&cfg.faults.RateLimitRate}, "fault-429", "answer this share of API requests with 429 before handling them (`RATE` 0-1)")
	fs.DurationVar(&cfg.faults.RetryAfter, "fault-retry-after", 0, "Retry-After of injected 429s, and of real ones if set (`DURATION`, whole seconds rounded up, at least 1s)")
	fs.DurationVar(&cfg.faults.Latency, "fault-latency", 0, "wait this `DURATION` before handling each API request")
	fs.Var(rateFlag{&cfg.faults.LostAnswerRate}, "fault-lost", "handle this share of API requests, then close the connection without an answer (`RATE` 0-1)")
	fs.Int64Var(&cfg.faults.Seed, "fault-seed", 0, "seed `N` of the fault decisions, so that a run is repeatable")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), serveUsageHead)
		fs.PrintDefaults()
		fmt.Fprint(fs.Output(), serveUsageTail)
	}
	if err := parseFlags(fs, args); err != nil {
		return nil, err
	}
	if err := errors.Join(cfg.tokens.err, cfg.catalog.err); err != nil {
		return nil, err
	}
	return cfg, nil
}

// seed returns the seed the flags describe.
func (cfg *serveConfig) seed(getenv func(string) string) (localserver.Seed, error) {
	var seed localserver.Seed
	if cfg.seedFile != "" {
		var err error
		if seed, err = localserver.LoadSeedFile(cfg.seedFile); err != nil {
			return seed, err
		}
	}
	tokens := cfg.tokens
	if len(tokens.all)+len(tokens.scoped) == 0 {
		if t := getenv(envLocalToken); t != "" {
			tokens.name = "$" + envLocalToken
			_ = tokens.Set(t)
			if tokens.err != nil {
				return seed, tokens.err
			}
		}
	}
	seed.AccessTokens = append(seed.AccessTokens, tokens.all...)
	seed.Tokens = append(seed.Tokens, tokens.scoped...)
	seed.Products = append(seed.Products, cfg.catalog.products...)
	if len(seed.AccessTokens)+len(seed.Tokens) == 0 {
		return seed, errors.New("no access token: pass -token TOKEN, set " + envLocalToken + ", or list access_tokens or tokens in the -seed file")
	}
	return seed, nil
}

func serve(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) (err error) {
	cfg, err := parseServeFlags(args, stderr)
	if err != nil {
		return err
	}
	if err := checkLoopback(cfg.addr, cfg.allowRemote); err != nil {
		return err
	}
	seed, err := cfg.seed(getenv)
	if err != nil {
		return err
	}
	logger := log.New(stderr, "", log.LstdFlags)
	api, err := localserver.New(localserver.Options{
		Seed:      seed,
		StateFile: cfg.stateFile,
		ErrorLog:  logger,
		Faults:    cfg.faults,
		RateLimit: cfg.rateLimit,
		API:       cfg.api,
	})
	var locked *localserver.StateLockedError
	if errors.As(err, &locked) {
		return fmt.Errorf("-state %s is in use by another server, %s; stop that server, or give this one another -state file", cfg.stateFile, locked.Owner)
	}
	if err != nil {
		return err
	}
	// The state file stays locked until the HTTP server has shut down.
	defer func() { err = errors.Join(err, api.Close()) }()
	ln, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		return err
	}
	baseURL := "http://" + ln.Addr().String()
	if cfg.addrFile != "" {
		if err := atomicfile.Write(cfg.addrFile, []byte(baseURL), 0o644); err != nil {
			ln.Close()
			return fmt.Errorf("write -addr-file: %w", err)
		}
		defer os.Remove(cfg.addrFile)
	}
	// Every request is logged before the server exits: Shutdown waits for
	// the handlers of the connections it tracks, but not for one whose
	// connection was taken over to drop its answer (a lost-answer fault),
	// so handlers counts them all.
	var handlers sync.WaitGroup
	srv := &http.Server{
		Handler:           logRequests(api.Handler(), logger, &handlers),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          logger,
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	fmt.Fprintf(stdout, "keymint-local listening on %s\n", baseURL)

	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	logger.Print("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	logged := make(chan struct{})
	go func() { handlers.Wait(); close(logged) }()
	select {
	case <-logged:
	case <-shutdownCtx.Done():
		return fmt.Errorf("shutdown: %w", shutdownCtx.Err())
	}
	return nil
}

// checkLoopback refuses an address other clients could reach, unless
// allowed: the server hands out secrets over plain HTTP.
func checkLoopback(addr string, allowRemote bool) error {
	if allowRemote {
		return nil
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("invalid -addr %q: %w", addr, err)
	}
	if ip := net.ParseIP(host); host == "localhost" || (ip != nil && ip.IsLoopback()) {
		return nil
	}
	return fmt.Errorf("-addr %q is not a loopback address; the server sends license keys over plain HTTP, pass -allow-remote to listen there anyway", addr)
}

// logRequests logs one line per request: method, path, status (or
// "dropped" for a lost-answer fault, "gone" for a client that left during
// an injected latency) and duration. It never logs bodies, headers or
// query strings, which may carry keys and tokens. handlers counts the
// requests being handled, until their line is logged.
func logRequests(next http.Handler, logger *log.Logger, handlers *sync.WaitGroup) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		handlers.Add(1)
		defer handlers.Done()
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w}
		next.ServeHTTP(rec, r)
		logger.Printf("%s %s %s %s", r.Method, r.URL.Path, rec.outcome(r.Context()), time.Since(start).Round(time.Microsecond))
	})
}

// statusRecorder remembers the status of an answer for the request log.
type statusRecorder struct {
	http.ResponseWriter
	status   int // 0 = nothing written yet
	hijacked bool
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

func (r *statusRecorder) WriteHeader(status int) {
	if r.status == 0 {
		r.status = status
	}
	r.ResponseWriter.WriteHeader(status)
}

func (r *statusRecorder) Write(p []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.ResponseWriter.Write(p)
}

// Hijack takes over the connection, which the server does to drop an
// answer, and remembers it for the log.
func (r *statusRecorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, rw, err := http.NewResponseController(r.ResponseWriter).Hijack()
	r.hijacked = err == nil
	return conn, rw, err
}

// outcome describes the answer for the log.
func (r *statusRecorder) outcome(ctx context.Context) string {
	switch {
	case r.hijacked:
		return "dropped"
	case r.status != 0:
		return strconv.Itoa(r.status)
	case ctx.Err() != nil:
		return "gone"
	}
	return strconv.Itoa(http.StatusOK) // the server sends an empty 200
}

// rateFlag is a flag holding a probability in [0,1].
type rateFlag struct{ p *float64 }

func (f rateFlag) String() string {
	if f.p == nil {
		return "0"
	}
	return strconv.FormatFloat(*f.p, 'g', -1, 64)
}

func (f rateFlag) Set(v string) error {
	rate, err := strconv.ParseFloat(v, 64)
	if err != nil || !(rate >= 0 && rate <= 1) {
		return errors.New("want a probability between 0 and 1")
	}
	*f.p = rate
	return nil
}

// apiFlag is a flag holding an API generation: v1, v2 or both.
type apiFlag struct{ api *string }

func (f apiFlag) String() string {
	if f.api == nil {
		return ""
	}
	return *f.api
}

func (f apiFlag) Set(v string) error {
	switch v {
	case localserver.APIv1, localserver.APIv2, localserver.APIBoth:
		*f.api = v
		return nil
	}
	return fmt.Errorf("want %s, %s or %s", localserver.APIv1, localserver.APIv2, localserver.APIBoth)
}

// rateLimitFlag is a flag holding a rate limit, "N/DURATION" or "N".
type rateLimitFlag struct{ l *localserver.RateLimit }

func (f rateLimitFlag) String() string {
	if f.l == nil || *f.l == (localserver.RateLimit{}) {
		return ""
	}
	return f.l.String()
}

func (f rateLimitFlag) Set(v string) error {
	l, err := localserver.ParseRateLimit(v)
	if err != nil {
		return err
	}
	*f.l = l
	return nil
}

// tokenList collects repeated -token flags: TOKEN (every scope) or
// TOKEN:SCOPE[,SCOPE...], split at the first colon, since scope names hold
// colons themselves. Errors are kept in err instead of being returned by
// Set, because the flag package would print the value, which holds the
// token; they never show the token.
type tokenList struct {
	all    []string                // tokens with every scope
	scoped []localserver.TokenSeed // tokens with the scopes listed
	name   string                  // what errors call the value; "" = "-token"
	err    error
}

func (l *tokenList) String() string { return "" }

func (l *tokenList) Set(v string) error {
	name := l.name
	if name == "" {
		name = "-token"
	}
	fail := func(err error) error {
		l.err = errors.Join(l.err, fmt.Errorf("%s: %w", name, err))
		return nil
	}
	token, list, scoped := strings.Cut(v, ":")
	if token == "" {
		return fail(errors.New("empty token; want TOKEN or TOKEN:SCOPE[,SCOPE...]"))
	}
	if !scoped {
		l.all = append(l.all, token)
		return nil
	}
	if list == "" {
		return fail(errors.New("no scope after the colon; a token with every scope is given without one"))
	}
	scopes := strings.Split(list, ",")
	for i := range scopes {
		scopes[i] = strings.TrimSpace(scopes[i])
	}
	if err := localserver.ValidateScopes(scopes); err != nil {
		return fail(err)
	}
	l.scoped = append(l.scoped, localserver.TokenSeed{Token: token, Scopes: scopes})
	return nil
}

// catalog collects the products and licenses of the -product, -license and
// -customer flags, in command line order. Errors are kept in err instead of
// being returned by Set, because the flag package would print the value,
// which holds a license key.
type catalog struct {
	products []localserver.ProductSeed
	customer *localserver.Customer
	err      error
}

type (
	productFlag  struct{ *catalog }
	licenseFlag  struct{ *catalog }
	customerFlag struct{ *catalog }
)

func (productFlag) String() string  { return "" }
func (licenseFlag) String() string  { return "" }
func (customerFlag) String() string { return "" }

func (f productFlag) Set(id string) error {
	f.products = append(f.products, localserver.ProductSeed{ID: id})
	return nil
}

func (f licenseFlag) Set(v string) error {
	key, seats, ok := cutLast(v, "=")
	fail := func(msg string) error {
		f.err = errors.Join(f.err, fmt.Errorf("-license %s: %s", localserver.MaskKey(key), msg))
		return nil
	}
	if len(f.products) == 0 {
		return fail("give -product before its -license flags")
	}
	if !ok || key == "" {
		return fail("want KEY=SEATS")
	}
	l := localserver.LicenseSeed{Key: key, Customer: f.customer}
	if seats != "unlimited" {
		n, err := strconv.Atoi(seats)
		if err != nil || n < 0 {
			return fail(`SEATS must be a non-negative number or "unlimited"`)
		}
		l.MaxActivations = &n
	}
	p := &f.products[len(f.products)-1]
	p.Licenses = append(p.Licenses, l)
	return nil
}

func (f customerFlag) Set(v string) error {
	if v == "" {
		f.customer = nil
		return nil
	}
	addr, err := mail.ParseAddress(v)
	if err != nil {
		return fmt.Errorf(`want "Name <email>": %w`, err)
	}
	sum := sha256.Sum256([]byte(addr.Address))
	f.customer = &localserver.Customer{
		ID:     "cus_" + hex.EncodeToString(sum[:8]),
		Name:   addr.Name,
		Email:  addr.Address,
		Active: true,
	}
	return nil
}

// cutLast slices s around the last instance of sep.
func cutLast(s, sep string) (before, after string, found bool) {
	if i := strings.LastIndex(s, sep); i >= 0 {
		return s[:i], s[i+len(sep):], true
	}
	return s, "", false
}
