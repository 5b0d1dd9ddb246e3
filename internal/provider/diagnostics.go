package provider

import (
	"errors"
	"fmt"

	"github.com/hashicorp/terraform-plugin-framework/diag"

	"github.com/keymint-dev/terraform-provider-keymint/internal/keymint"
)

// apiErrorDiagnostic turns a failed API call into a diagnostic that says what
// happened and what to do about it. what describes the object, for example
// `activation of host "web-1" (product prod_…)`; it must not hold a license key.
func apiErrorDiagnostic(action, what string, err error) diag.Diagnostic {
	summary := fmt.Sprintf("Cannot %s %s", action, what)
	detail := err.Error()
	if hint := apiErrorHint(err); hint != "" {
		detail += "\n\n" + hint
	}
	switch {
	case keymint.IsLicenseNotFound(err):
		// Say what failed first; the detail keeps what was attempted.
		detail, summary = summary+": "+detail, "License not found"
	case keymint.IsInsufficientScope(err):
		detail, summary = summary+": "+detail, "Access token lacks a scope"
	case keymint.IsRateLimited(err):
		detail, summary = summary+": "+detail, "KeyMint rate limit"
	}
	return diag.NewErrorDiagnostic(summary, detail)
}

// apiErrorHint says what the user can do about err, or "".
func apiErrorHint(err error) string {
	var held *notActivatedButHeldError
	switch {
	case errors.As(err, &held):
		return "Unblock the key (or reactivate its customer) in KeyMint, then run the command again. To give up on the " +
			"seat instead, remove the activation from state with `terraform state rm <address>`; the device keeps the seat."
	case keymint.IsRedirect(err):
		return "Something at base_url answered with a redirect, which the provider never follows: the access token and " +
			"license keys are sent to base_url only. Set base_url to the address the API really answers at."
	case keymint.IsBlocked(err):
		return "The license key is blocked in KeyMint, which refuses activations. Unblock it in KeyMint and run the command " +
			"again; to give up on a seat it holds, remove the activation from state with `terraform state rm <address>`."
	case keymint.IsInsufficientScope(err):
		scope := "the scope this call needs"
		if e, ok := keymint.AsError(err); ok && keymint.RequiredScope(e.Operation) != "" {
			scope = "the " + keymint.RequiredScope(e.Operation) + " scope"
		}
		return "KeyMint accepted the access token but it lacks " + scope + ". Give the token that scope in the " +
			"KeyMint dashboard, or set " + keymint.EnvAccessToken + " to a token that has it. Reading a license needs " +
			keymint.ScopeLicensesRead + "; activating and deactivating devices need " + keymint.ScopeLicensesActivate +
			"; creating and updating license keys need " + keymint.ScopeLicensesWrite + "; blocking and unblocking " +
			"them (destroying a keymint_license_key blocks it) need " + keymint.ScopeLicensesBlock + "."
	case keymint.IsUnauthorized(err):
		return "KeyMint refused the access token. Check that " + keymint.EnvAccessToken + " (or the provider's " +
			"access_token) holds a valid token with access to this product, and that base_url points at the right server."
	case keymint.IsLicenseNotFound(err):
		return "KeyMint knows no such license key for this product. Check product_id and license_key."
	case keymint.IsProductNotFound(err):
		return "KeyMint knows no active product with this ID for this access token. Check product_id, and that the " +
			"product is active and belongs to the account of the access token."
	case keymint.IsCustomerNotFound(err):
		return "KeyMint knows no customer with this ID. Check customer_id, or use a new_customer block to create one."
	case keymint.IsCustomerEmailExists(err):
		return "A KeyMint customer has this e-mail address already. Assign the key to that customer with customer_id " +
			"(its ID is in the KeyMint dashboard) instead of new_customer, or use another e-mail address."
	case keymint.IsRateLimited(err):
		return "KeyMint's rate limit kept refusing the request until the provider stopped waiting (rate_limit_wait). " +
			"Lower -parallelism; or set max_requests_per_minute (" + keymint.EnvMaxRequests + ") to your KeyMint plan's " +
			"limit, so that requests are paced and never refused; or raise rate_limit_wait (" + keymint.EnvRateLimitWait + "); " +
			"or raise the plan's limit in KeyMint. Nothing was lost: run the command again."
	case keymint.IsUnknownRoute(err):
		return "This answer did not come from KeyMint: whatever answers at base_url does not know the path (a wrong " +
			"path prefix in base_url, a proxy, or an API generation the server does not serve). Check base_url and " +
			"api_version. Nothing was concluded about any seat or license."
	case keymint.IsServerError(err):
		return "KeyMint answered with a server error. Run the command again later; nothing was lost, " +
			"since activations and deactivations can safely be repeated."
	case keymint.IsForbiddenByLicenseState(err):
		return "The license's state forbids this (for example a blocked or expired key, or an inactive customer). " +
			"Fix the license in KeyMint, then run the command again."
	}
	return ""
}
