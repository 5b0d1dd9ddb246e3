package provider

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"

	"github.com/keymint-dev/terraform-provider-keymint/internal/acctest"
)

func TestMain(m *testing.M) {
	stop := acctest.Setup()
	code := m.Run()
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
	if err := checkBaseURL("https://user:secretpw@api.keymint.dev"); err != nil && strings.Contains(err.Error(), "secretpw") {
		t.Errorf("the error repeats the password: %v", err)
	}
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
	l := acctest.NewLicense(t, 1)
	res := activationConfig("a", l, "cfg-host", "")
	tests := []struct {
		name   string
		config string
		want   string
	}{
		{"http to a remote host", `provider "keymint" { base_url = "http://api.keymint.dev" }` + res, `clear text`},
		{"not a URL", `provider "keymint" { base_url = "api.keymint.dev" }` + res, `not a valid URL`},
		{"empty token", `provider "keymint" { access_token = "" }` + res, `KEYMINT_ACCESS_TOKEN`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resource.Test(t, resource.TestCase{
				ProtoV6ProviderFactories: protoV6ProviderFactories,
				Steps: []resource.TestStep{{
					Config:      tt.config,
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
	l := acctest.NewLicense(t, 1)
	t.Setenv("KEYMINT_ACCESS_TOKEN", "")
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6ProviderFactories,
		Steps: []resource.TestStep{{
			Config:      activationConfig("a", l, "no-token-host", ""),
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
