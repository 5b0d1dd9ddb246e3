// Package provider implements the KeyMint Terraform provider: its
// configuration, resources and data sources. The API itself is spoken by
// package keymint; this package only maps Terraform models onto its calls.
package provider

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/provider"
	"github.com/hashicorp/terraform-plugin-framework/provider/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/keymint-dev/terraform-provider-keymint/internal/keymint"
)

// Environment variables read by the provider.
const (
	EnvAccessToken = "KEYMINT_ACCESS_TOKEN"
	EnvBaseURL     = "KEYMINT_BASE_URL"
)

var (
	_ provider.Provider                   = (*keymintProvider)(nil)
	_ provider.ProviderWithValidateConfig = (*keymintProvider)(nil)
)

// keymintProvider is the provider implementation.
type keymintProvider struct {
	// version is set by the release build, "dev" for local builds and "test"
	// in acceptance tests.
	version string
}

// providerModel maps the provider block.
type providerModel struct {
	AccessToken types.String `tfsdk:"access_token"`
	BaseURL     types.String `tfsdk:"base_url"`
}

// providerData is what resources and data sources receive from Configure.
type providerData struct {
	client *keymint.Client
}

// New returns a constructor for the provider at the given version.
func New(version string) func() provider.Provider {
	return func() provider.Provider {
		return &keymintProvider{version: version}
	}
}

func (p *keymintProvider) Metadata(_ context.Context, _ provider.MetadataRequest, resp *provider.MetadataResponse) {
	resp.TypeName = "keymint"
	resp.Version = p.version
}

func (p *keymintProvider) Schema(_ context.Context, _ provider.SchemaRequest, resp *provider.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "The KeyMint provider manages license activations of the " +
			"[KeyMint](https://keymint.dev) licensing service: it binds licenses to machines and frees " +
			"their seats when the machines are destroyed.",
		Attributes: map[string]schema.Attribute{
			"access_token": schema.StringAttribute{
				MarkdownDescription: "KeyMint API access token, sent as a bearer token. May also be set with the `" +
					EnvAccessToken + "` environment variable, which is preferred: a token written in configuration " +
					"ends up in version control.",
				Optional:  true,
				Sensitive: true,
			},
			"base_url": schema.StringAttribute{
				MarkdownDescription: "Base URL of the KeyMint API. May also be set with the `" + EnvBaseURL +
					"` environment variable. Defaults to `" + keymint.DefaultBaseURL + "`. Plain `http://` is " +
					"accepted only for loopback addresses (`localhost`, `127.0.0.0/8`, `::1`), such as the bundled " +
					"local server, because the access token would otherwise travel in clear text.",
				Optional: true,
			},
		},
	}
}

// ValidateConfig checks the settings that are known at plan time, before any
// API call is made.
func (p *keymintProvider) ValidateConfig(ctx context.Context, req provider.ValidateConfigRequest, resp *provider.ValidateConfigResponse) {
	var cfg providerModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &cfg)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if !cfg.BaseURL.IsNull() && !cfg.BaseURL.IsUnknown() {
		if err := checkBaseURL(cfg.BaseURL.ValueString()); err != nil {
			resp.Diagnostics.AddAttributeError(path.Root("base_url"), "Invalid base_url", err.Error())
		}
	}
	if !cfg.AccessToken.IsNull() && !cfg.AccessToken.IsUnknown() && strings.TrimSpace(cfg.AccessToken.ValueString()) == "" {
		resp.Diagnostics.AddAttributeError(path.Root("access_token"), "Empty access_token",
			"access_token is set to an empty string. Set it to your KeyMint API access token, or remove it "+
				"and set the "+EnvAccessToken+" environment variable instead.")
	}
}

func (p *keymintProvider) Configure(ctx context.Context, req provider.ConfigureRequest, resp *provider.ConfigureResponse) {
	var cfg providerModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &cfg)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if cfg.AccessToken.IsUnknown() {
		resp.Diagnostics.AddAttributeError(path.Root("access_token"), "Unknown access_token",
			"access_token depends on a value that is not known until apply. Use a value known at plan time, "+
				"or set the "+EnvAccessToken+" environment variable.")
	}
	if cfg.BaseURL.IsUnknown() {
		resp.Diagnostics.AddAttributeError(path.Root("base_url"), "Unknown base_url",
			"base_url depends on a value that is not known until apply. Use a value known at plan time, "+
				"or set the "+EnvBaseURL+" environment variable.")
	}
	if resp.Diagnostics.HasError() {
		return
	}

	token := firstNonEmpty(cfg.AccessToken.ValueString(), os.Getenv(EnvAccessToken))
	baseURL := firstNonEmpty(cfg.BaseURL.ValueString(), os.Getenv(EnvBaseURL), keymint.DefaultBaseURL)

	if token == "" {
		resp.Diagnostics.AddAttributeError(path.Root("access_token"), "Missing KeyMint access token",
			"The provider needs a KeyMint API access token. Set the "+EnvAccessToken+" environment variable "+
				"(preferred), or the access_token argument of the provider block.")
	}
	if err := checkBaseURL(baseURL); err != nil {
		resp.Diagnostics.AddAttributeError(path.Root("base_url"), "Invalid base_url",
			err.Error()+" (the value comes from the base_url argument or the "+EnvBaseURL+" environment variable)")
	}
	if resp.Diagnostics.HasError() {
		return
	}

	client, err := keymint.New(keymint.Config{
		BaseURL:     baseURL,
		AccessToken: token,
		UserAgent:   userAgent(p.version, req.TerraformVersion),
	})
	if err != nil {
		resp.Diagnostics.AddError("Cannot create the KeyMint client", err.Error())
		return
	}
	data := &providerData{client: client}
	resp.ResourceData = data
	resp.DataSourceData = data
}

func (p *keymintProvider) Resources(_ context.Context) []func() resource.Resource {
	return []func() resource.Resource{
		NewDeviceActivationResource,
	}
}

func (p *keymintProvider) DataSources(_ context.Context) []func() datasource.DataSource {
	return nil
}

// userAgent names the provider, its version and the Terraform version.
func userAgent(version, terraformVersion string) string {
	ua := "terraform-provider-keymint/" + version + " (+https://github.com/keymint-dev/terraform-provider-keymint)"
	if terraformVersion != "" {
		ua += " Terraform/" + terraformVersion
	}
	return ua
}

// checkBaseURL accepts an absolute https URL, or an http URL whose host is a
// loopback address. The error says what to fix.
func checkBaseURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return fmt.Errorf("base_url %q is not a valid URL: it must be an absolute https:// URL such as %s", raw, keymint.DefaultBaseURL)
	}
	if u.User != nil {
		return fmt.Errorf("base_url must not contain credentials; set the access token with the %s environment variable", EnvAccessToken)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("base_url %q must not have a query or fragment", u.Redacted())
	}
	if u.Scheme == "http" && !isLoopback(u.Hostname()) {
		return fmt.Errorf("base_url %q uses plain http:// to a host that is not a loopback address, so the access "+
			"token would travel in clear text; use https://, or http:// only for localhost, 127.0.0.0/8 or ::1", u.Redacted())
	}
	return nil
}

// isLoopback reports whether host is "localhost" or a loopback IP address.
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func firstNonEmpty(values ...string) string {
	for _, v := range values {
		if v != "" {
			return v
		}
	}
	return ""
}
