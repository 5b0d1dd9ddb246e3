package provider

import (
	"fmt"

	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
)

// What the resources, data sources and actions share: the provider's data,
// and the arguments that name a license.

// dataFrom returns the provider's data given to a Configure method, or nil
// when the provider is not configured yet (Terraform configures it before any
// call that needs the client).
func dataFrom(given any, diags *diag.Diagnostics) *providerData {
	if given == nil {
		return nil
	}
	data, ok := given.(*providerData)
	if !ok {
		diags.AddError("Unexpected provider data",
			fmt.Sprintf("Expected *providerData, got %T. This is a bug in the provider; please report it.", given))
		return nil
	}
	return data
}

// Descriptions and validators of the arguments that name a license.
var (
	productIDDescription = fmt.Sprintf("KeyMint product ID (for example `prod_…`), %d to %d characters.", productIDMin, productIDMax)
	productIDValidators  = []validator.String{stringvalidator.UTF8LengthBetween(productIDMin, productIDMax)}
	licenseKeyValidators = []validator.String{stringvalidator.UTF8LengthBetween(licenseKeyMin, licenseKeyMax)}
)

// licenseKeyDescription describes a license_key argument; use says what the
// key is for.
func licenseKeyDescription(use string) string {
	return fmt.Sprintf("License key %s, %d to %d characters. It is a secret: pass it from a variable "+
		"marked `sensitive` or from a secret store, never as a literal in configuration.", use, licenseKeyMin, licenseKeyMax)
}
