package keymint

// Environment variables of the provider's settings, one per argument of the
// provider block (the block wins). Everything that reads or sets them — the
// provider, keymint-local's client commands, the acceptance tests and the
// repository's tooling — uses these names.
const (
	EnvAccessToken    = "KEYMINT_ACCESS_TOKEN"
	EnvBaseURL        = "KEYMINT_BASE_URL"
	EnvAPIVersion     = "KEYMINT_API_VERSION"
	EnvMaxRetries     = "KEYMINT_MAX_RETRIES"
	EnvRetryWaitMin   = "KEYMINT_RETRY_WAIT_MIN"
	EnvRetryWaitMax   = "KEYMINT_RETRY_WAIT_MAX"
	EnvRequestTimeout = "KEYMINT_REQUEST_TIMEOUT"
	EnvRateLimitWait  = "KEYMINT_RATE_LIMIT_WAIT"
	EnvMaxRequests    = "KEYMINT_MAX_REQUESTS_PER_MINUTE"
)
