package provider

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-log/tflogtest"

	"github.com/keymint-dev/terraform-provider-keymint/internal/keymint"
)

// The API client's log lines reach the provider's log through tflog, and
// neither the token nor the license key shows there, as they are or
// JSON-escaped, even where the server echoes them.
func TestClientLogsThroughTflog(t *testing.T) {
	const (
		token = "at_log_tok&<en>_0123456789"
		key   = "LK&<log>-0001"
	)
	escapedKey, _ := json.Marshal(key)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"code":0,"data":{"license":{"id":"lic_1","key":`+string(escapedKey)+`,"devices":[]},"customer":null}}`)
	}))
	t.Cleanup(srv.Close)
	c, err := keymint.New(keymint.Config{BaseURL: srv.URL, AccessToken: token, Logger: tflogLogger{}})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	ctx := tflogtest.RootLogger(context.Background(), &buf)
	if _, err := c.GetKey(ctx, "prod_0123456789abcdefghij", key); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{`"@message":"KeyMint API request"`, `"@message":"KeyMint API response"`, `"@level":"debug"`, "prod_0123456789abcdefghij"} {
		if !strings.Contains(out, want) {
			t.Errorf("the log lacks %s:\n%s", want, out)
		}
	}
	for _, secret := range []string{token, key, string(escapedKey[1 : len(escapedKey)-1]), "<log>", `\u003clog\u003e`, "<en>"} {
		if strings.Contains(out, secret) {
			t.Errorf("the log shows %q:\n%s", secret, out)
		}
	}
}

// WithSecrets backs the client's masking up: a secret that reached a line
// unmasked is hidden by tflog, in the message and in the fields.
func TestTflogLoggerMasksGivenSecrets(t *testing.T) {
	var buf bytes.Buffer
	ctx := tflogtest.RootLogger(context.Background(), &buf)
	var l keymint.Logger = tflogLogger{}
	ctx = l.WithSecrets(ctx, "s3cr3t-value")
	l.Info(ctx, "message with s3cr3t-value", map[string]any{"field": "x s3cr3t-value y"})
	out := buf.String()
	if strings.Contains(out, "s3cr3t-value") {
		t.Errorf("the secret shows:\n%s", out)
	}
	if !strings.Contains(out, `"@level":"info"`) || !strings.Contains(out, "message with") || !strings.Contains(out, `"field":"x `) {
		t.Errorf("the line was not logged as given:\n%s", out)
	}
}
