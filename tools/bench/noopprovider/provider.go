// Package noopprovider is the floor the benchmark (tools/bench) measures
// the KeyMint provider against: a provider built on the same framework and
// protocol, with the same type name and the same schemas, that makes no
// API call at all.
//
// Its schemas are taken from the real provider at run time, by calling the
// real Schema methods, so they cannot drift apart. Its
// keymint_device_activation resource fills the computed attributes with
// fixed plausible values on Create, returns the state unchanged on Read and
// does nothing on Delete. The provider block accepts the real provider's
// attributes (access_token, base_url) and ignores them. What the real
// provider costs above this floor is its own work: API calls, decoding,
// its own logging.
package noopprovider

import (
	"context"

	"github.com/hashicorp/terraform-plugin-framework/action"
	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/provider"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/types"

	kmprovider "github.com/keymint-dev/terraform-provider-keymint/internal/provider"
)

// Fixed values of the computed attributes.
const (
	ActivationTime = "2025-01-01T00:00:00.000Z"
	IPAddress      = "127.0.0.1"
	LicenseeName   = "Bench Licensee"
	LicenseeEmail  = "bench@licensee.test"
)

var _ provider.ProviderWithActions = (*noopProvider)(nil)

// New returns the no-op provider.
func New() provider.Provider {
	return &noopProvider{real: kmprovider.New("noop")()}
}

type noopProvider struct {
	real provider.Provider // only its Schema is used
}

func (p *noopProvider) Metadata(_ context.Context, _ provider.MetadataRequest, resp *provider.MetadataResponse) {
	resp.TypeName = "keymint"
	resp.Version = "noop"
}

// Schema is the real provider's schema: access_token and base_url.
func (p *noopProvider) Schema(ctx context.Context, req provider.SchemaRequest, resp *provider.SchemaResponse) {
	p.real.Schema(ctx, req, resp)
}

// Configure ignores the configuration.
func (p *noopProvider) Configure(context.Context, provider.ConfigureRequest, *provider.ConfigureResponse) {
}

// Resources, DataSources and Actions: the no-op activation, and the real
// provider's other types, present only so that Terraform loads the same
// schema; the benchmark never uses them, and unconfigured they could not call
// the API anyway.
func (p *noopProvider) Resources(context.Context) []func() resource.Resource {
	return []func() resource.Resource{NewDeviceActivationResource, kmprovider.NewLicenseResetResource}
}

func (p *noopProvider) DataSources(context.Context) []func() datasource.DataSource {
	return []func() datasource.DataSource{kmprovider.NewLicenseDataSource}
}

func (p *noopProvider) Actions(context.Context) []func() action.Action {
	return []func() action.Action{kmprovider.NewLicenseResetAction}
}

var _ resource.Resource = (*deviceActivation)(nil)

// NewDeviceActivationResource returns the no-op keymint_device_activation.
func NewDeviceActivationResource() resource.Resource {
	return &deviceActivation{real: kmprovider.NewDeviceActivationResource()}
}

type deviceActivation struct {
	real resource.Resource // only its Schema is used
}

// model maps the real resource's schema.
type model struct {
	ID             types.String `tfsdk:"id"`
	ProductID      types.String `tfsdk:"product_id"`
	LicenseKey     types.String `tfsdk:"license_key"`
	HostID         types.String `tfsdk:"host_id"`
	DeviceTag      types.String `tfsdk:"device_tag"`
	ActivationTime types.String `tfsdk:"activation_time"`
	IPAddress      types.String `tfsdk:"ip_address"`
	LicenseeName   types.String `tfsdk:"licensee_name"`
	LicenseeEmail  types.String `tfsdk:"licensee_email"`
}

func (r *deviceActivation) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_device_activation"
}

// Schema is the real resource's schema, validators and plan modifiers
// included.
func (r *deviceActivation) Schema(ctx context.Context, req resource.SchemaRequest, resp *resource.SchemaResponse) {
	r.real.Schema(ctx, req, resp)
}

// Create fills the computed attributes with fixed values; the ID has the
// real resource's form, <product_id>/<key fingerprint>/<host_id>.
func (r *deviceActivation) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var m model
	resp.Diagnostics.Append(req.Plan.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	m.ID = types.StringValue(kmprovider.ActivationID(m.ProductID.ValueString(), m.LicenseKey.ValueString(), m.HostID.ValueString()))
	m.ActivationTime = types.StringValue(ActivationTime)
	m.IPAddress = types.StringValue(IPAddress)
	m.LicenseeName = types.StringValue(LicenseeName)
	m.LicenseeEmail = types.StringValue(LicenseeEmail)
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}

// Read returns the state unchanged (decoded and encoded again, as a
// provider that refreshes would).
func (r *deviceActivation) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var m model
	resp.Diagnostics.Append(req.State.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}

// Update is never called: every argument requires replacement.
func (r *deviceActivation) Update(_ context.Context, _ resource.UpdateRequest, resp *resource.UpdateResponse) {
	resp.Diagnostics.AddError("Unexpected update", "keymint_device_activation cannot be updated in place.")
}

// Delete does nothing.
func (r *deviceActivation) Delete(context.Context, resource.DeleteRequest, *resource.DeleteResponse) {
}
