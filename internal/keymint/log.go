package keymint

import "context"

// Logger receives the client's log lines: each request, retry, wait and
// answer, at debug level, and the few events a user may want to know of
// (a rate limit reached, a switch of API generation) at info level. The
// client itself logs nowhere: a nil Config.Logger keeps it silent, and the
// provider passes one that writes to Terraform's log.
//
// Every string the client hands a Logger has its call's secrets masked
// already, in every form they may take (see masker). WithSecrets lets a
// Logger back that up with a masking of its own.
type Logger interface {
	// WithSecrets returns the context for the log lines of one call; a
	// Logger that can hide strings hides each of secrets (whole-string
	// forms of the access token and the license key: as they are,
	// JSON-, URL- and HTML-escaped) wherever they appear in the lines
	// logged with it. One that cannot returns ctx.
	WithSecrets(ctx context.Context, secrets ...string) context.Context
	Debug(ctx context.Context, msg string, fields map[string]any)
	Info(ctx context.Context, msg string, fields map[string]any)
}

// logLevel selects the Logger method of a line.
type logLevel int

const (
	levelDebug logLevel = iota
	levelInfo
)

// log hands a line of the call st to the client's Logger, if any, with
// the call's secrets masked in every string field (the call sites mask
// them already; this keeps a new field from forgetting to).
func (c *Client) log(ctx context.Context, st *callState, level logLevel, msg string, fields map[string]any) {
	if c.logger == nil {
		return
	}
	for k, v := range fields {
		if s, ok := v.(string); ok {
			fields[k] = st.mask.redact(s)
		}
	}
	msg = st.mask.redact(msg)
	switch level {
	case levelInfo:
		c.logger.Info(ctx, msg, fields)
	default:
		c.logger.Debug(ctx, msg, fields)
	}
}
