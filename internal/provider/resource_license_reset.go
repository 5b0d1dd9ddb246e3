package provider

import (
	"context"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/mapplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"
)

var (
	_ resource.Resource              = (*licenseResetResource)(nil)
	_ resource.ResourceWithConfigure = (*licenseResetResource)(nil)
)

// NewLicenseResetResource returns the keymint_license_reset resource.
func NewLicenseResetResource() resource.Resource {
	return &licenseResetResource{}
}

// licenseResetResource deactivates every device of a license when it is
// created. It records that event, not the license's state: devices activated
// afterwards are no drift, and destroying it changes nothing on the server.
type licenseResetResource struct {
	data *providerData
}

type licenseResetModel struct {
	ID             types.String `tfsdk:"id"`
	ProductID      types.String `tfsdk:"product_id"`
	LicenseKey     types.String `tfsdk:"license_key"`
	Triggers       types.Map    `tfsdk:"triggers"`
	DevicesRemoved types.Int64  `tfsdk:"devices_removed"`
	ResetAt        types.String `tfsdk:"reset_at"`
}

// resetDescription is shared by the resource's and the action's pages.
const resetDescription = "Deactivating every device frees all of the license's seats at once: for a license " +
	"moved to a new fleet, a leaked or stolen key, or a CI pool that is rebuilt. Devices keep running " +
	"but lose their activation; any of them may activate again while the license has seats. " +
	"A license with no active device is reset successfully, with zero devices removed."

func (r *licenseResetResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_license_reset"
}

func (r *licenseResetResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	replace := []planmodifier.String{stringplanmodifier.RequiresReplace()}
	resp.Schema = schema.Schema{
		MarkdownDescription: "Deactivates every device of a KeyMint license when it is created, and again " +
			"whenever `product_id`, `license_key` or `triggers` change. " + resetDescription + "\n\n" +
			"The resource records a reset, an event, not the license's state: devices activated after it are " +
			"not drift, and reading it makes no API call. Destroying it only removes it from state; it does " +
			"not reactivate anything.\n\n" +
			"**Access token scopes:** `licenses:read` (to count the devices) and `licenses:activate` (to " +
			"deactivate them).",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{
				MarkdownDescription: "Identifier of the reset: `<product_id>/<key fingerprint>/<reset_at>`. The " +
					"fingerprint is derived from the license key and does not reveal it.",
				Computed: true,
			},
			"product_id": schema.StringAttribute{
				MarkdownDescription: productIDDescription + " Changing it runs a reset of the new license.",
				Required:            true,
				Validators:          productIDValidators,
				PlanModifiers:       replace,
			},
			"license_key": schema.StringAttribute{
				MarkdownDescription: licenseKeyDescription("whose devices to deactivate") +
					" Changing it runs a reset of the new license.",
				Required:      true,
				Sensitive:     true,
				Validators:    licenseKeyValidators,
				PlanModifiers: replace,
			},
			"triggers": schema.MapAttribute{
				MarkdownDescription: "Arbitrary values that run the reset again when any of them changes, like " +
					"`triggers_replace` of `terraform_data`: for example a fleet generation number or the ID of " +
					"the resource that replaced the fleet.",
				ElementType:   types.StringType,
				Optional:      true,
				PlanModifiers: []planmodifier.Map{mapplanmodifier.RequiresReplace()},
			},
			"devices_removed": schema.Int64Attribute{
				MarkdownDescription: "How many devices the reset deactivated: the server's count where it " +
					"sends one (API generation 2), otherwise the number of devices the license held just " +
					"before the reset.",
				Computed: true,
			},
			"reset_at": schema.StringAttribute{
				MarkdownDescription: "When the reset completed, in RFC 3339 format (UTC).",
				Computed:            true,
			},
		},
	}
}

func (r *licenseResetResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.data = dataFrom(req.ProviderData, &resp.Diagnostics)
}

func (r *licenseResetResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var plan licenseResetModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	productID, key := plan.ProductID.ValueString(), plan.LicenseKey.ValueString()
	res, err := resetLicense(ctx, r.data.client, productID, key, nil)
	if err != nil {
		resp.Diagnostics.Append(apiErrorDiagnostic("reset", licenseWhat(productID), err))
		return
	}
	tflog.Info(ctx, "license reset", map[string]any{"product_id": productID, "devices_removed": res.Removed})
	at := res.At.Format(time.RFC3339Nano)
	plan.ID = types.StringValue(productID + "/" + keyFingerprint(productID, key) + "/" + at)
	plan.DevicesRemoved = types.Int64Value(res.Removed)
	plan.ResetAt = types.StringValue(at)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

// Read keeps the state as it is: a reset is an event that happened, and
// whatever the license holds now is not drift.
func (r *licenseResetResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
}

// Update is never called: every argument requires replacement.
func (r *licenseResetResource) Update(_ context.Context, _ resource.UpdateRequest, resp *resource.UpdateResponse) {
	resp.Diagnostics.AddError("Unexpected update",
		"keymint_license_reset cannot be updated in place; every argument runs a new reset. "+
			"This is a bug in the provider; please report it.")
}

// Delete forgets the reset. Nothing on the server changes: the devices it
// deactivated stay deactivated.
func (r *licenseResetResource) Delete(ctx context.Context, _ resource.DeleteRequest, _ *resource.DeleteResponse) {
	tflog.Debug(ctx, "removing a license reset from state; the server is not called")
}
