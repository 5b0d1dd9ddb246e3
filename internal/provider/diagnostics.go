package provider

import (
	"fmt"

	"github.com/hashicorp/terraform-plugin-framework/diag"

	"github.com/keymint-dev/terraform-provider-keymint/internal/keymint"
)

// apiErrorDiagnostic turns a failed API call into a diagnostic that says what
// happened and what to do about it. what describes the object, for example
// `activation of host "web-1" (product prod_…)`; it must not hold a license key.
func apiErrorDiagnostic(action, what string, err error) diag.Diagnostic {
	summary := fmt.Sprintf("Cannot %s %s", action, what)
	var hint string
	switch {
	case keymint.IsUnauthorized(err):
		hint = "KeyMint refused the access token. Check that " + EnvAccessToken + " (or the provider's " +
			"access_token) holds a valid token with access to this product, and that base_url points at the right server."
	case keymint.IsLicenseNotFound(err):
		hint = "KeyMint knows no such license key for this product. Check product_id and license_key."
	case keymint.IsRateLimited(err):
		hint = "KeyMint's rate limit was reached. Wait a minute and run the command again, or lower -parallelism."
	case keymint.IsServerError(err):
		hint = "KeyMint answered with a server error. Run the command again later; nothing was lost, " +
			"since activations and deactivations can safely be repeated."
	default:
		if e, ok := keymint.AsError(err); ok && e.StatusCode == 403 {
			hint = "The license's state forbids this (for example a blocked or expired key, or an inactive customer). " +
				"Fix the license in KeyMint, then run the command again."
		}
	}
	detail := err.Error()
	if keymint.IsLicenseNotFound(err) {
		// Say what failed first; the detail keeps what was attempted.
		detail = summary + ": " + detail
		summary = "License not found"
	}
	if hint != "" {
		detail += "\n\n" + hint
	}
	return diag.NewErrorDiagnostic(summary, detail)
}
