package provider

import (
	"context"

	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/keymint-dev/terraform-provider-keymint/internal/keymint"
)

// tflogLogger writes the API client's log lines to the provider's log
// (TF_LOG_PROVIDER), at the level the client gives them.
type tflogLogger struct{}

var _ keymint.Logger = tflogLogger{}

// WithSecrets has tflog hide the call's secrets in every message and field
// logged with the context, as a backup of the client's own masking.
func (tflogLogger) WithSecrets(ctx context.Context, secrets ...string) context.Context {
	return tflog.MaskLogStrings(ctx, secrets...)
}

func (tflogLogger) Debug(ctx context.Context, msg string, fields map[string]any) {
	tflog.Debug(ctx, msg, fields)
}

func (tflogLogger) Info(ctx context.Context, msg string, fields map[string]any) {
	tflog.Info(ctx, msg, fields)
}
