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

	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/action"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/provider"
	"github.com/hashicorp/terraform-plugin-framework/provider/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/keymint-dev/terraform-provider-keymint/internal/keymint"
)

// maxRequestsPerMinuteMax bounds max_requests_per_minute: far above any
// KeyMint plan (1,000 a minute), low enough to catch a typo.
const maxRequestsPerMinuteMax = 100000

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

// providerModel maps the provider block.
type providerModel struct {
	AccessToken    types.String `tfsdk:"access_token"`
	BaseURL        types.String `tfsdk:"base_url"`
	APIVersion     types.String `tfsdk:"api_version"`
	MaxRetries     types.Int64  `tfsdk:"max_retries"`
	RetryWaitMin   types.String `tfsdk:"retry_wait_min"`
	RetryWaitMax   types.String `tfsdk:"retry_wait_max"`
	RequestTimeout types.String `tfsdk:"request_timeout"`
	RateLimitWait  types.String `tfsdk:"rate_limit_wait"`
	MaxRequests    types.Int64  `tfsdk:"max_requests_per_minute"`
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
	resp.Schema = schema.Schema{
		MarkdownDescription: "The KeyMint provider manages license activations of the " +
			"[KeyMint](https://keymint.dev) licensing service: it binds licenses to machines and frees " +
			"their seats when the machines are destroyed.",
		Attributes: map[string]schema.Attribute{
			"access_token": schema.StringAttribute{
				MarkdownDescription: "KeyMint API access token, sent as a bearer token. May also be set with the `" +
					keymint.EnvAccessToken + "` environment variable, which is preferred: a token written in configuration " +
					"ends up in version control.",
				Optional:  true,
				Sensitive: true,
			},
			"base_url": schema.StringAttribute{
				MarkdownDescription: "Base URL of the KeyMint API. May also be set with the `" + keymint.EnvBaseURL +
					"` environment variable. Defaults to `" + keymint.DefaultBaseURL + "`. Plain `http://` is " +
					"accepted only for loopback addresses (`localhost`, `127.0.0.0/8`, `::1`), such as the bundled " +
					"local server, because the access token would otherwise travel in clear text.",
				Optional: true,
			},
			"api_version": schema.StringAttribute{
				MarkdownDescription: "Which generation of KeyMint's API paths to use. `auto` (the default) starts " +
					"with the paths of the `/deactivate-key` documentation (`/activate-key`, `/deactivate-key`, " +
					"`/get-key`) and, the first time one of them is answered as an unknown route (a 404 or 405 that is " +
					"not a KeyMint answer), switches to the paths of KeyMint's current SDKs (`/key/activate`, " +
					"`/key/deactivate`, `GET /key`) for the rest of the run and repeats that call there. `v1` and `v2` " +
					"pin one set. May also be set with `" + keymint.EnvAPIVersion + "`.",
				Optional:   true,
				Validators: []validator.String{stringvalidator.OneOf(keymint.APIVersions...)},
			},
			"max_retries": schema.Int64Attribute{
				MarkdownDescription: fmt.Sprintf("How often a request that failed in transit or was answered "+
					"with a server error (5xx except 501, or an answer cut off mid-way) is retried, 0 to %d. Rate-limited "+
					"requests (429) do not count against it: they are bounded by `rate_limit_wait`. Other errors are "+
					"never retried. May also be set with `%s`. Defaults to %d.", keymint.MaxMaxRetries, keymint.EnvMaxRetries, keymint.DefaultMaxRetries),
				Optional:   true,
				Validators: []validator.Int64{int64validator.Between(0, keymint.MaxMaxRetries)},
			},
			"retry_wait_min": schema.StringAttribute{
				MarkdownDescription: fmt.Sprintf("Shortest wait before a retry, as a duration such as `500ms` or "+
					"`2s`. Waits double with each retry, with jitter. May also be set with `%s`. Defaults to `%s`.",
					keymint.EnvRetryWaitMin, keymint.DefaultRetryWaitMin),
				Optional:   true,
				Validators: []validator.String{durationBetween(0, keymint.MaxRetryWait)},
			},
			"retry_wait_max": schema.StringAttribute{
				MarkdownDescription: fmt.Sprintf("Longest wait before a retry where the server names no time, as a "+
					"duration, at most `%s`. A `Retry-After` the server sends with a 429 or 503 is honoured in full, "+
					"within `rate_limit_wait`. May also be set with `%s`. Defaults to `%s`.",
					keymint.MaxRetryWait, keymint.EnvRetryWaitMax, keymint.DefaultRetryWaitMax),
				Optional:   true,
				Validators: []validator.String{durationBetween(0, keymint.MaxRetryWait)},
			},
			"request_timeout": schema.StringAttribute{
				MarkdownDescription: fmt.Sprintf("Time limit of each request attempt, answer included, as a "+
					"duration from `%s` to `%s`. May also be set with `%s`. Defaults to `%s`.",
					keymint.MinRequestTimeout, keymint.MaxRequestTimeout, keymint.EnvRequestTimeout, keymint.DefaultRequestTimeout),
				Optional:   true,
				Validators: []validator.String{durationBetween(keymint.MinRequestTimeout, keymint.MaxRequestTimeout)},
			},
			"rate_limit_wait": schema.StringAttribute{
				MarkdownDescription: fmt.Sprintf("How long one request may wait in total for KeyMint's rate limit, "+
					"as a duration from `0s` to `%s`. When KeyMint answers 429, every request of the provider waits "+
					"until the moment the server names in `Retry-After`, then tries again; a request that has waited "+
					"this long in total gives up with an error saying how often it was refused and for how long it "+
					"waited. `0s` gives up at the first 429. May also be set with `%s`. Defaults to `%s`.",
					keymint.MaxRateLimitWait, keymint.EnvRateLimitWait, keymint.DefaultRateLimitWait),
				Optional:   true,
				Validators: []validator.String{durationBetween(0, keymint.MaxRateLimitWait)},
			},
			"max_requests_per_minute": schema.Int64Attribute{
				MarkdownDescription: fmt.Sprintf("Paces the provider's requests so that it never sends more than "+
					"this many a minute, 1 to %d: set it to your KeyMint plan's limit (10, 100 or 1,000 a minute) so that "+
					"a large apply is never refused with 429 at all. Requests are spaced evenly, 5%% further apart than "+
					"the limit allows, so that a server counting in a sliding window never refuses one. Unset, requests "+
					"are not paced and a 429 makes them wait (see `rate_limit_wait`). May also be set with `%s`.",
					maxRequestsPerMinuteMax, keymint.EnvMaxRequests),
				Optional:   true,
				Validators: []validator.Int64{int64validator.Between(1, maxRequestsPerMinuteMax)},
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
	for name, v := range map[string]attr.Value{
		"access_token": cfg.AccessToken, "base_url": cfg.BaseURL, "api_version": cfg.APIVersion, "max_retries": cfg.MaxRetries,
		"retry_wait_min": cfg.RetryWaitMin, "retry_wait_max": cfg.RetryWaitMax, "request_timeout": cfg.RequestTimeout,
		"rate_limit_wait": cfg.RateLimitWait, "max_requests_per_minute": cfg.MaxRequests,
	} {
		if v.IsUnknown() {
			resp.Diagnostics.AddAttributeError(path.Root(name), "Unknown "+name,
				name+" depends on a value that is not known until apply. Use a value known at plan time, "+
					"or set it through its environment variable.")
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
