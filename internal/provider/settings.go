package provider

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/keymint-dev/terraform-provider-keymint/internal/keymint"
)

// settingsFrom merges the provider block with the environment (the block
// wins) into client settings. Every problem is reported against the
// attribute, naming its environment variable and what is allowed.
func settingsFrom(cfg providerModel, diags *diag.Diagnostics) keymint.Config {
	var out keymint.Config

	out.AccessToken = firstNonEmpty(cfg.AccessToken.ValueString(), os.Getenv(keymint.EnvAccessToken))
	if out.AccessToken == "" {
		diags.AddAttributeError(path.Root("access_token"), "Missing KeyMint access token",
			"The provider needs a KeyMint API access token. Set the "+keymint.EnvAccessToken+" environment variable "+
				"(preferred), or the access_token argument of the provider block.")
	}

	out.BaseURL = firstNonEmpty(cfg.BaseURL.ValueString(), os.Getenv(keymint.EnvBaseURL), keymint.DefaultBaseURL)
	if err := checkBaseURL(out.BaseURL); err != nil {
		diags.AddAttributeError(path.Root("base_url"), "Invalid base_url",
			err.Error()+" (the value comes from the base_url argument or the "+keymint.EnvBaseURL+" environment variable)")
	}

	out.APIVersion = firstNonEmpty(cfg.APIVersion.ValueString(), os.Getenv(keymint.EnvAPIVersion), keymint.APIAuto)
	if !slices.Contains(keymint.APIVersions, out.APIVersion) {
		diags.AddAttributeError(path.Root("api_version"), "Invalid api_version",
			fmt.Sprintf("%s is %q; allowed values are %s.", keymint.EnvAPIVersion, out.APIVersion, quoted(keymint.APIVersions)))
	}

	if n, ok := intSetting(cfg.MaxRetries, "max_retries", keymint.EnvMaxRetries, 0, keymint.MaxMaxRetries, diags); ok {
		out.MaxRetries = &n
	}
	if n, ok := intSetting(cfg.MaxRequests, "max_requests_per_minute", keymint.EnvMaxRequests, 1, maxRequestsPerMinuteMax, diags); ok {
		out.MaxRequestsPerMinute = n
	}
	out.RateLimitWait = ptr(durationSetting(cfg.RateLimitWait, "rate_limit_wait", keymint.EnvRateLimitWait, 0, keymint.MaxRateLimitWait, keymint.DefaultRateLimitWait, diags))

	out.RetryWaitMin = durationSetting(cfg.RetryWaitMin, "retry_wait_min", keymint.EnvRetryWaitMin, 0, keymint.MaxRetryWait, keymint.DefaultRetryWaitMin, diags)
	out.RetryWaitMax = durationSetting(cfg.RetryWaitMax, "retry_wait_max", keymint.EnvRetryWaitMax, 0, keymint.MaxRetryWait, keymint.DefaultRetryWaitMax, diags)
	out.RequestTimeout = durationSetting(cfg.RequestTimeout, "request_timeout", keymint.EnvRequestTimeout,
		keymint.MinRequestTimeout, keymint.MaxRequestTimeout, keymint.DefaultRequestTimeout, diags)
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
func intSetting(v types.Int64, attr, env string, lo, hi int, diags *diag.Diagnostics) (int, bool) {
	if !v.IsNull() {
		return int(v.ValueInt64()), true // checked by int64validator.Between at validation
	}
	raw := os.Getenv(env)
	if raw == "" {
		return 0, false
	}
	n, err := strconv.Atoi(strings.TrimSpace(raw))
	if err != nil || n < lo || n > hi {
		diags.AddAttributeError(path.Root(attr), "Invalid "+attr,
			fmt.Sprintf("%s is %q; it must be a whole number from %d to %d.", env, raw, lo, hi))
		return 0, false
	}
	return n, true
}

// durationSetting reads a duration from the attribute, else the environment
// variable, else def.
func durationSetting(v types.String, attr, env string, lo, hi, def time.Duration, diags *diag.Diagnostics) time.Duration {
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
		diags.AddAttributeError(path.Root(attr), "Invalid "+attr, fmt.Sprintf("%s is %q: %s.", env, raw, err))
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

func ptr[T any](v T) *T { return &v }
