package provider

import (
	"context"
	"fmt"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/keymint-dev/terraform-provider-keymint/internal/keymint"
)

var (
	_ resource.Resource                = (*deviceActivationResource)(nil)
	_ resource.ResourceWithConfigure   = (*deviceActivationResource)(nil)
	_ resource.ResourceWithImportState = (*deviceActivationResource)(nil)
)

// Limits of the API's request fields, in characters.
const (
	productIDMin, productIDMax   = 22, 256
	licenseKeyMin, licenseKeyMax = 1, 256
	hostIDMin, hostIDMax         = 1, 64
	deviceTagMin, deviceTagMax   = 1, 64
)

// seatHostsShown bounds how many hosts a seat-limit error lists.
const seatHostsShown = 20

// NewDeviceActivationResource returns the keymint_device_activation resource.
func NewDeviceActivationResource() resource.Resource {
	return &deviceActivationResource{}
}

// deviceActivationResource binds a license to one device (host ID): one seat.
type deviceActivationResource struct {
	data *providerData
}

type deviceActivationModel struct {
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

// what describes the activation in messages, without the license key.
func (m *deviceActivationModel) what() string {
	return fmt.Sprintf("the activation of host %q (product %s)", m.HostID.ValueString(), m.ProductID.ValueString())
}

func (r *deviceActivationResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_device_activation"
}

func (r *deviceActivationResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	replace := []planmodifier.String{stringplanmodifier.RequiresReplace()}
	keep := []planmodifier.String{stringplanmodifier.UseStateForUnknown()}
	resp.Schema = schema.Schema{
		MarkdownDescription: "Activates a KeyMint license on one device, identified by its `host_id`: the device " +
			"takes one of the license's seats. Destroying the resource deactivates the device and frees the seat.\n\n" +
			"Activating a host that already holds a seat of the license uses no second seat, so the resource " +
			"adopts such an activation. Every argument forces a new activation, because KeyMint has no call that " +
			"edits a device. Replacement destroys the old activation before creating the new one, which frees the " +
			"seat first; with `create_before_destroy` the license needs a spare seat.\n\n" +
			"**One host, one seat.** KeyMint holds one seat per host of a license, whoever activated it. Two resources " +
			"(or a resource and a machine outside Terraform) naming the same `host_id` share that seat, and destroying " +
			"either frees it. Within one apply the provider knows better: when the replacement of a " +
			"`create_before_destroy` (or another resource) has activated the host, destroying the old object leaves the " +
			"seat to the new one instead of deactivating the host.\n\n" +
			"**Evidence before conclusions.** A seat counts as free only on KeyMint's own answers: a deactivation, " +
			"`Device not found`, or `License not activated` confirmed by a read that no longer lists the host (a " +
			"blocked key answers `License not activated` while its devices keep their seats). An activation KeyMint " +
			"accepted but does not list, or an answer whose outcome is unknown, is kept in state, tainted. Redirects " +
			"are never followed, and any answer that is not KeyMint's own (a proxy's page, a web framework's 404) is " +
			"an error that leaves state as it is.\n\n" +
			"**Access token scopes:** `licenses:activate` to activate and deactivate. With `licenses:read` as " +
			"well (recommended), the provider also reads each activation back: it confirms the seat is held, " +
			"fills `activation_time` and `ip_address`, and notices devices deactivated outside Terraform. A token " +
			"without `licenses:read` (a \"client\" token) still creates and destroys activations; the provider " +
			"warns once per run what it cannot see.",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{
				MarkdownDescription: "Identifier of the activation: `<product_id>/<key fingerprint>/<host_id>`. " +
					"The fingerprint is derived from the license key and does not reveal it.",
				Computed:      true,
				PlanModifiers: keep,
			},
			"product_id": schema.StringAttribute{
				MarkdownDescription: productIDDescription,
				Required:            true,
				Validators:          productIDValidators,
				PlanModifiers:       replace,
			},
			"license_key": schema.StringAttribute{
				MarkdownDescription: licenseKeyDescription("to activate"),
				Required:            true,
				Sensitive:           true,
				Validators:          licenseKeyValidators,
				PlanModifiers:       replace,
			},
			"host_id": schema.StringAttribute{
				MarkdownDescription: fmt.Sprintf("Unique identifier of the device (a machine ID, instance ID or "+
					"hostname), %d to %d characters. The seat is released by deactivating this host ID.", hostIDMin, hostIDMax),
				Required:      true,
				Validators:    []validator.String{stringvalidator.UTF8LengthBetween(hostIDMin, hostIDMax)},
				PlanModifiers: replace,
			},
			"device_tag": schema.StringAttribute{
				MarkdownDescription: fmt.Sprintf("Optional label stored with the activation, %d to %d characters.", deviceTagMin, deviceTagMax),
				Optional:            true,
				Validators:          []validator.String{stringvalidator.UTF8LengthBetween(deviceTagMin, deviceTagMax)},
				PlanModifiers:       replace,
			},
			"activation_time": schema.StringAttribute{
				MarkdownDescription: "When the device was activated, as the server reports it.",
				Computed:            true,
				PlanModifiers:       keep,
			},
			"ip_address": schema.StringAttribute{
				MarkdownDescription: "IP address the activation came from, as the server reports it.",
				Computed:            true,
				PlanModifiers:       keep,
			},
			"licensee_name": schema.StringAttribute{
				MarkdownDescription: "Name of the licensee, as the server reports it.",
				Computed:            true,
				PlanModifiers:       keep,
			},
			"licensee_email": schema.StringAttribute{
				MarkdownDescription: "E-mail address of the licensee, as the server reports it.",
				Computed:            true,
				PlanModifiers:       keep,
			},
		},
	}
}

func (r *deviceActivationResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.data = dataFrom(req.ProviderData, &resp.Diagnostics)
}

func (r *deviceActivationResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var plan deviceActivationModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	client := r.data.client
	productID, key, hostID := plan.ProductID.ValueString(), plan.LicenseKey.ValueString(), plan.HostID.ValueString()
	in := keymint.ActivateInput{ProductID: productID, LicenseKey: key, HostID: hostID, DeviceTag: plan.DeviceTag.ValueString()}

	out, ok := r.activateAndRead(ctx, &plan, in, "create", resp)
	if !ok {
		return
	}
	if out.found && out.dev.DeviceTag != in.DeviceTag {
		// The host already held a seat under another tag, and re-activation
		// keeps the old tag. Activate it afresh so the server holds what the
		// configuration says.
		tflog.Info(ctx, "host already activated with another device tag; re-activating it", map[string]any{"host_id": hostID})
		_, err := client.Deactivate(ctx, productID, key, hostID)
		if err := r.data.seatFreed(ctx, productID, key, hostID, err, &resp.Diagnostics); err != nil {
			resp.Diagnostics.Append(apiErrorDiagnostic("re-tag", plan.what(), err))
			return
		}
		if out, ok = r.activateAndRead(ctx, &plan, in, "re-tag", resp); !ok {
			return
		}
	}
	if !out.found && !out.unreadable {
		// KeyMint said yes, so the host may hold a seat whatever the list
		// says (a server that normalises host IDs, or lists devices late):
		// keep it, tainted, so that the seat is never lost track of.
		r.keepUncertain(ctx, &plan, resp)
		resp.Diagnostics.AddError("Activation did not take effect",
			fmt.Sprintf("KeyMint accepted %s, but the license read right after does not list the host among its devices. "+
				"The activation is kept in state, marked tainted: the next apply activates the host again, and destroy "+
				"deactivates it, so a seat taken after all is not lost. If it persists, check the host IDs the license "+
				"lists in KeyMint.", plan.what()))
		return
	}
	plan.ID = types.StringValue(activationID(productID, key, hostID))
	plan.LicenseeName = types.StringValue(out.act.LicenseeName)
	plan.LicenseeEmail = types.StringValue(out.act.LicenseeEmail)
	if out.unreadable {
		// What only a read shows stays empty; device_tag is as configured.
		plan.ActivationTime, plan.IPAddress = types.StringValue(""), types.StringValue("")
	} else {
		setDevice(&plan, out.dev)
	}
	r.data.recordActivation(plan.ID.ValueString())
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

// activation is what activateAndRead learnt.
type activation struct {
	act *keymint.Activation
	dev keymint.Device
	// found tells whether the license lists the host.
	found bool
	// unreadable: the access token may activate but not read licenses, so
	// KeyMint's success answer to the activation is all there is to know;
	// dev is empty.
	unreadable bool
}

// activateAndRead activates in and reads the license back, reporting any
// failure in resp (action names the step in messages). ok is false when the
// caller must stop.
func (r *deviceActivationResource) activateAndRead(ctx context.Context, m *deviceActivationModel, in keymint.ActivateInput, action string, resp *resource.CreateResponse) (out activation, ok bool) {
	client := r.data.client
	act, err := client.Activate(ctx, in)
	if err != nil {
		switch {
		case keymint.IsSeatLimitReached(err):
			r.addSeatLimitError(ctx, m, err, resp)
			return out, false
		case outcomeUnknown(err):
			r.keepUncertain(ctx, m, resp)
		}
		resp.Diagnostics.Append(apiErrorDiagnostic(action, m.what(), err))
		return out, false
	}
	out.act = act
	lic, err := client.GetKey(ctx, in.ProductID, in.LicenseKey)
	if keymint.IsInsufficientScope(err) {
		// A "client" token, as shipped in desktop apps, activates but may
		// not read. KeyMint's own success answer above is the evidence
		// that the host holds a seat.
		r.data.warnCannotRead(&resp.Diagnostics, err)
		out.unreadable = true
		return out, true
	}
	if err != nil {
		r.keepUncertain(ctx, m, resp)
		resp.Diagnostics.Append(apiErrorDiagnostic("read back", m.what(), err))
		return out, false
	}
	out.dev, out.found = lic.Device(in.HostID)
	return out, true
}

// outcomeUnknown reports an activation error after which the seat may or may
// not be taken: the request failed in transit, was interrupted, the server
// failed while handling it, or it answered a success that is not one (a 2xx
// saying "success": false, or a body that is not KeyMint's).
func outcomeUnknown(err error) bool {
	_, refused := keymint.AsError(err)
	return !refused || keymint.IsServerError(err) || keymint.IsAmbiguous(err)
}

// keepUncertain records an activation whose outcome is not known in state,
// alongside the error. Terraform then marks it tainted: the next apply
// replaces it and a destroy deactivates it, so a seat that was taken after
// all is never lost track of. Deactivating a host that holds no seat is
// harmless.
func (r *deviceActivationResource) keepUncertain(ctx context.Context, m *deviceActivationModel, resp *resource.CreateResponse) {
	m.ID = types.StringValue(activationID(m.ProductID.ValueString(), m.LicenseKey.ValueString(), m.HostID.ValueString()))
	for _, v := range []*types.String{&m.ActivationTime, &m.IPAddress, &m.LicenseeName, &m.LicenseeEmail} {
		if v.IsUnknown() {
			*v = types.StringValue("")
		}
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, m)...)
}

// addSeatLimitError reports a full license: how many seats are used, by
// which hosts, and what the user can do.
func (r *deviceActivationResource) addSeatLimitError(ctx context.Context, m *deviceActivationModel, apiErr error, resp *resource.CreateResponse) {
	var b strings.Builder
	fmt.Fprintf(&b, "Every seat of the license is taken, so host %q cannot be activated (product %s).", m.HostID.ValueString(), m.ProductID.ValueString())
	if lic, err := r.data.client.GetKey(ctx, m.ProductID.ValueString(), m.LicenseKey.ValueString()); err == nil {
		b.WriteString("\n\n")
		b.WriteString(seatUsage(lic))
	}
	b.WriteString("\n\n" + seatFreeAdvice)
	fmt.Fprintf(&b, "\n\n(%s)", apiErr)
	resp.Diagnostics.AddAttributeError(path.Root("host_id"), "License seat limit reached", b.String())
}

// seatFreeAdvice says how a seat can be freed, in seat-limit errors.
const seatFreeAdvice = "To free a seat: destroy one of the activations that hold one (or remove it from the " +
	"configuration), deactivate an unused device in KeyMint, reset the license with keymint_license_reset, " +
	"or raise the license's seat limit. A replacement with create_before_destroy needs a spare seat."

// seatUsage says how many seats of lic are in use and by which hosts.
func seatUsage(lic *keymint.License) string {
	var b strings.Builder
	if lic.MaxActivations != nil {
		fmt.Fprintf(&b, "%d of %d seats are in use", lic.Activations, *lic.MaxActivations)
	} else {
		fmt.Fprintf(&b, "%d seats are in use", lic.Activations)
	}
	hosts := lic.HostIDs()
	if len(hosts) == 0 {
		return b.String() + "."
	}
	shown := hosts
	if len(shown) > seatHostsShown {
		shown = shown[:seatHostsShown]
	}
	b.WriteString(", held by: ")
	for i, h := range shown {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%q", h)
	}
	if more := len(hosts) - len(shown); more > 0 {
		fmt.Fprintf(&b, " and %d more", more)
	}
	b.WriteString(".")
	return b.String()
}

func (r *deviceActivationResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var state deviceActivationModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	productID, key, hostID := state.ProductID.ValueString(), state.LicenseKey.ValueString(), state.HostID.ValueString()
	lic, err := r.data.client.GetKey(ctx, productID, key)
	if keymint.IsInsufficientScope(err) {
		// Nothing can be learnt: keep the state as it is.
		r.data.warnCannotRead(&resp.Diagnostics, err)
		return
	}
	if keymint.IsLicenseNotFound(err) {
		tflog.Warn(ctx, "license key no longer exists; removing the activation from state", map[string]any{"host_id": hostID})
		resp.State.RemoveResource(ctx)
		return
	}
	if err != nil {
		resp.Diagnostics.Append(apiErrorDiagnostic("read", state.what(), err))
		return
	}
	dev, ok := lic.Device(hostID)
	if !ok {
		tflog.Warn(ctx, "host no longer holds a seat of the license; removing the activation from state", map[string]any{"host_id": hostID})
		resp.State.RemoveResource(ctx)
		return
	}
	state.ID = types.StringValue(activationID(productID, key, hostID))
	setDevice(&state, dev)
	if lic.Customer != nil {
		state.LicenseeName = types.StringValue(lic.Customer.Name)
		state.LicenseeEmail = types.StringValue(lic.Customer.Email)
	}
	// Imported activations have no licensee yet when the license has no customer.
	if state.LicenseeName.IsNull() {
		state.LicenseeName = types.StringValue("")
	}
	if state.LicenseeEmail.IsNull() {
		state.LicenseeEmail = types.StringValue("")
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
}

// setDevice copies what the server reports of a device into m.
func setDevice(m *deviceActivationModel, dev keymint.Device) {
	m.DeviceTag = types.StringNull()
	if dev.DeviceTag != "" {
		m.DeviceTag = types.StringValue(dev.DeviceTag)
	}
	m.ActivationTime = types.StringValue(dev.ActivationTime)
	m.IPAddress = types.StringValue(dev.IPAddress)
}

// Update is never called: every argument requires replacement.
func (r *deviceActivationResource) Update(_ context.Context, _ resource.UpdateRequest, resp *resource.UpdateResponse) {
	resp.Diagnostics.AddError("Unexpected update",
		"keymint_device_activation cannot be updated in place; every argument forces a new activation. "+
			"This is a bug in the provider; please report it.")
}

func (r *deviceActivationResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var state deviceActivationModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	productID, key, hostID := state.ProductID.ValueString(), state.LicenseKey.ValueString(), state.HostID.ValueString()
	if r.data.activatedThisRun(state.ID.ValueString()) {
		// Another object of this apply activated (or adopted) the same host:
		// the replacement of a create_before_destroy, or a second resource
		// naming the host. The seat is the newer object's now; deactivating
		// it would leave the machine without one.
		tflog.Info(ctx, "the host's seat belongs to an activation made in this run by another object; not deactivating it", map[string]any{"host_id": hostID})
		return
	}
	_, err := r.data.client.Deactivate(ctx, productID, key, hostID)
	switch {
	case keymint.IsLicenseNotFound(err):
		// KeyMint's own "Invalid license key": a license that no longer
		// exists holds no seats.
		tflog.Warn(ctx, "license key no longer exists; nothing to deactivate", map[string]any{"host_id": hostID})
	default:
		if err := r.data.seatFreed(ctx, productID, key, hostID, err, &resp.Diagnostics); err != nil {
			resp.Diagnostics.Append(apiErrorDiagnostic("destroy", state.what(), err))
		}
	}
}

func (r *deviceActivationResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	productID, key, hostID, err := parseActivationImportID(req.ID)
	if err != nil {
		resp.Diagnostics.AddError("Invalid import ID", err.Error())
		return
	}
	m := deviceActivationModel{
		ID:             types.StringValue(activationID(productID, key, hostID)),
		ProductID:      types.StringValue(productID),
		LicenseKey:     types.StringValue(key),
		HostID:         types.StringValue(hostID),
		DeviceTag:      types.StringNull(),
		ActivationTime: types.StringNull(),
		IPAddress:      types.StringNull(),
		LicenseeName:   types.StringNull(),
		LicenseeEmail:  types.StringNull(),
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}
