// Package keymint is a small client for the KeyMint licensing API.
//
// It knows nothing about Terraform: the provider maps its models onto the calls
// here. Every call takes a context, sends the access token as a bearer token and
// returns an *Error for any answer that is not a success, so that callers can
// branch on the predicates in errors.go.
package keymint

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-log/tflog"
)

// DefaultBaseURL is the base URL of the hosted KeyMint API.
const DefaultBaseURL = "https://api.keymint.dev"

// maxResponseBytes bounds how much of an answer is read. A get-key answer for a
// license with thousands of devices is well under this.
const maxResponseBytes = 32 << 20

// Paths of the generation-1 API (the flat paths of the /deactivate-key page).
const (
	pathActivate   = "/activate-key"
	pathDeactivate = "/deactivate-key"
	pathGetKey     = "/get-key"
)

// Config configures a Client.
type Config struct {
	// BaseURL is the API's base URL, for example https://api.keymint.dev.
	BaseURL string
	// AccessToken is sent as "Authorization: Bearer <token>".
	AccessToken string
	// UserAgent is sent with every request.
	UserAgent string
	// HTTPClient, when set, sends the requests. Its Timeout bounds each request.
	HTTPClient *http.Client
}

// Client calls the KeyMint API. It is safe for concurrent use.
type Client struct {
	baseURL   string
	token     string
	userAgent string
	http      *http.Client
}

// New returns a client for cfg. It fails when the base URL is not an absolute
// http(s) URL or the access token is empty.
func New(cfg Config) (*Client, error) {
	if cfg.AccessToken == "" {
		return nil, errors.New("the access token is empty")
	}
	u, err := url.Parse(cfg.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("base URL %q is not an absolute http or https URL", cfg.BaseURL)
	}
	hc := cfg.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: 60 * time.Second}
	}
	ua := cfg.UserAgent
	if ua == "" {
		ua = "terraform-provider-keymint"
	}
	return &Client{
		baseURL:   strings.TrimRight(cfg.BaseURL, "/"),
		token:     cfg.AccessToken,
		userAgent: ua,
		http:      hc,
	}, nil
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

// keyRequest is the body of every generation-1 call.
type keyRequest struct {
	ProductID  string `json:"productId"`
	LicenseKey string `json:"licenseKey"`
	HostID     string `json:"hostId,omitempty"`
	DeviceTag  string `json:"deviceTag,omitempty"`
}

// Activate binds in.HostID to the license. Activating a host that already
// holds a seat of the license uses no second seat, so the call is safe to
// repeat.
func (c *Client) Activate(ctx context.Context, in ActivateInput) (*Activation, error) {
	if in.HostID == "" {
		// Without a hostId the service invents a random host that burns a seat.
		return nil, errors.New("activate: the host ID is empty")
	}
	body := keyRequest(in)
	obj, err := c.call(ctx, "activate", pathActivate, body, in.LicenseKey)
	if err != nil {
		return nil, err
	}
	act := &Activation{
		Message:       str(obj, "message"),
		LicenseeName:  str(obj, "licensee_name", "licenseeName"),
		LicenseeEmail: str(obj, "licensee_email", "licenseeEmail"),
	}
	return act, nil
}

// Deactivate frees the seat held by hostID. The API answers 404 "Device not
// found" or 403 "License not activated" when the seat is already free; see
// IsAlreadyFree.
func (c *Client) Deactivate(ctx context.Context, productID, licenseKey, hostID string) (*Deactivation, error) {
	if hostID == "" {
		return nil, errors.New("deactivate: the host ID is empty; use DeactivateAll to free every seat")
	}
	return c.deactivate(ctx, keyRequest{ProductID: productID, LicenseKey: licenseKey, HostID: hostID})
}

// DeactivateAll frees every seat of the license.
func (c *Client) DeactivateAll(ctx context.Context, productID, licenseKey string) (*Deactivation, error) {
	return c.deactivate(ctx, keyRequest{ProductID: productID, LicenseKey: licenseKey})
}

func (c *Client) deactivate(ctx context.Context, body keyRequest) (*Deactivation, error) {
	obj, err := c.call(ctx, "deactivate", pathDeactivate, body, body.LicenseKey)
	if err != nil {
		return nil, err
	}
	d := &Deactivation{Message: str(obj, "message")}
	if n, ok := integer(obj, "devicesRemoved", "devices_removed"); ok {
		d.DevicesRemoved = &n
	}
	return d, nil
}

// GetKey reads a license with all its devices.
func (c *Client) GetKey(ctx context.Context, productID, licenseKey string) (*License, error) {
	obj, err := c.call(ctx, "get-key", pathGetKey, keyRequest{ProductID: productID, LicenseKey: licenseKey}, licenseKey)
	if err != nil {
		return nil, err
	}
	return decodeLicense(obj)
}

// call sends one POST with a JSON body and returns the decoded JSON object of
// a 2xx answer, or an *Error.
func (c *Client) call(ctx context.Context, op, path string, body any, licenseKey string) (map[string]json.RawMessage, error) {
	payload, err := json.Marshal(body)
	if err != nil {
		return nil, fmt.Errorf("%s: encoding the request: %w", op, err)
	}
	secrets := []string{c.token, licenseKey}
	ctx = tflog.MaskAllFieldValuesStrings(ctx, secrets...)
	ctx = tflog.MaskMessageStrings(ctx, secrets...)

	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.baseURL+path, bytes.NewReader(payload))
	if err != nil {
		return nil, fmt.Errorf("%s: building the request: %w", op, err)
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.userAgent)

	tflog.Debug(ctx, "KeyMint API request", map[string]any{
		"operation": op,
		"method":    req.Method,
		"path":      path,
		"body":      redact(string(payload), secrets...),
	})
	start := time.Now()
	resp, err := c.http.Do(req)
	if err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return nil, fmt.Errorf("%s: %w", op, ctxErr)
		}
		return nil, fmt.Errorf("%s: sending the request to %s: %s", op, c.baseURL, redact(err.Error(), secrets...))
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if err != nil {
		return nil, fmt.Errorf("%s: reading the answer (HTTP %d): %s", op, resp.StatusCode, redact(err.Error(), secrets...))
	}
	tflog.Debug(ctx, "KeyMint API response", map[string]any{
		"operation":   op,
		"path":        path,
		"status":      resp.StatusCode,
		"duration_ms": time.Since(start).Milliseconds(),
		"body":        truncate(redact(string(raw), secrets...), 4096),
	})

	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, newError(op, resp.StatusCode, raw, secrets)
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil {
		return nil, fmt.Errorf("%s: the answer (HTTP %d) is not a JSON object: %w", op, resp.StatusCode, err)
	}
	// Some servers send a 200 with a non-zero code for a refusal.
	if code, ok := integer(obj, "code"); ok && code != 0 {
		return nil, newError(op, resp.StatusCode, raw, secrets)
	}
	return obj, nil
}

// redact replaces every occurrence of a non-empty secret in s.
func redact(s string, secrets ...string) string {
	for _, sec := range secrets {
		if sec != "" {
			s = strings.ReplaceAll(s, sec, "***")
		}
	}
	return s
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…(truncated)"
}
