package keymint

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

const (
	testToken   = "at_secret_token_0123456789abcdef"
	testProduct = "prod_0123456789abcdefghij"
	testKey     = "lk_SECRET-KEY-0123456789-ABCDEF"
)

// recorded is one request the test server saw.
type recorded struct {
	method, path string
	header       http.Header
	body         map[string]any
}

// newTestServer answers every request with status and body, recording it.
func newTestServer(t *testing.T, status int, body string) (*Client, *[]recorded) {
	t.Helper()
	return newTestServerLogging(t, status, body, nil)
}

// newTestServerLogging is newTestServer with a client that logs to l.
func newTestServerLogging(t *testing.T, status int, body string, l Logger) (*Client, *[]recorded) {
	t.Helper()
	var reqs []recorded
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, _ := io.ReadAll(r.Body)
		rec := recorded{method: r.Method, path: r.URL.Path, header: r.Header.Clone()}
		_ = json.Unmarshal(raw, &rec.body)
		reqs = append(reqs, rec)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	c, err := New(Config{BaseURL: srv.URL + "/", AccessToken: testToken, UserAgent: "terraform-provider-keymint/test", MaxRetries: ptr(0), RateLimitWait: ptr(time.Duration(0)), Logger: l})
	if err != nil {
		t.Fatal(err)
	}
	return c, &reqs
}

func ptr[T any](v T) *T { return &v }

func TestNewValidates(t *testing.T) {
	if _, err := New(Config{BaseURL: DefaultBaseURL}); err == nil {
		t.Error("New accepted an empty token")
	}
	for _, u := range []string{"", "api.keymint.dev", "ftp://x", "https://"} {
		if _, err := New(Config{BaseURL: u, AccessToken: "t"}); err == nil {
			t.Errorf("New accepted base URL %q", u)
		}
	}
}

func TestActivateRequestAndAnswer(t *testing.T) {
	c, reqs := newTestServer(t, 200, `{"code":0,"message":"License valid","licensee_name":"Ada","licensee_email":"ada@example.com"}`)
	act, err := c.Activate(context.Background(), ActivateInput{ProductID: testProduct, LicenseKey: testKey, HostID: "host-1", DeviceTag: "web"})
	if err != nil {
		t.Fatal(err)
	}
	if act.LicenseeName != "Ada" || act.LicenseeEmail != "ada@example.com" || act.Message != "License valid" {
		t.Errorf("activation = %+v", act)
	}
	r := (*reqs)[0]
	if r.method != http.MethodPost || r.path != "/activate-key" {
		t.Errorf("request %s %s, want POST /activate-key", r.method, r.path)
	}
	if got := r.header.Get("Authorization"); got != "Bearer "+testToken {
		t.Errorf("Authorization = %q", got)
	}
	if got := r.header.Get("Content-Type"); got != "application/json" {
		t.Errorf("Content-Type = %q", got)
	}
	if got := r.header.Get("User-Agent"); got != "terraform-provider-keymint/test" {
		t.Errorf("User-Agent = %q", got)
	}
	want := map[string]any{"productId": testProduct, "licenseKey": testKey, "hostId": "host-1", "deviceTag": "web"}
	for k, v := range want {
		if r.body[k] != v {
			t.Errorf("body[%s] = %v, want %v", k, r.body[k], v)
		}
	}
}

func TestActivateCamelCase(t *testing.T) {
	c, _ := newTestServer(t, 200, `{"code":0,"message":"License valid","licenseeName":"Bo","licenseeEmail":"bo@example.com","metadata":{"hostId":"h"}}`)
	act, err := c.Activate(context.Background(), ActivateInput{ProductID: testProduct, LicenseKey: testKey, HostID: "h"})
	if err != nil {
		t.Fatal(err)
	}
	if act.LicenseeName != "Bo" || act.LicenseeEmail != "bo@example.com" {
		t.Errorf("activation = %+v", act)
	}
}

func TestActivateNeedsHostID(t *testing.T) {
	c, reqs := newTestServer(t, 200, `{"code":0}`)
	if _, err := c.Activate(context.Background(), ActivateInput{ProductID: testProduct, LicenseKey: testKey}); err == nil {
		t.Fatal("Activate without a host ID succeeded")
	}
	if len(*reqs) != 0 {
		t.Error("Activate without a host ID sent a request (it would burn a seat on a random host)")
	}
}

func TestDeactivateBodies(t *testing.T) {
	c, reqs := newTestServer(t, 200, `{"message":"Device deactivated","code":0}`)
	d, err := c.Deactivate(context.Background(), testProduct, testKey, "host-1")
	if err != nil {
		t.Fatal(err)
	}
	if d.DevicesRemoved != nil {
		t.Errorf("DevicesRemoved = %v, want nil when the server sends none", *d.DevicesRemoved)
	}
	if _, err := c.DeactivateAll(context.Background(), testProduct, testKey); err != nil {
		t.Fatal(err)
	}
	if (*reqs)[0].path != "/deactivate-key" || (*reqs)[0].body["hostId"] != "host-1" {
		t.Errorf("deactivate one: %+v", (*reqs)[0])
	}
	if _, ok := (*reqs)[1].body["hostId"]; ok {
		t.Error("deactivate all sent a hostId")
	}
	if _, err := c.Deactivate(context.Background(), testProduct, testKey, ""); err == nil {
		t.Error("Deactivate with an empty host ID succeeded; it would free every seat")
	}
}

func TestDeactivateDevicesRemoved(t *testing.T) {
	c, _ := newTestServer(t, 200, `{"message":"All devices deactivated","code":0,"devicesRemoved":4}`)
	d, err := c.DeactivateAll(context.Background(), testProduct, testKey)
	if err != nil {
		t.Fatal(err)
	}
	if d.DevicesRemoved == nil || *d.DevicesRemoved != 4 {
		t.Errorf("DevicesRemoved = %v, want 4", d.DevicesRemoved)
	}
}

func TestGetKeyDecodesBothCasings(t *testing.T) {
	snake := `{"code":0,"data":{"license":{"id":"lic_1","key":"` + testKey + `","product_id":"` + testProduct + `",
		"max_activations":3,"activations":2,"activated":true,"expiration_date":"2027-01-01T00:00:00Z",
		"devices":[{"host_id":"a","device_tag":"web","ip_address":"10.0.0.1","activation_time":"2026-01-01T00:00:00Z"},
		           {"host_id":"b","device_tag":null,"ip_address":"10.0.0.2","activation_time":"2026-01-02T00:00:00Z"}]},
		"customer":{"id":"cus_1","name":"Ada","email":"ada@example.com","active":true}}}`
	camel := `{"code":0,"data":{"license":{"id":"lic_1","key":"` + testKey + `","productId":"` + testProduct + `",
		"maxActivations":3,"activations":2,"activated":true,"expirationDate":"2027-01-01T00:00:00Z",
		"devices":[{"hostId":"a","deviceTag":"web","ipAddress":"10.0.0.1","activationTime":"2026-01-01T00:00:00Z"},
		           {"hostId":"b","ipAddress":"10.0.0.2","activationTime":"2026-01-02T00:00:00Z"}]},
		"customer":{"id":"cus_1","name":"Ada","email":"ada@example.com","active":true}}}`
	usage := strings.Replace(snake, `"max_activations":3`, `"usage_limit":3`, 1)
	for name, body := range map[string]string{"snake_case": snake, "camelCase": camel, "usage_limit": usage} {
		t.Run(name, func(t *testing.T) {
			c, reqs := newTestServer(t, 200, body)
			lic, err := c.GetKey(context.Background(), testProduct, testKey)
			if err != nil {
				t.Fatal(err)
			}
			if (*reqs)[0].path != "/get-key" {
				t.Errorf("path = %s", (*reqs)[0].path)
			}
			if lic.ID != "lic_1" || lic.ProductID != testProduct || lic.Activations != 2 || !lic.Activated ||
				lic.ExpirationDate != "2027-01-01T00:00:00Z" {
				t.Errorf("license = %+v", lic)
			}
			if lic.MaxActivations == nil || *lic.MaxActivations != 3 {
				t.Errorf("MaxActivations = %v, want 3", lic.MaxActivations)
			}
			wantDevs := []Device{
				{HostID: "a", DeviceTag: "web", IPAddress: "10.0.0.1", ActivationTime: "2026-01-01T00:00:00Z"},
				{HostID: "b", IPAddress: "10.0.0.2", ActivationTime: "2026-01-02T00:00:00Z"},
			}
			if len(lic.Devices) != 2 || lic.Devices[0] != wantDevs[0] || lic.Devices[1] != wantDevs[1] {
				t.Errorf("devices = %+v", lic.Devices)
			}
			if lic.Customer == nil || *lic.Customer != (Customer{ID: "cus_1", Name: "Ada", Email: "ada@example.com", Active: true}) {
				t.Errorf("customer = %+v", lic.Customer)
			}
			if d, ok := lic.Device("b"); !ok || d.IPAddress != "10.0.0.2" {
				t.Errorf("Device(b) = %+v, %v", d, ok)
			}
			if _, ok := lic.Device("zz"); ok {
				t.Error("Device(zz) found a device")
			}
		})
	}
}

func TestGetKeyUnlimitedAndNoCustomer(t *testing.T) {
	c, _ := newTestServer(t, 200, `{"code":0,"data":{"license":{"id":"lic_2","max_activations":null,"activated":false,"devices":[]},"customer":null}}`)
	lic, err := c.GetKey(context.Background(), testProduct, testKey)
	if err != nil {
		t.Fatal(err)
	}
	if lic.MaxActivations != nil {
		t.Errorf("MaxActivations = %v, want nil (unlimited)", *lic.MaxActivations)
	}
	if lic.Customer != nil || lic.Activated || lic.Activations != 0 || len(lic.Devices) != 0 {
		t.Errorf("license = %+v", lic)
	}
}

func TestGetKeyMalformed(t *testing.T) {
	for _, body := range []string{`not json`, `{"code":0}`, `{"code":0,"data":{}}`, `{"code":0,"data":{"license":{"devices":"x"}}}`} {
		c, _ := newTestServer(t, 200, body)
		if _, err := c.GetKey(context.Background(), testProduct, testKey); err == nil {
			t.Errorf("GetKey accepted %s", body)
		}
	}
}

func TestErrorMapping(t *testing.T) {
	type preds struct {
		unauth, notFound, device, license, seat, notAct, blocked, rate, server, scope, state, unknown, redirect bool
	}
	tests := []struct {
		name   string
		status int
		body   string
		code   int64
		errStr string
		km     bool
		want   preds
	}{
		{"missing params", 400, `{"message":"Missing required params","code":1}`, 1, "", true, preds{}},
		{"bad token", 401, `{"message":"Invalid access token","code":1}`, 1, "", true, preds{unauth: true}},
		{"limit", 403, `{"message":"Activation limit reached","code":2}`, 2, "", true, preds{seat: true, state: true}},
		{"limit, other code", 403, `{"message":"Activation limit reached","code":1}`, 1, "", true, preds{seat: true, state: true}},
		{"limit, longer words", 403, `{"message":"Activation limit reached for this product","code":2}`, 2, "", true, preds{state: true}},
		{"not activated", 403, `{"message":"License not activated","code":2}`, 2, "", true, preds{notAct: true, state: true}},
		{"not activated, case and spaces", 403, `{"message":"  license NOT activated ","code":2}`, 2, "", true, preds{notAct: true, state: true}},
		{"not activated, other code", 403, `{"message":"License not activated","code":1}`, 1, "", true, preds{state: true}},
		{"not activated, longer words", 403, `{"message":"License not activated: key is blocked","code":2}`, 2, "", true, preds{state: true}},
		{"not active", 403, `{"message":"License is not active","code":2}`, 2, "", true, preds{state: true}},
		{"not activated, not 403", 400, `{"message":"License not activated","code":2}`, 2, "", true, preds{}},
		{"blocked", 403, `{"message":"License is blocked","code":2}`, 2, "", true, preds{blocked: true, state: true}},
		{"key blocked", 403, `{"message":"Key blocked","code":2}`, 2, "", true, preds{blocked: true, state: true}},
		{"blocked, one word", 403, `{"message":"Blocked","code":1}`, 1, "", true, preds{blocked: true, state: true}},
		{"blocked, not 403", 400, `{"message":"License is blocked","code":2}`, 2, "", true, preds{}},
		{"expired", 403, `{"message":"License expired","code":2}`, 2, "", true, preds{state: true}},
		{"inactive customer", 403, `{"message":"Customer is inactive","code":2}`, 2, "", true, preds{state: true}},
		{"unknown key", 404, `{"message":"Invalid license key","code":1}`, 1, "", true, preds{notFound: true, license: true}},
		{"unknown key, case and spaces", 404, `{"message":" INVALID LICENSE KEY  ","code":1}`, 1, "", true, preds{notFound: true, license: true}},
		{"unknown key, other code", 404, `{"message":"Invalid license key","code":2}`, 2, "", true, preds{notFound: true}},
		{"unknown key, punctuated", 404, `{"message":"Invalid license key.","code":1}`, 1, "", true, preds{notFound: true}},
		{"unknown key, not 404", 400, `{"message":"Invalid license key","code":1}`, 1, "", true, preds{}},
		{"device", 404, `{"message":"Device not found","code":1}`, 1, "", true, preds{notFound: true, device: true}},
		{"device, other code", 404, `{"message":"Device not found","code":2}`, 2, "", true, preds{notFound: true}},
		{"device, longer words", 404, `{"message":"Device not found for license key","code":1}`, 1, "", true, preds{notFound: true}},
		{"device, not 404", 403, `{"message":"Device not found","code":1}`, 1, "", true, preds{state: true}},
		// "Product not found" (a token of another account, say) is not a
		// license that is gone.
		{"unknown product", 404, `{"message":"Product not found","code":1}`, 1, "", true, preds{notFound: true}},
		{"unknown product or inactive", 404, `{"message":"Product not found or inactive","code":1}`, 1, "", true, preds{notFound: true}},
		{"unknown key, nested", 404, `{"message":"Request failed","code":1,"error":{"code":"NOT_FOUND","message":"Invalid license key"}}`, 1, "NOT_FOUND", true, preds{notFound: true, license: true}},
		{"unknown key, nested under other words", 404, `{"message":"Product not found","code":1,"error":{"code":"NOT_FOUND","message":"Invalid license key"}}`, 1, "NOT_FOUND", true, preds{notFound: true}},
		// KeyMint's 404 that names no license, key or product: not a
		// license that is gone.
		{"KeyMint 404, nothing named", 404, `{"message":"Not found","code":1}`, 1, "", true, preds{notFound: true}},
		// A route error that carries a numeric code is still no answer
		// about a license.
		{"route error with a code", 404, `{"message":"Cannot POST /deactivate-key","code":1}`, 1, "", true, preds{notFound: true}},
		// Answers that are not KeyMint's allow no conclusion, whatever
		// their words.
		{"proxy page", 404, `<html>404 Not Found: license key</html>`, 0, "", false, preds{notFound: true, unknown: true}},
		{"web framework 404", 404, `{"message":"Cannot POST /deactivate-key","error":"Not Found","statusCode":404}`, 0, "", false, preds{notFound: true, unknown: true}},
		{"web framework, device words", 404, `{"message":"Device not found","statusCode":404}`, 0, "", false, preds{notFound: true, unknown: true}},
		{"web framework, key words", 404, `{"message":"Invalid license key","statusCode":404}`, 0, "", false, preds{notFound: true, unknown: true}},
		{"code as a string", 404, `{"message":"Invalid license key","code":"1"}`, 0, "", false, preds{notFound: true, unknown: true}},
		{"method not allowed", 405, `Method Not Allowed`, 0, "", false, preds{unknown: true}},
		{"KeyMint 405", 405, `{"message":"Method not allowed","code":1}`, 1, "", true, preds{}},
		{"proxy 403", 403, `<html>Forbidden: activation limit reached, license not activated</html>`, 0, "", false, preds{}},
		{"proxy 403, exact words", 403, `{"message":"License not activated"}`, 0, "", false, preds{}},
		{"insufficient scope 403", 403, `{"message":"Insufficient permissions for this operation","code":1}`, 1, "", true, preds{scope: true}},
		{"insufficient scope 401", 401, `{"message":"Insufficient permissions for this operation","code":1}`, 1, "", true, preds{unauth: true, scope: true}},
		{"insufficient scope, nested", 403, `{"message":"Request failed","code":1,"error":{"code":"FORBIDDEN","message":"Insufficient permissions: activation limit not active"}}`, 1, "FORBIDDEN", true, preds{scope: true}},
		{"rate limited, new shape", 429, `{"error":{"code":"RATE_LIMIT_EXCEEDED","message":"Too many requests"},"code":1}`, 1, "RATE_LIMIT_EXCEEDED", true, preds{rate: true}},
		{"rate limited, old shape", 429, `{"message":"Too many requests","code":3}`, 3, "", true, preds{rate: true}},
		{"server", 500, `{"message":"Server error","code":1}`, 1, "", true, preds{server: true}},
		{"gateway, no JSON", 502, `<html>bad gateway</html>`, 0, "", false, preds{server: true}},
		{"200 with a refusal code", 200, `{"message":"Activation limit reached","code":2}`, 2, "", true, preds{}},
		{"200 with a refusal code, device words", 200, `{"message":"Device not found","code":1}`, 1, "", true, preds{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _ := newTestServer(t, tt.status, tt.body)
			_, err := c.Deactivate(context.Background(), testProduct, testKey, "h")
			e, ok := AsError(err)
			if !ok {
				t.Fatalf("error %v is not an *Error", err)
			}
			if e.StatusCode != tt.status || e.Code != tt.code || e.ErrorCode != tt.errStr || e.Operation != "deactivate" || e.FromKeyMint != tt.km {
				t.Errorf("error = %+v", e)
			}
			if e.Message == "" {
				t.Error("empty message")
			}
			got := preds{IsUnauthorized(err), IsNotFound(err), IsDeviceNotFound(err), IsLicenseNotFound(err),
				IsSeatLimitReached(err), IsNotActivated(err), IsBlocked(err), IsRateLimited(err), IsServerError(err),
				IsInsufficientScope(err), IsForbiddenByLicenseState(err), IsUnknownRoute(err), IsRedirect(err)}
			if got != tt.want {
				t.Errorf("predicates = %+v, want %+v", got, tt.want)
			}
		})
	}
	plain := errors.New("plain")
	if IsNotFound(plain) || IsServerError(nil) || IsUnknownRoute(plain) || IsInsufficientScope(nil) || IsForbiddenByLicenseState(plain) ||
		IsLicenseNotFound(plain) || IsDeviceNotFound(nil) || IsNotActivated(plain) || IsBlocked(nil) || IsSeatLimitReached(plain) || IsRedirect(nil) {
		t.Error("predicates matched a non-API error")
	}
}

func TestErrorText(t *testing.T) {
	tests := []struct {
		name, op string
		status   int
		body     string
		want     string
	}{
		{"nested message quoted", "activate", 429,
			`{"message":"Request failed","code":1,"error":{"code":"RATE_LIMIT_EXCEEDED","message":"Too many requests. Please try again later."}}`,
			"KeyMint API activate: HTTP 429 (code 1, RATE_LIMIT_EXCEEDED): Too many requests. Please try again later."},
		{"nested message without a top-level one", "activate", 429,
			`{"code":1,"error":{"code":"RATE_LIMIT_EXCEEDED","message":"Slow down"}}`,
			"KeyMint API activate: HTTP 429 (code 1, RATE_LIMIT_EXCEEDED): Slow down"},
		{"both messages", "deactivate", 403,
			`{"message":"License expired","code":2,"error":{"code":"EXPIRED","message":"Expired on 2026-01-01"}}`,
			"KeyMint API deactivate: HTTP 403 (code 2, EXPIRED): License expired: Expired on 2026-01-01"},
		{"plain", "deactivate", 404, `{"message":"Device not found","code":1}`,
			"KeyMint API deactivate: HTTP 404 (code 1): Device not found"},
		{"not KeyMint's", "deactivate", 404, `{"message":"Cannot POST /deactivate-key","error":"Not Found","statusCode":404}`,
			"KeyMint API deactivate: HTTP 404 (not a KeyMint answer): Cannot POST /deactivate-key"},
		{"no body", "get-key", 502, ``,
			"KeyMint API get-key: HTTP 502 (not a KeyMint answer): Bad Gateway"},
		{"scope", "get-key", 403, `{"message":"Insufficient permissions for this operation","code":1}`,
			"KeyMint API get-key: HTTP 403 (code 1): Insufficient permissions for this operation (get-key needs a token with the licenses:read scope)"},
		{"control characters", "activate", 400, "{\"message\":\"bad\\u001b[31m red\\u001b[0m\\r\\nline\\u0007 \\u202eevil\\u009b2J\",\"code\":1}",
			"KeyMint API activate: HTTP 400 (code 1): bad red line evil2J"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := newError(tt.op, tt.status, []byte(tt.body), nil).Error(); got != tt.want {
				t.Errorf("Error() =\n  %q\nwant\n  %q", got, tt.want)
			}
		})
	}
}

func TestRequiredScope(t *testing.T) {
	for op, want := range map[string]string{"get-key": ScopeLicensesRead, "activate": ScopeLicensesActivate, "deactivate": ScopeLicensesActivate, "other": ""} {
		if got := RequiredScope(op); got != want {
			t.Errorf("RequiredScope(%q) = %q, want %q", op, got, want)
		}
	}
}

func TestSecretsNeverInErrors(t *testing.T) {
	// A server that echoes what it was sent must not make the error repeat it.
	c, _ := newTestServer(t, 400, `{"message":"bad licenseKey `+testKey+` for token `+testToken+`","code":1}`)
	_, err := c.GetKey(context.Background(), testProduct, testKey)
	if err == nil {
		t.Fatal("no error")
	}
	if s := err.Error(); strings.Contains(s, testKey) || strings.Contains(s, testToken) {
		t.Errorf("error repeats a secret: %s", s)
	}
}

func TestLoggingMasksSecrets(t *testing.T) {
	var buf bytes.Buffer
	ctx := context.Background()
	body := `{"code":0,"data":{"license":{"id":"lic_1","key":"` + testKey + `","devices":[]},"customer":null}}`
	c, _ := newTestServerLogging(t, 200, body, &jsonLogger{w: &buf})
	if _, err := c.GetKey(ctx, testProduct, testKey); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	if !strings.Contains(out, "KeyMint API request") || !strings.Contains(out, "KeyMint API response") || !strings.Contains(out, "/get-key") {
		t.Errorf("the request was not logged:\n%s", out)
	}
	if strings.Contains(out, testKey) || strings.Contains(out, testToken) {
		t.Errorf("the log holds a secret:\n%s", out)
	}
}

func TestContextCancelStopsPromptly(t *testing.T) {
	block := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-block:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(func() { close(block); srv.Close() })
	c, err := New(Config{BaseURL: srv.URL, AccessToken: testToken, MaxRetries: ptr(0)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() { time.Sleep(50 * time.Millisecond); cancel() }()
	start := time.Now()
	_, err = c.GetKey(ctx, testProduct, testKey)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("GetKey returned %v after the context was cancelled", d)
	}
}

func TestTransportErrorNamesServer(t *testing.T) {
	c, err := New(Config{BaseURL: "http://127.0.0.1:1", AccessToken: testToken, MaxRetries: ptr(0)})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.GetKey(context.Background(), testProduct, testKey)
	if err == nil || !strings.Contains(err.Error(), "127.0.0.1:1") {
		t.Errorf("err = %v, want it to name the server", err)
	}
	if _, ok := AsError(err); ok {
		t.Error("a transport failure was reported as an API answer")
	}
}

func TestGenerationTwoPaths(t *testing.T) {
	var reqs []recorded
	var rawQuery []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, _ := io.ReadAll(r.Body)
		rec := recorded{method: r.Method, path: r.URL.Path, header: r.Header.Clone()}
		_ = json.Unmarshal(raw, &rec.body)
		reqs = append(reqs, rec)
		rawQuery = append(rawQuery, r.URL.RawQuery)
		switch r.URL.Path {
		case "/key":
			_, _ = io.WriteString(w, `{"code":0,"data":{"license":{"id":"lic_1","productId":"p","maxActivations":2,"activations":1,
				"devices":[{"hostId":"h","deviceTag":"t","ipAddress":"1.2.3.4","activationTime":"2026-01-01T00:00:00Z"}],"activated":true},"customer":null}}`)
		case "/key/deactivate":
			_, _ = io.WriteString(w, `{"code":0,"message":"All devices deactivated","devicesRemoved":1}`)
		default:
			_, _ = io.WriteString(w, `{"code":0,"message":"License valid","licenseeName":"N","licenseeEmail":"e","metadata":{"hostId":"h"}}`)
		}
	}))
	t.Cleanup(srv.Close)
	c, err := New(Config{BaseURL: srv.URL, AccessToken: testToken, APIVersion: APIv2, MaxRetries: ptr(0)})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := c.Activate(ctx, ActivateInput{ProductID: testProduct, LicenseKey: testKey, HostID: "h"}); err != nil {
		t.Fatal(err)
	}
	lic, err := c.GetKey(ctx, testProduct, testKey)
	if err != nil {
		t.Fatal(err)
	}
	d, err := c.DeactivateAll(ctx, testProduct, testKey)
	if err != nil {
		t.Fatal(err)
	}
	if reqs[0].method != "POST" || reqs[0].path != "/key/activate" || reqs[0].body["hostId"] != "h" {
		t.Errorf("activate: %+v", reqs[0])
	}
	if reqs[1].method != "GET" || reqs[1].path != "/key" || reqs[1].header.Get("X-License-Key") != testKey {
		t.Errorf("get-key: %+v", reqs[1])
	}
	if strings.Contains(rawQuery[1], testKey) || rawQuery[1] != "productId="+testProduct {
		t.Errorf("get-key query %q: want only the product ID, never the key", rawQuery[1])
	}
	if reqs[2].path != "/key/deactivate" {
		t.Errorf("deactivate: %+v", reqs[2])
	}
	if dev, ok := lic.Device("h"); !ok || dev.DeviceTag != "t" || lic.MaxActivations == nil || *lic.MaxActivations != 2 {
		t.Errorf("license = %+v", lic)
	}
	if d.DevicesRemoved == nil || *d.DevicesRemoved != 1 {
		t.Errorf("DevicesRemoved = %v", d.DevicesRemoved)
	}
}

func TestLogBodyMasksAcrossTheCut(t *testing.T) {
	// The key straddles the 4,096-byte cut: no part of it may show.
	body := []byte(strings.Repeat("x", maxLoggedBody-10) + testKey + strings.Repeat("y", 100))
	got := logBody(body, newMasker(testToken, testKey))
	if strings.Contains(got, testKey[:10]) {
		t.Errorf("the logged body shows the start of the key: …%s", got[len(got)-40:])
	}
	if len(got) > maxLoggedBody+len("…(truncated)") {
		t.Errorf("logged body is %d bytes", len(got))
	}
}
