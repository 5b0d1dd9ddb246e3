// Package provider implements the KeyMint Terraform provider: its
// configuration, resources and data sources. The API itself is spoken by
// package keymint; this package only maps Terraform models onto its calls.
package provider

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"

	"github.com/hashicorp/terraform-plugin-framework/action"
	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/provider"
	"github.com/hashicorp/terraform-plugin-framework/resource"

	"github.com/keymint-dev/terraform-provider-keymint/internal/keymint"
)

var (
	_ provider.Provider                   = (*keymintProvider)(nil)
	_ provider.ProviderWithValidateConfig = (*keymintProvider)(nil)
	_ provider.ProviderWithActions        = (*keymintProvider)(nil)
)

// keymintProvider is the provider implementation.
type keymintProvider struct {
	// version is set by the release build, "dev" for local builds and "test"
	// in acceptance tests.
	version string
}

// providerData is what resources and data sources receive from Configure.
type providerData struct {
	client *keymint.Client
	// warnings says each warning of the run once, however many resources
	// meet its cause.
	warnings *onceWarnings
	// activated holds the IDs of the activations this run created
	// (recordActivation).
	activated sync.Map
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
	resp.Schema = providerSchema()
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
	if lo, hi, ok := knownDurations(cfg.RetryWaitMin, cfg.RetryWaitMax); ok && retryWaitsInverted(lo, hi) {
		resp.Diagnostics.AddAttributeError(path.Root("retry_wait_min"), "Invalid retry waits",
			fmt.Sprintf("retry_wait_min (%s) is longer than retry_wait_max (%s); make the minimum no longer than the maximum.", lo, hi))
	}
	if !cfg.AccessToken.IsNull() && !cfg.AccessToken.IsUnknown() && strings.TrimSpace(cfg.AccessToken.ValueString()) == "" {
		resp.Diagnostics.AddAttributeError(path.Root("access_token"), "Empty access_token",
			"access_token is set to an empty string. Set it to your KeyMint API access token, or remove it "+
				"and set the "+keymint.EnvAccessToken+" environment variable instead.")
	}
}

func (p *keymintProvider) Configure(ctx context.Context, req provider.ConfigureRequest, resp *provider.ConfigureResponse) {
	var cfg providerModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &cfg)...)
	if resp.Diagnostics.HasError() {
		return
	}
	for _, s := range providerSettings {
		if s.value(&cfg).IsUnknown() {
			resp.Diagnostics.AddAttributeError(path.Root(s.name), "Unknown "+s.name,
				s.name+" depends on a value that is not known until apply. Use a value known at plan time, "+
					"or set it through its environment variable ("+s.env+").")
		}
	}
	if resp.Diagnostics.HasError() {
		return
	}

	settings := settingsFrom(cfg, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	settings.UserAgent = userAgent(p.version, req.TerraformVersion)
	settings.Logger = tflogLogger{}
	client, err := keymint.New(settings)
	if err != nil {
		resp.Diagnostics.AddError("Invalid KeyMint provider settings", err.Error())
		return
	}
	data := &providerData{client: client, warnings: &onceWarnings{}}
	resp.ResourceData = data
	resp.DataSourceData = data
	resp.ActionData = data
}

func (p *keymintProvider) Resources(_ context.Context) []func() resource.Resource {
	return []func() resource.Resource{
		NewDeviceActivationResource,
		NewLicenseActivationsResource,
		NewLicenseKeyResource,
		NewLicenseResetResource,
	}
}

func (p *keymintProvider) DataSources(_ context.Context) []func() datasource.DataSource {
	return []func() datasource.DataSource{
		NewLicenseDataSource,
	}
}

// Actions are invoked by Terraform 1.14 and later; older CLIs ignore them.
func (p *keymintProvider) Actions(_ context.Context) []func() action.Action {
	return []func() action.Action{
		NewLicenseResetAction,
	}
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
// loopback address. The error says what to fix, and shows the URL only as
// safeURL does: user info and a query may hold secrets.
func checkBaseURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return fmt.Errorf("base_url %s is not a valid URL: it must be an absolute https:// URL such as %s", safeURL(raw), keymint.DefaultBaseURL)
	}
	if u.User != nil {
		return fmt.Errorf("base_url %s must not contain credentials (user info before the host); set the access token with the %s environment variable", safeURL(raw), keymint.EnvAccessToken)
	}
	if u.RawQuery != "" || u.Fragment != "" || u.ForceQuery {
		return fmt.Errorf("base_url %s must not have a query or fragment", safeURL(raw))
	}
	if u.Scheme == "http" && !isLoopback(u.Hostname()) {
		return fmt.Errorf("base_url %s uses plain http:// to a host that is not a loopback address, so the access "+
			"token would travel in clear text; use https://, or http:// only for localhost, 127.0.0.0/8 or ::1", safeURL(raw))
	}
	return nil
}

// safeURL quotes a base URL for a message without what may hold a secret:
// user info, the query and the fragment are left out (and said to be), and
// something that does not parse as a URL is not repeated at all.
func safeURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(a value that does not parse as a URL)"
	}
	var dropped []string
	if u.User != nil {
		dropped = append(dropped, "user info")
	}
	if u.RawQuery != "" || u.ForceQuery {
		dropped = append(dropped, "query")
	}
	if u.Fragment != "" {
		dropped = append(dropped, "fragment")
	}
	u.User, u.RawQuery, u.ForceQuery, u.Fragment, u.RawFragment = nil, "", false, "", ""
	s := strconv.Quote(u.String())
	if len(dropped) > 0 {
		s += " (" + strings.Join(dropped, ", ") + " not shown)"
	}
	return s
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
