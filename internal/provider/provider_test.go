package provider

import (
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"

	"github.com/keymint-dev/terraform-provider-keymint/internal/keymint"
	"github.com/keymint-dev/terraform-provider-keymint/tools/acctest"
)

func TestMain(m *testing.M) {
	stop := acctest.Setup()
	code := m.Run()
	if code == 0 && os.Getenv("TF_ACC") != "" && !testing.Short() {
		if err := acctest.CheckAPIGeneration(); err != nil {
			fmt.Fprintln(os.Stderr, "FAIL:", err)
			code = 1
		}
	}
	stop()
	os.Exit(code)
}

// protoV6ProviderFactories runs the provider in the test process, so that
// Terraform talks to it over the plugin protocol without any registry.
var protoV6ProviderFactories = map[string]func() (tfprotov6.ProviderServer, error){
	"keymint": providerserver.NewProtocol6WithError(New("test")()),
}

func TestCheckBaseURL(t *testing.T) {
	tests := []struct {
		url     string
		wantErr string
	}{
		{"https://api.keymint.dev", ""},
		{"https://api.keymint.dev/", ""},
		{"https://keymint.internal.example:8443/api", ""},
		{"http://127.0.0.1:8787", ""},
		{"http://127.9.9.9", ""},
		{"http://localhost:8080", ""},
		{"http://[::1]:8080", ""},
		{"http://api.keymint.dev", "clear text"},
		{"http://10.0.0.5:8787", "clear text"},
		{"http://localhost.example.com", "clear text"},
		{"api.keymint.dev", "not a valid URL"},
		{"ftp://api.keymint.dev", "not a valid URL"},
		{"https://", "not a valid URL"},
		{"", "not a valid URL"},
		{"https://user:pw@api.keymint.dev", "credentials"},
		{"https://api.keymint.dev/?x=1", "query"},
	}
	for _, tt := range tests {
		err := checkBaseURL(tt.url)
		switch {
		case tt.wantErr == "" && err != nil:
			t.Errorf("checkBaseURL(%q) = %v, want no error", tt.url, err)
		case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
			t.Errorf("checkBaseURL(%q) = %v, want an error mentioning %q", tt.url, err, tt.wantErr)
		}
	}
	// User info and queries may hold secrets: no error repeats them.
	for _, raw := range []string{
		"https://secretuser:secretpw@api.keymint.dev",
		"https://secretuser@api.keymint.dev",
		"https://api.keymint.dev/?token=secretq",
		"http://api.keymint.dev/?token=secretq",
		"https://api.keymint.dev/#secretfrag",
		"http://secretuser@example.com/?k=secretq",
		"https://api.keymint.dev/%zzsecret",
	} {
		err := checkBaseURL(raw)
		if err == nil {
			t.Errorf("checkBaseURL(%q) accepted it", raw)
			continue
		}
		if strings.Contains(err.Error(), "secret") {
			t.Errorf("checkBaseURL(%q) repeats a secret: %v", raw, err)
		}
	}
	if err := checkBaseURL("https://u@api.keymint.dev/x?y=1"); err == nil || !strings.Contains(err.Error(), `"https://api.keymint.dev/x" (user info, query not shown)`) {
		t.Errorf("checkBaseURL shows the URL as %v", err)
	}
}

// TestSettingsFromEnvironment: every setting can come from the environment,
// and a bad value names the variable and what it allows. Not parallel: it
// changes the environment.
func TestSettingsFromEnvironment(t *testing.T) {
	null := providerModel{
		AccessToken: types.StringNull(), BaseURL: types.StringNull(), APIVersion: types.StringNull(),
		MaxRetries: types.Int64Null(), RetryWaitMin: types.StringNull(), RetryWaitMax: types.StringNull(),
		RequestTimeout: types.StringNull(), RateLimitWait: types.StringNull(), MaxRequests: types.Int64Null(),
	}
	var diags diag.Diagnostics
	t.Setenv(keymint.EnvAccessToken, "at_env_token")
	for _, env := range []string{keymint.EnvAPIVersion, keymint.EnvRateLimitWait, keymint.EnvMaxRequests} {
		t.Setenv(env, "") // empty counts as unset; make test sets KEYMINT_API_VERSION
	}
	defaults := settingsFrom(null, &diags)
	if defaults.APIVersion != "auto" || defaults.RateLimitWait == nil || *defaults.RateLimitWait != 15*time.Minute || defaults.MaxRequestsPerMinute != 0 {
		t.Errorf("defaults = %+v, want api_version auto, rate_limit_wait 15m, no pacing", defaults)
	}
	t.Setenv(keymint.EnvBaseURL, "http://127.0.0.1:9999")
	t.Setenv(keymint.EnvAPIVersion, "v2")
	t.Setenv(keymint.EnvMaxRetries, "7")
	t.Setenv(keymint.EnvRetryWaitMin, "250ms")
	t.Setenv(keymint.EnvRetryWaitMax, "4s")
	t.Setenv(keymint.EnvRequestTimeout, "45s")
	t.Setenv(keymint.EnvRateLimitWait, "2m30s")
	t.Setenv(keymint.EnvMaxRequests, "100")
	got := settingsFrom(null, &diags)
	if diags.HasError() {
		t.Fatalf("diagnostics: %v", diags)
	}
	if got.AccessToken != "at_env_token" || got.BaseURL != "http://127.0.0.1:9999" || got.APIVersion != "v2" ||
		got.MaxRetries == nil || *got.MaxRetries != 7 || got.RetryWaitMin != 250*time.Millisecond ||
		got.RetryWaitMax != 4*time.Second || got.RequestTimeout != 45*time.Second ||
		got.RateLimitWait == nil || *got.RateLimitWait != 150*time.Second || got.MaxRequestsPerMinute != 100 {
		t.Errorf("settings = %+v", got)
	}

	// The provider block wins over the environment.
	block := null
	block.APIVersion = types.StringValue("v1")
	block.MaxRetries = types.Int64Value(0)
	block.RateLimitWait = types.StringValue("0s")
	block.MaxRequests = types.Int64Value(10)
	got = settingsFrom(block, &diags)
	if got.APIVersion != "v1" || *got.MaxRetries != 0 || *got.RateLimitWait != 0 || got.MaxRequestsPerMinute != 10 {
		t.Errorf("block did not win: %+v", got)
	}

	bad := map[string]string{
		keymint.EnvAPIVersion:     `KEYMINT_API_VERSION is "v9"; allowed values are "auto", "v1" and "v2"`,
		keymint.EnvRateLimitWait:  `KEYMINT_RATE_LIMIT_WAIT is "v9": it must be a duration`,
		keymint.EnvMaxRequests:    `KEYMINT_MAX_REQUESTS_PER_MINUTE is "v9"; it must be a whole number from 1 to 100000`,
		keymint.EnvMaxRetries:     `KEYMINT_MAX_RETRIES is "v9"; it must be a whole number from 0 to 20`,
		keymint.EnvRetryWaitMin:   `KEYMINT_RETRY_WAIT_MIN is "v9": it must be a duration`,
		keymint.EnvRetryWaitMax:   `KEYMINT_RETRY_WAIT_MAX is "v9": it must be a duration`,
		keymint.EnvRequestTimeout: `KEYMINT_REQUEST_TIMEOUT is "v9": it must be a duration`,
		keymint.EnvBaseURL:        `base_url "v9" is not a valid URL`,
	}
	for env, want := range bad {
		t.Run(env, func(t *testing.T) {
			t.Setenv(env, "v9")
			var diags diag.Diagnostics
			settingsFrom(null, &diags)
			if !strings.Contains(fmt.Sprint(diags), want) {
				t.Errorf("diagnostics %v do not say %q", diags, want)
			}
		})
	}
	t.Run("0s means the default", func(t *testing.T) {
		t.Setenv(keymint.EnvRetryWaitMin, "5s")
		t.Setenv(keymint.EnvRetryWaitMax, "0s") // the default, 30s: longer than 5s
		var diags diag.Diagnostics
		settingsFrom(null, &diags)
		if diags.HasError() {
			t.Errorf("retry_wait_min 5s with retry_wait_max 0s (the default) refused: %v", diags)
		}
		if !retryWaitsInverted(45*time.Second, 0) || retryWaitsInverted(0, 0) || retryWaitsInverted(5*time.Second, 0) {
			t.Error("retryWaitsInverted does not count 0s as the default")
		}
	})
	t.Run("min above max", func(t *testing.T) {
		t.Setenv(keymint.EnvRetryWaitMin, "5s")
		var diags diag.Diagnostics
		settingsFrom(null, &diags)
		if !strings.Contains(fmt.Sprint(diags), "longer than the maximum") {
			t.Errorf("diagnostics: %v", diags)
		}
	})
}

func TestUserAgent(t *testing.T) {
	ua := userAgent("1.2.3", "1.5.7")
	for _, want := range []string{"terraform-provider-keymint/1.2.3", "Terraform/1.5.7"} {
		if !strings.Contains(ua, want) {
			t.Errorf("userAgent = %q, want it to contain %q", ua, want)
		}
	}
}

// TestAccProvider_configErrors runs the provider with bad settings through the
// CLI; each is refused before any API call, naming what to fix.
func TestAccProvider_configErrors(t *testing.T) {
	acctest.PreCheck(t)
	tests := []struct {
		name     string
		settings string // lines of the provider block
		want     string
	}{
		{"http to a remote host", `base_url = "http://api.keymint.dev"`, `clear text`},
		{"private http host", `base_url = "http://10.1.2.3:8787"`, `clear text`},
		{"not a URL", `base_url = "api.keymint.dev"`, `base_url "api.keymint.dev" is not a valid URL`},
		{"empty token", `access_token = ""`, `KEYMINT_ACCESS_TOKEN`},
		{"unknown api_version", `api_version = "v3"`, `api_version value must be one of: ["auto" "v1" "v2"]`},
		{"negative max_retries", `max_retries = -1`, `max_retries value must be between 0 and 20, got: -1`},
		{"absurd max_retries", `max_retries = 1000`, `max_retries value must be between 0 and 20, got: 1000`},
		{"negative wait", `retry_wait_min = "-1s"`, `retry_wait_min is "-1s": it must be from 0s to 10m0s`},
		{"absurd wait", `retry_wait_max = "24h"`, `retry_wait_max is "24h": it must be from 0s to 10m0s`},
		{"not a duration", `retry_wait_max = "soon"`, `retry_wait_max is "soon": it must be a duration such as`},
		{"min above max", "retry_wait_min = \"10s\"\n  retry_wait_max = \"1s\"", `retry_wait_min (10s) is longer than retry_wait_max (1s)`},
		{"tiny timeout", `request_timeout = "1ms"`, `request_timeout is "1ms": it must be from 1s to 10m0s`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			baseURL := acctest.IsolatedServer(t)
			settings := tt.settings
			if !strings.Contains(settings, "base_url") {
				settings += fmt.Sprintf("\n  base_url = %q", baseURL)
			}
			l := acctest.License{ProductID: "prod_" + strings.Repeat("p", 20), Key: "lk_" + strings.Repeat("k", 24)}
			resource.ParallelTest(t, resource.TestCase{
				ProtoV6ProviderFactories: protoV6ProviderFactories,
				Steps: []resource.TestStep{{
					Config:      "provider \"keymint\" {\n  " + settings + "\n}\n" + activationConfig("a", l, "cfg-host", ""),
					PlanOnly:    true,
					ExpectError: expectError(tt.want),
				}},
			})
		})
	}
}

// TestAccProvider_missingToken: with no token anywhere, the error names the
// environment variable to set. Not parallel: it changes the environment.
func TestAccProvider_missingToken(t *testing.T) {
	acctest.PreCheck(t)
	baseURL := acctest.IsolatedServer(t)
	l := acctest.License{ProductID: "prod_" + strings.Repeat("p", 20), Key: "lk_" + strings.Repeat("k", 24)}
	t.Setenv("KEYMINT_ACCESS_TOKEN", "")
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6ProviderFactories,
		Steps: []resource.TestStep{{
			Config:      fmt.Sprintf("provider \"keymint\" {\n  base_url = %q\n}\n", baseURL) + activationConfig("a", l, "no-token-host", ""),
			PlanOnly:    true,
			ExpectError: expectError(`Missing KeyMint access token`, `KEYMINT_ACCESS_TOKEN`),
		}},
	})
}

// expectError matches an error that contains each phrase, in order. Terraform
// wraps long messages, so any run of white space matches a space.
func expectError(phrases ...string) *regexp.Regexp {
	parts := make([]string, len(phrases))
	for i, p := range phrases {
		words := strings.Fields(p)
		for j, w := range words {
			words[j] = regexp.QuoteMeta(w)
		}
		parts[i] = strings.Join(words, `\s+`)
	}
	return regexp.MustCompile(strings.Join(parts, `[\s\S]*`))
}
