package keymint

import (
	"context"
	"net/http"
	"strings"
	"testing"
)

// A 2xx that is not KeyMint's success is an error of its own: the server
// may or may not have made the change. It is not retried, and it allows no
// conclusion.
func TestTwoHundredThatIsNotASuccess(t *testing.T) {
	const prefix = "KeyMint API activate: HTTP 200 (not a success; the change may or may not have been made): "
	tests := []struct {
		name   string
		status int
		body   string
		km     bool
		want   string
	}{
		{"HTML page", 200, "<html><body>Sign in\n to continue</body></html>", false,
			prefix + `the body is not a JSON object: "<html><body>Sign in to continue</body></html>"`},
		{"empty body", 200, ``, false, prefix + `the body is empty`},
		{"blank body", 204, " \n", false, "KeyMint API activate: HTTP 204 (not a success; the change may or may not have been made): the body is empty"},
		{"JSON null", 200, `null`, false, prefix + `the body is not a JSON object: "null"`},
		{"JSON list", 200, `[{"code":0}]`, false, prefix + `the body is not a JSON object: "[{\"code\":0}]"`},
		{"JSON string", 200, `"ok"`, false, prefix + `the body is not a JSON object: "\"ok\""`},
		{"no code", 200, `{"message":"License valid"}`, false,
			prefix + `the answer has no numeric "code", so it is not KeyMint's: "{\"message\":\"License valid\"}"`},
		{"code a string", 200, `{"code":"0","message":"License valid"}`, false,
			prefix + `the answer has no numeric "code", so it is not KeyMint's: "{\"code\":\"0\",\"message\":\"License valid\"}"`},
		{"code a fraction", 200, `{"code":0.5}`, true, prefix + `the answer's "code" is not a whole number: "{\"code\":0.5}"`},
		{"success false", 200, `{"code":0,"success":false,"message":"Activation failed"}`, true,
			prefix + `the answer says "success": false: Activation failed`},
		{"success false, no message", 201, `{"code":0,"success":false}`, true,
			"KeyMint API activate: HTTP 201 (not a success; the change may or may not have been made): the answer says \"success\": false"},
		{"success a string", 200, `{"code":0,"success":"false"}`, true,
			prefix + `the answer's "success" is not true but a string`},
		{"success null", 200, `{"code":0,"success":null}`, true,
			prefix + `the answer's "success" is not true but null`},
		{"secret in the page", 200, `<p>bad key ` + testKey + ` for ` + testToken + `</p>`, false,
			prefix + `the body is not a JSON object: "<p>bad key *** for ***</p>"`},
		{"long page", 200, `<html>` + strings.Repeat("x", 500), false,
			prefix + `the body is not a JSON object: "<html>` + strings.Repeat("x", maxQuotedBody-6) + `…(truncated)"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &scripted{answers: []func(http.ResponseWriter){status(tt.status, tt.body)}}
			c := retryClient(t, s, Config{MaxRetries: ptr(3)})
			_, err := c.Activate(context.Background(), ActivateInput{ProductID: testProduct, LicenseKey: testKey, HostID: "h"})
			e, ok := AsError(err)
			if !ok || !IsAmbiguous(err) || !e.Ambiguous || e.FromKeyMint != tt.km || e.StatusCode != tt.status {
				t.Fatalf("err = %#v, want an ambiguous *Error", err)
			}
			if err.Error() != tt.want {
				t.Errorf("Error() =\n  %s\nwant\n  %s", err, tt.want)
			}
			if IsServerError(err) || IsUnknownRoute(err) || IsRedirect(err) || IsForbiddenByLicenseState(err) || IsNotActivated(err) || IsDeviceNotFound(err) || IsLicenseNotFound(err) {
				t.Errorf("an ambiguous answer passed for another: %v", err)
			}
			if n := s.count(); n != 1 {
				t.Errorf("%d requests, want 1 (no retry)", n)
			}
		})
	}
}

// Deactivate and get-key treat such answers alike.
func TestTwoHundredThatIsNotASuccessEveryCall(t *testing.T) {
	for _, body := range []string{`<html>maintenance</html>`, `{"code":0,"success":false,"message":"try later"}`} {
		c, _ := newTestServer(t, 200, body)
		for op, err := range calls(c) {
			if !IsAmbiguous(err) {
				t.Errorf("%s on %s: err = %v, want an ambiguous error", op, body, err)
			}
		}
	}
}

// What stays as it was: a 2xx with a non-zero code is KeyMint's refusal,
// and "success": true with code 0 is a success.
func TestTwoHundredRefusalAndSuccess(t *testing.T) {
	c, _ := newTestServer(t, 200, `{"code":2,"message":"Activation limit reached","success":false}`)
	_, err := c.Activate(context.Background(), ActivateInput{ProductID: testProduct, LicenseKey: testKey, HostID: "h"})
	e, ok := AsError(err)
	if !ok || e.Ambiguous || !e.FromKeyMint || e.Code != 2 || IsAmbiguous(err) {
		t.Errorf("err = %#v, want KeyMint's refusal", err)
	}
	c, _ = newTestServer(t, 200, `{"code":0,"success":true,"message":"License valid","licensee_name":"Ada"}`)
	act, err := c.Activate(context.Background(), ActivateInput{ProductID: testProduct, LicenseKey: testKey, HostID: "h"})
	if err != nil || act.LicenseeName != "Ada" {
		t.Errorf("activation = %+v, %v", act, err)
	}
}
