package keymint

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/go-retryablehttp"
	"github.com/hashicorp/terraform-plugin-log/tflog"
)

// Bounds on the retry settings; anything outside is a configuration mistake.
const (
	MaxMaxRetries     = 20
	MaxRetryWait      = 10 * time.Minute
	MinRequestTimeout = 1 * time.Second
	MaxRequestTimeout = 10 * time.Minute
)

// Why retrying is safe here, call by call:
//   - activate: re-activating a host that holds a seat answers success and
//     uses no second seat, so a retry after a lost answer takes no extra seat;
//   - deactivate: a retry after a lost answer is answered "Device not found"
//     or "License not activated", which callers count as freed;
//   - get-key: a read.
// Only transport failures, 429 and 5xx are retried: any other 4xx is a
// definite answer that a retry would only repeat.

// newRetryingClient builds the HTTP client that retries failed requests
// with exponential backoff and jitter, honouring Retry-After.
func newRetryingClient(cfg Config) (*retryablehttp.Client, error) {
	maxRetries := DefaultMaxRetries
	if cfg.MaxRetries != nil {
		maxRetries = max(*cfg.MaxRetries, 0)
	}
	waitMin := orDefault(cfg.RetryWaitMin, DefaultRetryWaitMin)
	waitMax := orDefault(cfg.RetryWaitMax, DefaultRetryWaitMax)
	timeout := orDefault(cfg.RequestTimeout, DefaultRequestTimeout)
	switch {
	case maxRetries > MaxMaxRetries:
		return nil, fmt.Errorf("max retries %d is more than %d", maxRetries, MaxMaxRetries)
	case waitMin < 0 || waitMax < 0:
		return nil, errors.New("retry waits must not be negative")
	case waitMin > waitMax:
		return nil, fmt.Errorf("the minimum retry wait (%s) is longer than the maximum (%s)", waitMin, waitMax)
	case waitMax > MaxRetryWait:
		return nil, fmt.Errorf("the maximum retry wait %s is longer than %s", waitMax, MaxRetryWait)
	case timeout < MinRequestTimeout || timeout > MaxRequestTimeout:
		return nil, fmt.Errorf("the request timeout %s is not between %s and %s", timeout, MinRequestTimeout, MaxRequestTimeout)
	}
	base := cfg.Transport
	if base == nil {
		t, ok := http.DefaultTransport.(*http.Transport)
		if !ok {
			return nil, errors.New("http.DefaultTransport is not an *http.Transport")
		}
		t = t.Clone()
		// Terraform runs up to -parallelism operations at once; keep that
		// many connections to the one API host alive.
		t.MaxIdleConnsPerHost = 64
		base = t
	}
	return &retryablehttp.Client{
		HTTPClient: &http.Client{
			Transport: bufferingTransport{base},
			Timeout:   timeout,
		},
		Logger:         nil, // retries are logged through tflog below
		RetryWaitMin:   waitMin,
		RetryWaitMax:   waitMax,
		RetryMax:       maxRetries,
		CheckRetry:     checkRetry,
		Backoff:        backoff,
		ErrorHandler:   retryablehttp.PassthroughErrorHandler,
		RequestLogHook: logAttempt,
	}, nil
}

func orDefault(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}

// bufferingTransport reads every answer whole inside the round trip.
type bufferingTransport struct{ base http.RoundTripper }

func (t bufferingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	if err := bufferBody(resp); err != nil {
		return nil, fmt.Errorf("the answer was cut off: %w", err)
	}
	return resp, nil
}

// checkRetry retries transport failures, 429 and 5xx (not 501), and stops at
// once when the context ends.
func checkRetry(ctx context.Context, resp *http.Response, err error) (bool, error) {
	retry, policyErr := retryablehttp.DefaultRetryPolicy(ctx, resp, err)
	if retry {
		fields := map[string]any{}
		if err != nil {
			fields["error"] = unwrapURLError(err).Error()
		} else {
			fields["status"] = resp.StatusCode
		}
		tflog.Debug(ctx, "KeyMint API request failed; it will be retried", fields)
	}
	return retry, policyErr
}

// logAttempt logs every retry as it starts.
func logAttempt(_ retryablehttp.Logger, req *http.Request, attempt int) {
	if attempt > 0 {
		tflog.Debug(req.Context(), "KeyMint API retry", map[string]any{"attempt": attempt, "path": req.URL.Path})
	}
}

// backoff waits what the server asks for in Retry-After (429, 503), at most
// max; otherwise an exponentially growing wait from min to max, with jitter
// so that parallel requests do not retry in lockstep.
func backoff(minWait, maxWait time.Duration, attempt int, resp *http.Response) time.Duration {
	if resp != nil && (resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable) {
		if d, ok := retryAfter(resp.Header.Get("Retry-After"), time.Now()); ok {
			return min(d, maxWait)
		}
	}
	ceiling := maxWait
	if attempt < 32 && minWait<<attempt > 0 && minWait<<attempt < maxWait {
		ceiling = minWait << attempt
	}
	// Equal jitter: half fixed, half random, never below min.
	half := ceiling / 2
	wait := half + time.Duration(rand.Int64N(int64(half)+1))
	return max(wait, minWait)
}

// retryAfter parses a Retry-After value: delay seconds or an HTTP date.
func retryAfter(v string, now time.Time) (time.Duration, bool) {
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64); err == nil {
		if secs < 0 {
			return 0, false
		}
		return time.Duration(secs) * time.Second, true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	return max(t.Sub(now), 0), true
}
