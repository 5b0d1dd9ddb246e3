package provider

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/provider/schema"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/keymint-dev/terraform-provider-keymint/internal/keymint"
)

// The provider's settings: the arguments of the provider block, each also
// read from an environment variable (the block wins). providerSettings is
// the one place a setting is declared: its schema attribute, its
// description, the settings table of the docs (the provider's description,
// which templates/index.md.tmpl renders into docs/index.md) and the way it
// reaches the client's Config are all built from its row. The names,
// defaults and bounds come from package keymint. A new setting is a field
// of providerModel, a row here, and its Env, Default and Config field in
// package keymint.

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

// providerSetting is one row of the settings table.
type providerSetting struct {
	name string // the attribute
	env  string // its environment variable
	// def is the default, or what being unset means (Markdown).
	def string
	// about says what the setting does, values what it takes (Markdown,
	// whole sentences).
	about, values string
	// attribute is the schema attribute with the given description.
	attribute func(description string) schema.Attribute
	// value is the setting's value in a provider block.
	value func(*providerModel) attr.Value
	// apply merges the block's value and the environment into out,
	// reporting a value that is not allowed.
	apply func(m *providerModel, out *keymint.Config, diags *diag.Diagnostics)
}

// retryRule says what the client retries (keymint's retry.go) in the one
// place the provider's docs say it.
var retryRule = "How often a request is sent again after it got no answer (the connection failed, the answer was cut off, " +
	"or the attempt ran past `request_timeout`) or a server error (5xx) other than 501 and other than a 503 with a " +
	"`Retry-After`. Rate-limit answers (429, and 503 with a `Retry-After`) do not count against it: they are waited " +
	"out within `rate_limit_wait`. Nothing else is retried: not a 501, a redirect or any other 4xx, which would only " +
	"be answered the same; not a 2xx answer that is not a success (the change may have been made); not a server " +
	"certificate that is not trusted. Waits between retries grow from `retry_wait_min` to `retry_wait_max`, with jitter."

// providerSettings are the settings in the order the docs list them.
var providerSettings = []providerSetting{
	{
		name: "access_token", env: keymint.EnvAccessToken, def: "none: required",
		about: "The KeyMint API access token, sent as a bearer token. Sensitive: it never appears in logs, plans or " +
			"errors. Prefer the environment variable: a token written in configuration ends up in version control.",
		attribute: func(d string) schema.Attribute {
			return schema.StringAttribute{MarkdownDescription: d, Optional: true, Sensitive: true}
		},
		value: func(m *providerModel) attr.Value { return m.AccessToken },
		apply: func(m *providerModel, out *keymint.Config, diags *diag.Diagnostics) {
			out.AccessToken = firstNonEmpty(m.AccessToken.ValueString(), os.Getenv(keymint.EnvAccessToken))
			if out.AccessToken == "" {
				diags.AddAttributeError(path.Root("access_token"), "Missing KeyMint access token",
					"The provider needs a KeyMint API access token. Set the "+keymint.EnvAccessToken+" environment variable "+
						"(preferred), or the access_token argument of the provider block.")
			}
		},
	},
	{
		name: "base_url", env: keymint.EnvBaseURL, def: "`" + keymint.DefaultBaseURL + "`",
		about: "The base URL of the KeyMint API; the API's paths are appended to it.",
		values: "An absolute `https://` URL, without credentials, query or fragment. Plain `http://` only for loopback " +
			"addresses (`localhost`, `127.0.0.0/8`, `::1`), such as `keymint-local`, because the access token would " +
			"otherwise travel in clear text.",
		attribute: func(d string) schema.Attribute {
			return schema.StringAttribute{MarkdownDescription: d, Optional: true}
		},
		value: func(m *providerModel) attr.Value { return m.BaseURL },
		apply: func(m *providerModel, out *keymint.Config, diags *diag.Diagnostics) {
			out.BaseURL = firstNonEmpty(m.BaseURL.ValueString(), os.Getenv(keymint.EnvBaseURL), keymint.DefaultBaseURL)
			if err := checkBaseURL(out.BaseURL); err != nil {
				diags.AddAttributeError(path.Root("base_url"), "Invalid base_url",
					err.Error()+" (the value comes from the base_url argument or the "+keymint.EnvBaseURL+" environment variable)")
			}
		},
	},
	{
		name: "api_version", env: keymint.EnvAPIVersion, def: "`" + keymint.DefaultAPIVersion + "`",
		values: "One of " + orList(keymint.APIVersions) + ".",
		about: "Which generation of KeyMint's API paths to use. `" + keymint.APIv1 + "`: `" + keymint.PathActivateV1 + "`, `" +
			keymint.PathDeactivateV1 + "`, `" + keymint.PathGetKeyV1 + "`, the paths of KeyMint's `" + keymint.PathDeactivateV1 +
			"` documentation. `" + keymint.APIv2 + "`: `" + keymint.PathActivateV2 + "`, `" + keymint.PathDeactivateV2 + "`, `GET " +
			keymint.PathGetKeyV2 + "`, the paths of KeyMint's current SDKs. `" + keymint.APIAuto + "` starts with `" + keymint.APIv1 +
			"` and, the first time a call is answered as an unknown route (a 404 or 405 that is not a KeyMint answer), repeats " +
			"it on `" + keymint.APIv2 + "` and keeps `" + keymint.APIv2 + "` for the rest of the run.",
		attribute: func(d string) schema.Attribute {
			return schema.StringAttribute{MarkdownDescription: d, Optional: true,
				Validators: []validator.String{stringvalidator.OneOf(keymint.APIVersions...)}}
		},
		value: func(m *providerModel) attr.Value { return m.APIVersion },
		apply: func(m *providerModel, out *keymint.Config, diags *diag.Diagnostics) {
			out.APIVersion = firstNonEmpty(m.APIVersion.ValueString(), os.Getenv(keymint.EnvAPIVersion), keymint.DefaultAPIVersion)
			if !slices.Contains(keymint.APIVersions, out.APIVersion) {
				diags.AddAttributeError(path.Root("api_version"), "Invalid api_version",
					fmt.Sprintf("%s is %q; allowed values are %s.", keymint.EnvAPIVersion, out.APIVersion, quoted(keymint.APIVersions)))
			}
		},
	},
	intRow("max_retries", keymint.EnvMaxRetries, "`"+strconv.Itoa(keymint.DefaultMaxRetries)+"`", 0, keymint.MaxMaxRetries, retryRule,
		func(m *providerModel) *types.Int64 { return &m.MaxRetries },
		func(out *keymint.Config, n int) { out.MaxRetries = &n }),
	durationRow("retry_wait_min", keymint.EnvRetryWaitMin, 0, keymint.MaxRetryWait, keymint.DefaultRetryWaitMin,
		"The shortest wait before a retry; waits double with each retry, with jitter. `0s` stands for the default.",
		func(m *providerModel) *types.String { return &m.RetryWaitMin },
		func(out *keymint.Config, d time.Duration) { out.RetryWaitMin = d }),
	durationRow("retry_wait_max", keymint.EnvRetryWaitMax, 0, keymint.MaxRetryWait, keymint.DefaultRetryWaitMax,
		"The longest wait before a retry where the server names no time; no shorter than `retry_wait_min`. A `Retry-After` "+
			"the server sends with a 429 or 503 is honoured in full, within `rate_limit_wait`. `0s` stands for the default.",
		func(m *providerModel) *types.String { return &m.RetryWaitMax },
		func(out *keymint.Config, d time.Duration) { out.RetryWaitMax = d }),
	durationRow("request_timeout", keymint.EnvRequestTimeout, keymint.MinRequestTimeout, keymint.MaxRequestTimeout, keymint.DefaultRequestTimeout,
		"The time limit of each attempt of a request, answer included.",
		func(m *providerModel) *types.String { return &m.RequestTimeout },
		func(out *keymint.Config, d time.Duration) { out.RequestTimeout = d }),
	durationRow("rate_limit_wait", keymint.EnvRateLimitWait, keymint.MinRateLimitWait, keymint.MaxRateLimitWait, keymint.DefaultRateLimitWait,
		"How long one request may wait in total for KeyMint's rate limit. On a 429 (or a 503 with a `Retry-After`), every "+
			"request of the provider waits until the moment the server names in `Retry-After`, then tries again; a request "+
			"that has waited this long in total gives up with an error saying how often it was refused and how long it "+
			"waited. `0s` gives up at the first such answer.",
		func(m *providerModel) *types.String { return &m.RateLimitWait },
		func(out *keymint.Config, d time.Duration) { out.RateLimitWait = &d }),
	intRow("max_requests_per_minute", keymint.EnvMaxRequests, "unset: not paced", 1, keymint.MaxMaxRequestsPerMinute,
		"Paces the provider's requests so that it never sends more than this many a minute: set it to your KeyMint plan's "+
			"limit (10, 100 or 1,000 a minute) so that a large apply is never refused with 429 at all. Requests are spaced "+
			"evenly, 5% further apart than the limit allows, so that a server counting in a sliding window never refuses "+
			"one. Unset, requests are not paced and a 429 makes them wait (see `rate_limit_wait`).",
		func(m *providerModel) *types.Int64 { return &m.MaxRequests },
		func(out *keymint.Config, n int) { out.MaxRequestsPerMinute = n }),
}

// intRow is the row of a whole-number setting from lo to hi; set takes
// its value when the block or the environment gives one.
func intRow(name, env, def string, lo, hi int, about string, field func(*providerModel) *types.Int64, set func(*keymint.Config, int)) providerSetting {
	return providerSetting{
		name: name, env: env, def: def, about: about,
		values: fmt.Sprintf("A whole number from %d to %d.", lo, hi),
		attribute: func(d string) schema.Attribute {
			return schema.Int64Attribute{MarkdownDescription: d, Optional: true,
				Validators: []validator.Int64{int64validator.Between(int64(lo), int64(hi))}}
		},
		value: func(m *providerModel) attr.Value { return *field(m) },
		apply: func(m *providerModel, out *keymint.Config, diags *diag.Diagnostics) {
			if n, ok := intSetting(*field(m), name, env, lo, hi, diags); ok {
				set(out, n)
			}
		},
	}
}

// durationRow is the row of a duration setting from lo to hi, def when
// neither the block nor the environment gives one.
func durationRow(name, env string, lo, hi, def time.Duration, about string, field func(*providerModel) *types.String, set func(*keymint.Config, time.Duration)) providerSetting {
	return providerSetting{
		name: name, env: env, def: "`" + durationText(def) + "`", about: about,
		values: fmt.Sprintf("A duration such as `500ms`, `2s` or `1m30s`, from `%s` to `%s`.", durationText(lo), durationText(hi)),
		attribute: func(d string) schema.Attribute {
			return schema.StringAttribute{MarkdownDescription: d, Optional: true,
				Validators: []validator.String{durationBetween(lo, hi)}}
		},
		value: func(m *providerModel) attr.Value { return *field(m) },
		apply: func(m *providerModel, out *keymint.Config, diags *diag.Diagnostics) {
			set(out, durationSetting(*field(m), name, env, lo, hi, def, diags))
		},
	}
}

// description is the attribute's description in the schema, which the
// docs' Schema section shows, as do editors.
func (s providerSetting) description() string {
	d := s.cell() + " May also be set with the `" + s.env + "` environment variable."
	if strings.HasPrefix(s.def, "`") {
		d += " Defaults to " + s.def + "."
	}
	return d
}

// cell is what the setting does and takes.
func (s providerSetting) cell() string {
	return strings.TrimSpace(s.about + " " + s.values)
}

// settingsIntro opens the settings table in the provider's description.
const settingsIntro = "Every setting of the provider block can come from an environment variable instead. A value in the " +
	"provider block wins, and the variable is then not read at all; an empty variable counts as unset. Settings are " +
	"checked before any API call, and an invalid one is reported with what is allowed."

// settingsTable is the Markdown table of the settings: attribute,
// environment variable, default, and what it does and takes.
func settingsTable() string {
	var b strings.Builder
	b.WriteString("| Setting | Environment variable | Default | Description |\n")
	b.WriteString("|---------|----------------------|---------|-------------|\n")
	for _, s := range providerSettings {
		fmt.Fprintf(&b, "| `%s` | `%s` | %s | %s |\n", s.name, s.env, s.def, s.cell())
	}
	return b.String()
}

// providerSchema is the provider's schema, built from providerSettings.
func providerSchema() schema.Schema {
	attrs := make(map[string]schema.Attribute, len(providerSettings))
	for _, s := range providerSettings {
		attrs[s.name] = s.attribute(s.description())
	}
	return schema.Schema{
		MarkdownDescription: settingsIntro + "\n\n" + settingsTable(),
		Attributes:          attrs,
	}
}

// settingsFrom merges the provider block with the environment (the block
// wins) into client settings. Every problem is reported against the
// attribute, naming its environment variable and what is allowed.
func settingsFrom(cfg providerModel, diags *diag.Diagnostics) keymint.Config {
	var out keymint.Config
	for _, s := range providerSettings {
		s.apply(&cfg, &out, diags)
	}
	if !diags.HasError() && retryWaitsInverted(out.RetryWaitMin, out.RetryWaitMax) {
		diags.AddAttributeError(path.Root("retry_wait_min"), "Invalid retry waits",
			fmt.Sprintf("The minimum retry wait (%s) is longer than the maximum (%s), counting %s and %s; "+
				"make the minimum no longer than the maximum.", out.RetryWaitMin, out.RetryWaitMax, keymint.EnvRetryWaitMin, keymint.EnvRetryWaitMax))
	}
	return out
}

// retryWaitsInverted reports whether the shortest retry wait is longer than
// the longest, counting 0s as the default it stands for.
func retryWaitsInverted(lo, hi time.Duration) bool {
	if lo == 0 {
		lo = keymint.DefaultRetryWaitMin
	}
	if hi == 0 {
		hi = keymint.DefaultRetryWaitMax
	}
	return lo > hi
}

// intSetting reads a whole number from the attribute, else the environment
// variable; ok is false when neither is set (or the variable is invalid,
// which is reported).
func intSetting(v types.Int64, name, env string, lo, hi int, diags *diag.Diagnostics) (int, bool) {
	if !v.IsNull() {
		return int(v.ValueInt64()), true // checked by int64validator.Between at validation
	}
	raw := os.Getenv(env)
	if raw == "" {
		return 0, false
	}
	n, err := strconv.Atoi(strings.TrimSpace(raw))
	if err != nil || n < lo || n > hi {
		diags.AddAttributeError(path.Root(name), "Invalid "+name,
			fmt.Sprintf("%s is %q; it must be a whole number from %d to %d.", env, raw, lo, hi))
		return 0, false
	}
	return n, true
}

// durationSetting reads a duration from the attribute, else the environment
// variable, else def.
func durationSetting(v types.String, name, env string, lo, hi, def time.Duration, diags *diag.Diagnostics) time.Duration {
	if !v.IsNull() {
		d, _ := time.ParseDuration(v.ValueString()) // checked by durationBetween at validation
		return d
	}
	raw := os.Getenv(env)
	if raw == "" {
		return def
	}
	d, err := parseDurationBetween(raw, lo, hi)
	if err != nil {
		diags.AddAttributeError(path.Root(name), "Invalid "+name, fmt.Sprintf("%s is %q: %s.", env, raw, err))
	}
	return d
}

// parseDurationBetween parses a Go duration ("500ms", "2s", "1m30s") within
// [lo, hi]. Its error says what is allowed.
func parseDurationBetween(s string, lo, hi time.Duration) (time.Duration, error) {
	d, err := time.ParseDuration(strings.TrimSpace(s))
	if err != nil {
		return 0, fmt.Errorf("it must be a duration such as \"500ms\", \"2s\" or \"1m\", from %s to %s", lo, hi)
	}
	if d < lo || d > hi {
		return 0, fmt.Errorf("it must be from %s to %s", lo, hi)
	}
	return d, nil
}

// durationText writes d as people write it: 15m rather than Go's 15m0s,
// 1h rather than 1h0m0s. time.ParseDuration reads it back.
func durationText(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// knownDurations returns both durations when both are set, known and valid.
func knownDurations(a, b types.String) (time.Duration, time.Duration, bool) {
	if a.IsNull() || a.IsUnknown() || b.IsNull() || b.IsUnknown() {
		return 0, 0, false
	}
	da, errA := time.ParseDuration(a.ValueString())
	db, errB := time.ParseDuration(b.ValueString())
	return da, db, errA == nil && errB == nil
}

// durationBetween validates a duration string at plan time.
func durationBetween(lo, hi time.Duration) validator.String {
	return durationValidator{lo, hi}
}

type durationValidator struct{ lo, hi time.Duration }

func (v durationValidator) Description(context.Context) string {
	return fmt.Sprintf("value must be a duration such as \"500ms\" or \"2s\", from %s to %s", v.lo, v.hi)
}

func (v durationValidator) MarkdownDescription(ctx context.Context) string { return v.Description(ctx) }

func (v durationValidator) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	if _, err := parseDurationBetween(req.ConfigValue.ValueString(), v.lo, v.hi); err != nil {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid duration",
			fmt.Sprintf("Attribute %s is %q: %s.", req.Path, req.ConfigValue.ValueString(), err))
	}
}

func quoted(values []string) string {
	q := make([]string, len(values))
	for i, v := range values {
		q[i] = strconv.Quote(v)
	}
	if len(q) < 2 {
		return strings.Join(q, "")
	}
	return strings.Join(q[:len(q)-1], ", ") + " and " + q[len(q)-1]
}

// orList writes values as Markdown code, joined with "or": `a`, `b` or `c`.
func orList(values []string) string {
	q := make([]string, len(values))
	for i, v := range values {
		q[i] = "`" + v + "`"
	}
	if len(q) < 2 {
		return strings.Join(q, "")
	}
	return strings.Join(q[:len(q)-1], ", ") + " or " + q[len(q)-1]
}
