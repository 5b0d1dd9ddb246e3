// Package keymint is a small client for the KeyMint licensing API.
//
// It knows nothing about Terraform: the provider maps its models onto the calls
// here. Every call takes a context, sends the access token as a bearer token and
// returns an *Error for any answer that is not a success, so that callers can
// branch on the predicates in errors.go. Transient failures are retried (see
// retry.go); rate limits are waited out by every client of the process with
// the same token together, and requests may be paced (see ratelimit.go);
// reads of a license are shared between concurrent callers (see
// coalesce.go).
package keymint

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"
)

// DefaultBaseURL is the base URL of the hosted KeyMint API.
const DefaultBaseURL = "https://api.keymint.dev"

// API generations: the flat paths of the /deactivate-key page (v1), the
// /key/... paths of KeyMint's current SDKs (v2), or whichever of the two the
// server serves (auto: v1 first, see Client.call).
const (
	APIAuto = "auto"
	APIv1   = "v1"
	APIv2   = "v2"
)

// APIVersions lists the supported values of Config.APIVersion.
var APIVersions = []string{APIAuto, APIv1, APIv2}

// DefaultAPIVersion is the API generation of a Config that names none.
const DefaultAPIVersion = APIAuto

// Defaults of the retry and timeout settings.
const (
	DefaultMaxRetries     = 5
	DefaultRetryWaitMin   = 1 * time.Second
	DefaultRetryWaitMax   = 30 * time.Second
	DefaultRequestTimeout = 30 * time.Second
	DefaultRateLimitWait  = 15 * time.Minute
)

// maxResponseBytes bounds how much of an answer is read. A get-key answer for a
// license with thousands of devices is well under this.
const maxResponseBytes = 32 << 20

// Config configures a Client. Zero values take the defaults above.
type Config struct {
	// BaseURL is the API's base URL, for example https://api.keymint.dev.
	BaseURL string
	// AccessToken is sent as "Authorization: Bearer <token>".
	AccessToken string
	// APIVersion selects the path set: APIAuto, APIv1 or APIv2; "" means
	// DefaultAPIVersion.
	APIVersion string
	// UserAgent is sent with every request.
	UserAgent string
	// MaxRetries is how often a request is retried after a failure that a
	// retry may cure (see retry.go for which); nil means DefaultMaxRetries,
	// negative means 0. Rate-limit answers count against RateLimitWait
	// instead.
	MaxRetries *int
	// RetryWaitMin and RetryWaitMax bound the exponential backoff between
	// retries. They do not bound a server's Retry-After, which is honoured in
	// full within RateLimitWait.
	RetryWaitMin, RetryWaitMax time.Duration
	// RateLimitWait is how long a call may wait in total because of rate
	// limits (429, or 503 with a Retry-After) before it gives up; nil means
	// DefaultRateLimitWait, 0 gives up at the first rate-limit answer. It
	// must lie within MinRateLimitWait and MaxRateLimitWait. Rate-limit
	// answers do not count against MaxRetries.
	RateLimitWait *time.Duration
	// MaxRequestsPerMinute paces the requests to BaseURL with AccessToken,
	// of every client in the process, so that a known plan limit is never
	// hit; 0 leaves them unpaced. At most MaxMaxRequestsPerMinute. When clients sharing a token set
	// different paces, the slowest applies to all.
	MaxRequestsPerMinute int
	// RequestTimeout bounds each attempt, answer included.
	RequestTimeout time.Duration
	// Transport, when set, carries the requests (tests inject faults here).
	Transport http.RoundTripper
	// FreshReads turns off the sharing of reads (see GetKey), for callers
	// that watch a license that others change.
	FreshReads bool
	// Logger receives the client's log lines; nil logs nothing.
	Logger Logger
}

// Client calls the KeyMint API. It is safe for concurrent use.
type Client struct {
	baseURL string
	// shownURL is baseURL as errors show it (see displayURL).
	shownURL  string
	token     string
	userAgent string
	// paths is the path set in use; auto allows switching it from
	// generation 1 to generation 2, once.
	paths  atomic.Pointer[paths]
	auto   bool
	http   *http.Client
	retry  retryPolicy
	limits *sharedLimits // shared with every client of this server and token
	reads  *readCoalescer
	logger Logger // or nil
}

// The paths of the API's calls, by generation: everything that speaks or
// serves the API (this client, keymint-local, the tests) uses these names.
// Generation 1 sends every call as a POST with a JSON body; generation 2
// reads a license with a GET whose key travels in HeaderLicenseKey.
const (
	PathActivateV1   = "/activate-key"
	PathDeactivateV1 = "/deactivate-key"
	PathGetKeyV1     = "/get-key"
	PathCreateKeyV1  = "/create-key"
	PathBlockKeyV1   = "/block-key"
	PathUnblockKeyV1 = "/unblock-key"

	PathActivateV2   = "/key/activate"
	PathDeactivateV2 = "/key/deactivate"
	PathGetKeyV2     = "/key" // GET
	PathCreateKeyV2  = "/key" // POST
	PathBlockKeyV2   = "/key/block"
	PathUnblockKeyV2 = "/key/unblock"

	// PathUpdateKey (PATCH) is the update of a key under either generation:
	// generation 1 documents no update call, KeyMint's current SDKs use it.
	PathUpdateKey = "/key"

	// HeaderLicenseKey carries the license key of a generation-2 get-key,
	// never the URL, which proxies log.
	HeaderLicenseKey = "X-License-Key"
)

// paths are the endpoints of one API generation.
type paths struct {
	version                      string
	activate, deactivate, getKey string
	// getKeyByHeader: the key travels in HeaderLicenseKey of a GET
	// (generation 2) instead of a POST body (generation 1).
	getKeyByHeader bool
}

var (
	gen1 = &paths{version: APIv1, activate: PathActivateV1, deactivate: PathDeactivateV1, getKey: PathGetKeyV1}
	gen2 = &paths{version: APIv2, activate: PathActivateV2, deactivate: PathDeactivateV2, getKey: PathGetKeyV2, getKeyByHeader: true}
)

var pathSets = map[string]*paths{APIAuto: gen1, APIv1: gen1, APIv2: gen2}

// New returns a client for cfg. It fails when a setting is unusable.
func New(cfg Config) (*Client, error) {
	if cfg.AccessToken == "" {
		return nil, errors.New("the access token is empty")
	}
	u, err := url.Parse(cfg.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("base URL %q is not an absolute http or https URL", displayURL(cfg.BaseURL))
	}
	if u.User != nil {
		return nil, fmt.Errorf("base URL %q must not contain user information; the access token goes in AccessToken", displayURL(cfg.BaseURL))
	}
	if u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || strings.Contains(cfg.BaseURL, "#") {
		return nil, fmt.Errorf("base URL %q must not have a query or a fragment", displayURL(cfg.BaseURL))
	}
	version := cfg.APIVersion
	if version == "" {
		version = DefaultAPIVersion
	}
	ps, ok := pathSets[version]
	if !ok {
		return nil, fmt.Errorf("API version %q is not supported; use one of %s", version, strings.Join(APIVersions, ", "))
	}
	policy, err := newRetryPolicy(cfg)
	if err != nil {
		return nil, err
	}
	hc, err := newHTTPClient(cfg)
	if err != nil {
		return nil, err
	}
	ua := cfg.UserAgent
	if ua == "" {
		ua = "terraform-provider-keymint"
	}
	baseURL := strings.TrimRight(cfg.BaseURL, "/")
	c := &Client{
		baseURL:   baseURL,
		shownURL:  displayURL(baseURL),
		token:     cfg.AccessToken,
		userAgent: ua,
		auto:      version == APIAuto,
		http:      hc,
		retry:     policy,
		limits:    limitsFor(baseURL, cfg.AccessToken, cfg.MaxRequestsPerMinute),
		reads:     newReadCoalescer(!cfg.FreshReads),
		logger:    cfg.Logger,
	}
	c.paths.Store(ps)
	return c, nil
}

// APIVersionInUse returns the path set the client sends its calls to now:
// APIv1 or APIv2. With APIAuto it is APIv1 until the server answers a
// generation-1 path as an unknown route and serves generation 2.
func (c *Client) APIVersionInUse() string {
	return c.paths.Load().version
}

// ActivateInput names the device to bind to a license.
type ActivateInput struct {
	ProductID  string
	LicenseKey string
	HostID     string
	DeviceTag  string // optional
}

// Activation is the answer to an activation.
type Activation struct {
	Message       string
	LicenseeName  string
	LicenseeEmail string
}

// Deactivation is the answer to a deactivation.
type Deactivation struct {
	Message string
	// DevicesRemoved is the server's count of freed devices, when it sends one.
	DevicesRemoved *int64
}

// License is a license key as get-key reports it.
type License struct {
	ID        string
	ProductID string
	// MaxActivations is the seat limit; nil means unlimited.
	MaxActivations *int64
	// Activations is the number of devices holding a seat.
	Activations int64
	Devices     []Device
	// Activated is false when the key is blocked.
	Activated bool
	// ExpirationDate is the expiry as the server sent it, or "" for none.
	ExpirationDate string
	Customer       *Customer

	byHost map[string]int // index into Devices, built on first use
}

// Device is one device holding a seat of a license.
type Device struct {
	HostID         string
	DeviceTag      string
	IPAddress      string
	ActivationTime string
}

// Customer is the customer a license belongs to.
type Customer struct {
	ID     string
	Name   string
	Email  string
	Active bool
}

// Device returns the device with the given host ID, if the license holds it.
func (l *License) Device(hostID string) (Device, bool) {
	if l.byHost != nil {
		if i, ok := l.byHost[hostID]; ok {
			return l.Devices[i], true
		}
		return Device{}, false
	}
	for _, d := range l.Devices {
		if d.HostID == hostID {
			return d, true
		}
	}
	return Device{}, false
}

// HostIDs lists the host IDs holding seats, in the server's order.
func (l *License) HostIDs() []string {
	ids := make([]string, len(l.Devices))
	for i, d := range l.Devices {
		ids[i] = d.HostID
	}
	return ids
}

// keyRequest is the JSON body of the calls.
type keyRequest struct {
	ProductID  string `json:"productId"`
	LicenseKey string `json:"licenseKey"`
	HostID     string `json:"hostId,omitempty"`
	DeviceTag  string `json:"deviceTag,omitempty"`
}

// Activate binds in.HostID to the license.
//
// Retrying it is safe: activating a host that already holds a seat of the
// license answers the same success and uses no second seat, so a retry after
// a lost answer cannot take a seat twice.
func (c *Client) Activate(ctx context.Context, in ActivateInput) (*Activation, error) {
	if in.HostID == "" {
		// Without a hostId the service invents a random host that burns a seat.
		return nil, errors.New("activate: the host ID is empty")
	}
	defer c.reads.startWrite(in.ProductID, in.LicenseKey)()
	obj, err := c.call(ctx, "activate", func(p *paths) request {
		return request{method: http.MethodPost, path: p.activate, body: keyRequest(in), key: in.LicenseKey, mutating: true}
	})
	if err != nil {
		return nil, err
	}
	return &Activation{
		Message:       str(obj, "message"),
		LicenseeName:  str(obj, "licensee_name", "licenseeName"),
		LicenseeEmail: str(obj, "licensee_email", "licenseeEmail"),
	}, nil
}

// Deactivate frees the seat held by hostID.
//
// Retrying it is safe: if an earlier attempt freed the seat but its answer
// was lost, the retry is answered 404 "Device not found" (IsDeviceNotFound)
// or 403 "License not activated" (IsNotActivated). Callers count the first
// as freed; the second only once a read confirms that the host holds no
// seat, since a blocked key or an inactive customer may answer the same.
func (c *Client) Deactivate(ctx context.Context, productID, licenseKey, hostID string) (*Deactivation, error) {
	if hostID == "" {
		return nil, errors.New("deactivate: the host ID is empty; use DeactivateAll to free every seat")
	}
	return c.deactivate(ctx, keyRequest{ProductID: productID, LicenseKey: licenseKey, HostID: hostID})
}

// DeactivateAll frees every seat of the license. A retry after a lost answer
// is answered 403 "License not activated" (IsNotActivated).
func (c *Client) DeactivateAll(ctx context.Context, productID, licenseKey string) (*Deactivation, error) {
	return c.deactivate(ctx, keyRequest{ProductID: productID, LicenseKey: licenseKey})
}

func (c *Client) deactivate(ctx context.Context, body keyRequest) (*Deactivation, error) {
	defer c.reads.startWrite(body.ProductID, body.LicenseKey)()
	obj, err := c.call(ctx, "deactivate", func(p *paths) request {
		return request{method: http.MethodPost, path: p.deactivate, body: body, key: body.LicenseKey, mutating: true}
	})
	if err != nil {
		return nil, err
	}
	d := &Deactivation{Message: str(obj, "message")}
	if n, ok := integer(obj, "devicesRemoved", "devices_removed"); ok {
		d.DevicesRemoved = &n
	}
	return d, nil
}

// GetKey reads a license with all its devices. It first waits for the
// writes to that license through this client that are in flight when it is
// called, so that it sees them. Concurrent calls for the same license share
// one request, and so do later ones until the next write to that license
// through this client (unless Config.FreshReads is set); the result must not
// be modified.
func (c *Client) GetKey(ctx context.Context, productID, licenseKey string) (*License, error) {
	return c.reads.get(ctx, productID, licenseKey, func(ctx context.Context) (*License, error) {
		return c.getKey(ctx, productID, licenseKey)
	})
}

// GetKeyFresh reads a license with a request of its own, sharing nothing
// with earlier reads: for counting what a license holds just before a change
// that devices activated elsewhere may affect.
func (c *Client) GetKeyFresh(ctx context.Context, productID, licenseKey string) (*License, error) {
	return c.getKey(ctx, productID, licenseKey)
}

func (c *Client) getKey(ctx context.Context, productID, licenseKey string) (*License, error) {
	obj, err := c.call(ctx, "get-key", func(p *paths) request {
		req := request{path: p.getKey, key: licenseKey}
		if p.getKeyByHeader {
			// The key goes in a header, never in the URL, which proxies log.
			req.method = http.MethodGet
			req.query = url.Values{"productId": {productID}}
			req.header = http.Header{HeaderLicenseKey: {licenseKey}}
		} else {
			req.method = http.MethodPost
			req.body = keyRequest{ProductID: productID, LicenseKey: licenseKey}
		}
		return req
	})
	if err != nil {
		return nil, err
	}
	return decodeLicense(obj)
}

// request is one API call.
type request struct {
	method, path string
	query        url.Values
	header       http.Header
	body         any    // JSON-encoded when non-nil
	key          string // the license key, masked in logs and errors
	mutating     bool   // sends an Idempotency-Key
	// once: not idempotent, so never sent again once an attempt may have
	// reached the server (see keys.go).
	once bool
	// secretsInAnswer returns the secrets an answer holds (a created key),
	// masked from then on in the call's logs and errors.
	secretsInAnswer func(raw []byte) []string
}

// payload is the JSON body of r, or nil.
func (r request) payload() ([]byte, error) {
	if r.body == nil {
		return nil, nil
	}
	return json.Marshal(r.body)
}

// call sends the request that build makes for the path set in use, with
// retries, and returns the decoded JSON object of a 2xx answer, or an error
// (an *Error for an API refusal).
//
// With APIAuto, a call whose generation-1 path is answered as an unknown
// route (IsUnknownRoute: a 404 or 405 that is not KeyMint's) is repeated on
// the generation-2 path, with the same Idempotency-Key and within the same
// budgets; if that is not answered as an unknown route too, the client uses
// generation 2 from then on. Should both be, the error says so and never
// anything about a license or a seat.
func (c *Client) call(ctx context.Context, op string, build func(*paths) request) (object, error) {
	p := c.paths.Load()
	r := build(p)
	st := &callState{op: op, mask: newMasker(c.token, r.key)}
	// Every field logged here is masked already (see masker); the
	// Logger's own masking backs that up for the usual whole-string forms.
	if c.logger != nil {
		ctx = c.logger.WithSecrets(ctx, st.mask.logStrings()...)
	}
	if r.mutating {
		// The same key on every attempt of this operation lets a server
		// that supports it recognise the repeat.
		st.idempotencyKey = newIdempotencyKey()
	}
	status, raw, err := c.send(ctx, st, r)
	if IsUnknownRoute(err) {
		first, _ := AsError(err)
		if c.auto && p == gen1 {
			r2 := build(gen2)
			c.log(ctx, st, levelDebug, "KeyMint API generation-1 path answered as an unknown route; trying generation 2", map[string]any{
				"operation": op, "path": r.path, "status": first.StatusCode, "next_path": r2.path,
			})
			status, raw, err = c.send(ctx, st, r2)
			if IsUnknownRoute(err) {
				second, _ := AsError(err)
				second.note = fmt.Sprintf("both API path sets were answered as unknown routes by something that is not KeyMint "+
					"(%s %s: HTTP %d; %s %s: HTTP %d); check base_url and api_version",
					r.method, r.path, first.StatusCode, r2.method, r2.path, second.StatusCode)
			} else if c.paths.CompareAndSwap(gen1, gen2) {
				c.log(ctx, st, levelInfo, "KeyMint API: the server does not serve the generation-1 paths (/activate-key, ...); "+
					"using the generation-2 paths (/key/...) from now on", map[string]any{
					"operation": op, "path": r.path, "status": first.StatusCode, "now": r2.path,
				})
			}
		} else {
			first.note = fmt.Sprintf("%s %s was answered as an unknown route by something that is not KeyMint "+
				"(API generation %s); check base_url and api_version", r.method, r.path, p.version)
		}
	}
	obj, err := c.decode(st, status, raw, err)
	if e, ok := AsError(err); ok {
		e.RateLimited, e.Waited = st.rateLimited, st.waited
	}
	if err != nil {
		return nil, err
	}
	return obj, nil
}

// decode reads the JSON object of a 2xx answer that send returned. Only
// KeyMint's own success is one: a JSON object whose numeric "code" is 0 and
// that does not say "success": false. A non-zero code is KeyMint's refusal,
// sent with a 2xx by some servers; anything else is ambiguous (see
// Error.Ambiguous).
func (c *Client) decode(st *callState, status int, raw []byte, err error) (object, error) {
	if err != nil {
		return nil, err
	}
	var obj object
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil, ambiguousError(st, status, "the body is empty", nil, false)
	}
	if json.Unmarshal(raw, &obj) != nil || obj == nil {
		return nil, ambiguousError(st, status, "the body is not a JSON object", raw, false)
	}
	if !isKeyMintAnswer(obj) {
		return nil, ambiguousError(st, status, `the answer has no numeric "code", so it is not KeyMint's`, raw, false)
	}
	code, ok := integer(obj, "code")
	switch {
	case !ok:
		return nil, ambiguousError(st, status, `the answer's "code" is not a whole number`, raw, true)
	case code != 0:
		return nil, newError(st.op, status, raw, st.mask)
	}
	if v, ok := obj["success"]; ok && string(v) != "true" {
		why := `the answer says "success": false`
		if string(v) != "false" {
			why = `the answer's "success" is not true but ` + describe(v)
		}
		e := ambiguousError(st, status, why, nil, true)
		if m := newError(st.op, status, raw, st.mask).quote(); m != http.StatusText(status) {
			e.Message += ": " + m
		}
		return nil, e
	}
	return obj, nil
}

// newRequest builds the HTTP request of one attempt.
func (c *Client) newRequest(ctx context.Context, st *callState, r request, target string, payload []byte) (*http.Request, error) {
	var body io.Reader
	if payload != nil {
		body = bytes.NewReader(payload)
	}
	req, err := http.NewRequestWithContext(ctx, r.method, target, body)
	if err != nil {
		return nil, err
	}
	for k, vs := range r.header {
		req.Header[k] = vs
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.userAgent)
	if payload != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if st.idempotencyKey != "" {
		req.Header.Set("Idempotency-Key", st.idempotencyKey)
	}
	return req, nil
}

// attempt sends one request and reads its answer whole. err is a failure
// in transit, the answer lost or cut off, or the attempt timing out.
func (c *Client) attempt(ctx context.Context, st *callState, r request, target string, payload []byte) (status int, header http.Header, body []byte, err error) {
	req, err := c.newRequest(ctx, st, r, target, payload)
	if err != nil {
		return 0, nil, nil, err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body) // already buffered by the transport
	if err != nil {
		return 0, nil, nil, err
	}
	return resp.StatusCode, resp.Header, raw, nil
}

// logAnswer logs the answer that ends a call's attempts.
func (c *Client) logAnswer(ctx context.Context, st *callState, r request, status int, raw []byte, start time.Time) {
	c.log(ctx, st, levelDebug, "KeyMint API response", map[string]any{
		"operation":    st.op,
		"path":         r.path,
		"status":       status,
		"duration_ms":  time.Since(start).Milliseconds(),
		"rate_limited": st.rateLimited,
		"body":         logBody(raw, st.mask),
	})
}

// unwrapURLError drops the *url.Error wrapping, whose text repeats the URL.
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

func newIdempotencyKey() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// maxLoggedBody bounds the body logged with a request or answer.
const maxLoggedBody = 4096

// logBody is the start of a body, with secrets masked, for the debug log.
// It masks a window a little longer than what it keeps, so that a secret
// that straddles the cut is masked whole, and keeps nothing from beyond the
// cut.
func logBody(body []byte, m *masker) string {
	window := maxLoggedBody
	if m != nil {
		window += m.longest
	}
	return m.truncate(string(body[:min(len(body), window)]), maxLoggedBody)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…(truncated)"
}

// bufferBody reads a whole answer into memory, so that an answer cut off
// mid-way is an error of the round trip, which the retry policy sees, rather
// than of a later read.
func bufferBody(resp *http.Response) error {
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if err != nil {
		return err
	}
	resp.Body = io.NopCloser(bytes.NewReader(raw))
	return nil
}
