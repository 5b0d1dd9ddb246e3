package provider

import (
	"context"
	"fmt"

	"github.com/hashicorp/terraform-plugin-framework/action"
	"github.com/hashicorp/terraform-plugin-framework/action/schema"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/keymint-dev/terraform-provider-keymint/internal/keymint"
)

var (
	_ action.Action              = (*licenseResetAction)(nil)
	_ action.ActionWithConfigure = (*licenseResetAction)(nil)
)

// NewLicenseResetAction returns the keymint_license_reset action.
func NewLicenseResetAction() action.Action {
	return &licenseResetAction{}
}

// licenseResetAction deactivates every device of a license each time it is
// invoked. Actions never change state.
type licenseResetAction struct {
	data *providerData
}

type licenseResetActionModel struct {
	ProductID  types.String `tfsdk:"product_id"`
	LicenseKey types.String `tfsdk:"license_key"`
}

func (a *licenseResetAction) Metadata(_ context.Context, req action.MetadataRequest, resp *action.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_license_reset"
}

func (a *licenseResetAction) Schema(_ context.Context, _ action.SchemaRequest, resp *action.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "Deactivates every device of a KeyMint license each time the action is invoked: " +
			"directly with `terraform apply -invoke=action.keymint_license_reset.<name>`, or from a resource's " +
			"`lifecycle { action_trigger { … } }`. " + resetDescription + " Actions need Terraform 1.14 or later.\n\n" +
			"Terraform offers no destroy-time trigger for actions. To free a machine's seat when it is destroyed, " +
			"manage its activation with `keymint_device_activation`, whose destroy deactivates it.\n\n" +
			"**Access token scopes:** `licenses:read` (to count the devices) and `licenses:activate` (to " +
			"deactivate them).",
		Attributes: map[string]schema.Attribute{
			"product_id": schema.StringAttribute{
				MarkdownDescription: productIDDescription,
				Required:            true,
				Validators:          productIDValidators,
			},
			"license_key": schema.StringAttribute{
				MarkdownDescription: licenseKeyDescription("whose devices to deactivate") +
					" Action arguments cannot be marked sensitive by the provider, so a variable marked " +
					"`sensitive` is what keeps the key out of Terraform's output.",
				Required:   true,
				Validators: licenseKeyValidators,
			},
		},
	}
}

func (a *licenseResetAction) Configure(_ context.Context, req action.ConfigureRequest, resp *action.ConfigureResponse) {
	a.data = dataFrom(req.ProviderData, &resp.Diagnostics)
}

func (a *licenseResetAction) Invoke(ctx context.Context, req action.InvokeRequest, resp *action.InvokeResponse) {
	var cfg licenseResetActionModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &cfg)...)
	if resp.Diagnostics.HasError() {
		return
	}
	productID, key := cfg.ProductID.ValueString(), cfg.LicenseKey.ValueString()
	what := licenseWhat(productID)
	res, err := resetLicense(ctx, a.data.client, productID, key, func(lic *keymint.License) {
		resp.SendProgress(action.InvokeProgressEvent{
			Message: fmt.Sprintf("Resetting %s. %s", what, seatUsage(lic)),
		})
	})
	if err != nil {
		resp.Diagnostics.Append(apiErrorDiagnostic("reset", what, err))
		return
	}
	tflog.Info(ctx, "license reset", map[string]any{"product_id": productID, "devices_removed": res.Removed})
	resp.SendProgress(action.InvokeProgressEvent{
		Message: fmt.Sprintf("Reset %s: %s freed.", what, devices(res.Removed)),
	})
}
