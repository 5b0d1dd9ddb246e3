package provider

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-validators/setvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/booldefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/keymint-dev/terraform-provider-keymint/internal/keymint"
)

var (
	_ resource.Resource                = (*licenseActivationsResource)(nil)
	_ resource.ResourceWithConfigure   = (*licenseActivationsResource)(nil)
	_ resource.ResourceWithModifyPlan  = (*licenseActivationsResource)(nil)
	_ resource.ResourceWithImportState = (*licenseActivationsResource)(nil)
)

// readBackTimeout bounds the read of the license after a change, which is
// made even when the operation was interrupted, so that state records what
// the server holds.
const readBackTimeout = 5 * time.Minute

// NewLicenseActivationsResource returns the keymint_license_activations
// resource.
func NewLicenseActivationsResource() resource.Resource {
	return &licenseActivationsResource{}
}

// licenseActivationsResource holds the seats of a set of hosts: a fleet, in
// one resource, authoritative within its device tag when exclusive.
type licenseActivationsResource struct {
	data *providerData
}

type licenseActivationsModel struct {
	ID         types.String `tfsdk:"id"`
	ProductID  types.String `tfsdk:"product_id"`
	LicenseKey types.String `tfsdk:"license_key"`
	HostIDs    hostSetValue `tfsdk:"host_ids"`
	DeviceTag  types.String `tfsdk:"device_tag"`
	Exclusive  types.Bool   `tfsdk:"exclusive"`
	Devices    types.Map    `tfsdk:"devices"`
}

// scope is the model's scope; its values must be known.
func (m *licenseActivationsModel) scope() fleetScope {
	return fleetScope{productID: m.ProductID.ValueString(), licenseKey: m.LicenseKey.ValueString(), tag: m.DeviceTag.ValueString()}
}

// fleetDeviceAttrTypes are the attributes of an element of devices.
var fleetDeviceAttrTypes = map[string]attr.Type{
	"activation_time": types.StringType,
	"ip_address":      types.StringType,
}

var fleetDeviceType = types.ObjectType{AttrTypes: fleetDeviceAttrTypes}

func (r *licenseActivationsResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_license_activations"
}

func (r *licenseActivationsResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	replace := []planmodifier.String{stringplanmodifier.RequiresReplace()}
	resp.Schema = schema.Schema{
		MarkdownDescription: "Holds a seat of a KeyMint license for every host of a set: a fleet in one resource. Hosts " +
			"added to `host_ids` are activated (with `device_tag`), hosts removed are deactivated. With " +
			"`exclusive = true` the resource is authoritative within its scope: the devices of the license that carry " +
			"its `device_tag` (or every device, when it has none) and are not in `host_ids` are deactivated too, so " +
			"machines that Terraform never destroys (instances of an autoscaling group, spot instances, CI runners) " +
			"give their seats back at the next apply. Devices outside the scope are never touched.\n\n" +
			"Refresh reads the license once: `host_ids` in state is the hosts of the resource that still hold a seat " +
			"in scope, plus, when exclusive, every other device in scope, so that the plan shows as a set diff which " +
			"hosts will be activated and which freed. A plan whose new hosts do not fit the license's free seats (once " +
			"the frees it makes are counted) fails before anything is changed, naming the numbers and the hosts that " +
			"hold the seats. Apply frees before it takes, so a fleet that shrinks and grows at once fits, and makes its " +
			"calls concurrently (10 at a time), sharing the provider's retries and rate-limit handling.\n\n" +
			"When some calls fail, the apply records what the license holds, read afterwards, and fails with the " +
			"hosts that failed; the next apply tries them again. A seat counts as free only on KeyMint's own answers, " +
			"as for `keymint_device_activation`. A first apply that fails part-way leaves the resource tainted, as " +
			"Terraform does with every failed create: the next apply then frees and takes its seats again; run " +
			"`terraform untaint` first to have it only activate what is missing.\n\n" +
			"Manage a host with this resource or with `keymint_device_activation`, never both: each would free the " +
			"seat the other holds.\n\n" +
			"**Access token scopes:** `licenses:activate` and `licenses:read`. Without `licenses:read` the resource " +
			"still activates and deactivates the hosts it manages, but cannot see drift, check seats at plan time, or " +
			"be `exclusive`.",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{
				MarkdownDescription: "Identifier of the resource: `<product_id>/<key fingerprint>/<device_tag or *>`. " +
					"The fingerprint is derived from the license key and does not reveal it.",
				Computed: true,
			},
			"product_id": schema.StringAttribute{
				MarkdownDescription: productIDDescription + " Changing it replaces the resource.",
				Required:            true,
				Validators:          productIDValidators,
				PlanModifiers:       replace,
			},
			"license_key": schema.StringAttribute{
				MarkdownDescription: licenseKeyDescription("whose seats the hosts hold") + " Changing it replaces the resource.",
				Required:            true,
				Sensitive:           true,
				Validators:          licenseKeyValidators,
				PlanModifiers:       replace,
			},
			"host_ids": schema.SetAttribute{
				MarkdownDescription: fmt.Sprintf("The hosts that hold a seat (machine IDs, instance IDs or hostnames), "+
					"%d to %d characters each. May be empty. A host that already holds a seat keeps it (no second seat is "+
					"used); if it holds it under another device tag than `device_tag`, it is activated again with the tag.",
					hostIDMin, hostIDMax),
				ElementType: types.StringType,
				CustomType:  hostSetOf,
				Required:    true,
				Validators: []validator.Set{
					setvalidator.ValueStringsAre(stringvalidator.UTF8LengthBetween(hostIDMin, hostIDMax)),
				},
			},
			"device_tag": schema.StringAttribute{
				MarkdownDescription: fmt.Sprintf("Label stored with every activation the resource makes, %d to %d "+
					"characters. It is also the resource's scope: only devices that carry it are ever deactivated (with "+
					"`exclusive = true`, every such device not in `host_ids`). Without it, the scope is every device of "+
					"the license. Changing it replaces the resource.", deviceTagMin, deviceTagMax),
				Optional:      true,
				Validators:    []validator.String{stringvalidator.UTF8LengthBetween(deviceTagMin, deviceTagMax)},
				PlanModifiers: replace,
			},
			"exclusive": schema.BoolAttribute{
				MarkdownDescription: "Whether the resource is authoritative within its scope: when `true`, devices in " +
					"scope (carrying `device_tag`, or every device without it) that are not in `host_ids` are deactivated. " +
					"When `false` (the default), only hosts the resource itself manages are ever deactivated.",
				Optional: true,
				Computed: true,
				Default:  booldefault.StaticBool(false),
			},
			"devices": schema.MapAttribute{
				MarkdownDescription: "The devices of `host_ids` as the server reports them, by host ID: " +
					"`activation_time` (when the device was activated) and `ip_address` (the address the activation " +
					"came from). Both are empty when the access token cannot read the license.",
				ElementType: fleetDeviceType,
				Computed:    true,
			},
		},
	}
}

func (r *licenseActivationsResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.data = dataFrom(req.ProviderData, &resp.Diagnostics)
}

// ModifyPlan fills in what is known at plan time and checks that the new
// hosts fit the license's free seats, reading the license once (the read of
// the refresh, shared).
func (r *licenseActivationsResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if req.Plan.Raw.IsNull() {
		return // destroy
	}
	var plan, state licenseActivationsModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	hasState := !req.State.Raw.IsNull()
	if hasState {
		resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	}
	if resp.Diagnostics.HasError() {
		return
	}
	licenseKnown := !plan.ProductID.IsUnknown() && !plan.LicenseKey.IsUnknown() && !plan.DeviceTag.IsUnknown()
	if licenseKnown {
		plan.ID = types.StringValue(FleetID(plan.ProductID.ValueString(), plan.LicenseKey.ValueString(), plan.DeviceTag.ValueString()))
	}
	sameHosts := hasState && plan.HostIDs.Equal(state.HostIDs) && plan.ID.Equal(state.ID)
	plan.Devices = plannedDevices(plan, state, hasState, sameHosts)
	resp.Diagnostics.Append(resp.Plan.Set(ctx, &plan)...)

	want, hostsKnown := plan.HostIDs.hosts()
	if r.data == nil || !licenseKnown || !hostsKnown || plan.Exclusive.IsUnknown() {
		return
	}
	exclusive := plan.Exclusive.ValueBool()
	if sameHosts && state.Exclusive.Equal(plan.Exclusive) {
		return // nothing to apply
	}
	scope := plan.scope()
	lic, err := r.data.client.GetKey(ctx, scope.productID, scope.licenseKey)
	switch {
	case keymint.IsInsufficientScope(err):
		if exclusive {
			resp.Diagnostics.AddAttributeError(path.Root("exclusive"), "exclusive needs a token that can read licenses",
				fmt.Sprintf("With exclusive = true the provider frees the devices in scope that are not in host_ids, "+
					"which it learns by reading the license; this access token lacks the %s scope (%s). Give the token "+
					"that scope, or set exclusive = false.", keymint.ScopeLicensesRead, err))
			return
		}
		r.data.warnCannotRead(&resp.Diagnostics, err)
		return
	case err != nil:
		resp.Diagnostics.Append(apiErrorDiagnostic("check the seats of", scope.what(), err))
		return
	}
	var prior []string
	if hasState {
		prior, _ = state.HostIDs.hosts()
	}
	change := planFleet(lic, scope, prior, want, exclusive)
	if !change.fits(lic) {
		resp.Diagnostics.AddAttributeError(path.Root("host_ids"), "License seat limit reached", seatShortage(lic, scope, change, exclusive))
		return
	}
	if len(change.strays) > 0 {
		resp.Diagnostics.AddAttributeWarning(path.Root("exclusive"), "Devices in scope will be deactivated",
			fmt.Sprintf("With exclusive = true, applying this plan deactivates %s of %s that are in scope but not in "+
				"host_ids, and that the plan's diff does not show because state does not list them yet (exclusive was "+
				"just turned on, or they were activated since the last refresh): %s.", devices(int64(len(change.strays))),
				scope.what(), quoteHosts(change.strays, seatHostsShown)))
	}
	tflog.Debug(ctx, "keymint_license_activations plan", map[string]any{
		"product_id": scope.productID, "hosts": len(want), "to_activate": len(change.takes),
		"to_deactivate": len(change.frees), "to_retag": len(change.retags),
	})
}

// plannedDevices is the devices attribute of the plan: as in state when
// host_ids does not change; when it does, the devices of the hosts that stay
// as in state, and the others unknown, so that the plan shows only the
// devices that come and go; unknown for a new resource.
func plannedDevices(plan, state licenseActivationsModel, hasState, sameHosts bool) types.Map {
	if sameHosts && !state.Devices.IsNull() && !state.Devices.IsUnknown() {
		return state.Devices
	}
	want, known := plan.HostIDs.hosts()
	if !hasState || !known || !plan.ID.Equal(state.ID) || state.Devices.IsNull() || state.Devices.IsUnknown() {
		return types.MapUnknown(fleetDeviceType)
	}
	had := state.Devices.Elements()
	elems := make(map[string]attr.Value, len(want))
	for _, h := range want {
		if v, ok := had[h]; ok {
			elems[h] = v
		} else {
			elems[h] = types.ObjectUnknown(fleetDeviceAttrTypes)
		}
	}
	return types.MapValueMust(fleetDeviceType, elems)
}

func (r *licenseActivationsResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var plan licenseActivationsModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if r.converge(ctx, &plan, nil, types.MapNull(fleetDeviceType), &resp.Diagnostics) {
		resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
	}
}

func (r *licenseActivationsResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var plan, state licenseActivationsModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	prior, _ := state.HostIDs.hosts()
	if r.converge(ctx, &plan, prior, state.Devices, &resp.Diagnostics) {
		resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
	}
}

// converge makes the server hold what m says, starting from the hosts in
// state (prior, with their devices), and sets m's host_ids and devices to
// what the server holds afterwards. It reports false when it changed
// nothing, because of an error before the first call: the state stays as
// it was.
func (r *licenseActivationsResource) converge(ctx context.Context, m *licenseActivationsModel, prior []string, priorDevices types.Map, diags *diag.Diagnostics) bool {
	client := r.data.client
	scope := m.scope()
	want, _ := m.HostIDs.hosts()
	exclusive := m.Exclusive.ValueBool()
	m.ID = types.StringValue(FleetID(scope.productID, scope.licenseKey, scope.tag))

	before, err := client.GetKey(ctx, scope.productID, scope.licenseKey)
	switch {
	case keymint.IsInsufficientScope(err) && !exclusive:
		r.data.warnCannotRead(diags, err)
		before = nil
	case err != nil:
		diags.Append(apiErrorDiagnostic("read", scope.what(), err))
		return false
	}
	change := planFleet(before, scope, prior, want, exclusive)
	if before != nil && !change.fits(before) {
		diags.AddAttributeError(path.Root("host_ids"), "License seat limit reached", seatShortage(before, scope, change, exclusive))
		return false
	}
	tflog.Info(ctx, "keymint_license_activations: applying", map[string]any{
		"product_id": scope.productID, "hosts": len(want), "to_activate": len(change.takes),
		"to_deactivate": len(change.frees), "to_retag": len(change.retags),
	})

	// Frees first, so that a fleet that shrinks and grows at once fits.
	// A host to re-tag is deactivated with them, and activated with the
	// takes once its seat is free.
	freeing := slices.Concat(change.frees, change.retags)
	freeErrs := forEachHost(ctx, freeing, func(ctx context.Context, host string) error {
		_, err := client.Deactivate(ctx, scope.productID, scope.licenseKey, host)
		return err
	})
	freeOutcome := make(map[string]callOutcome, len(freeing))
	freeErr := make(map[string]error, len(freeing))
	for i, h := range freeing {
		freeOutcome[h], freeErr[h] = deactivationOutcome(freeErrs[i]), freeErrs[i]
	}
	// A host to re-tag is activated again unless KeyMint refused to
	// deactivate it: if it still holds its seat after all, the activation
	// keeps the old tag, and the read below tells.
	retag := setOf(change.retags)
	taking := slices.Clone(change.takes)
	for _, h := range change.retags {
		if o := freeOutcome[h]; o != refused && o != notSent {
			taking = append(taking, h)
		}
	}
	takeErrs := forEachHost(ctx, taking, func(ctx context.Context, host string) error {
		_, err := client.Activate(ctx, keymint.ActivateInput{
			ProductID: scope.productID, LicenseKey: scope.licenseKey, HostID: host, DeviceTag: scope.tag,
		})
		return err
	})
	takeOutcome := make(map[string]callOutcome, len(taking))
	takeErr := make(map[string]error, len(taking))
	for i, h := range taking {
		takeOutcome[h], takeErr[h] = activationOutcome(takeErrs[i]), takeErrs[i]
		if takeErr[h] == nil && retag[h] && freeOutcome[h] != done {
			// The activation is judged by the read below; should it not
			// take effect, the deactivation before it is why.
			takeErr[h] = freeErr[h]
		}
	}
	// freeFailure is why host's deactivation failed: its error, or, for
	// "License not activated" that the license contradicts, that.
	freeFailure := func(host string, why error) hostFailure {
		if freeOutcome[host] == unconfirmed {
			if why == nil {
				why = &notActivatedButHeldError{hostID: host, answer: freeErr[host]}
			}
			return hostFailure{host: host, err: why}
		}
		return hostFailure{host: host, err: freeErr[host]}
	}

	// What the server holds now decides: the outcome of a call whose answer
	// was lost, or that failed after all retries, is read, never guessed.
	after, readErr := before, error(nil)
	if before != nil && !change.empty() {
		readCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), readBackTimeout)
		after, readErr = client.GetKey(readCtx, scope.productID, scope.licenseKey)
		cancel()
	}
	managed := setOf(slices.Concat(prior, want))

	var hosts []string
	var freeFails, takeFails []hostFailure
	if after != nil && readErr == nil {
		hosts = heldHosts(after, scope, managed, exclusive)
		for _, h := range change.frees {
			if dev, held := after.Device(h); held && scope.covers(dev) {
				freeFails = append(freeFails, freeFailure(h, nil))
			}
		}
		for _, h := range change.retags {
			if _, tried := takeOutcome[h]; !tried {
				freeFails = append(freeFails, freeFailure(h, nil))
			}
		}
		for _, h := range taking {
			if dev, held := after.Device(h); !held || !scope.covers(dev) {
				takeFails = append(takeFails, hostFailure{host: h, err: takeErr[h]})
			}
		}
		m.Devices = keepPlanned(m.Devices, devicesMap(after, hosts))
	} else {
		// No read to go by: a token that may not read, or the read after
		// the calls failed. State keeps every host that may hold a seat.
		if readErr != nil {
			diags.AddError("Cannot read the license after the changes",
				fmt.Sprintf("The activations and deactivations of %s were made, but the license could not be read "+
					"afterwards to see what it holds: %s\n\nState lists every host that may hold a seat; the next refresh "+
					"reads what the license really holds.", scope.what(), readErr))
		}
		mayHold := map[string]bool{}
		if before != nil {
			for _, h := range heldHosts(before, scope, managed, exclusive) {
				mayHold[h] = true
			}
		} else {
			for _, h := range prior {
				mayHold[h] = true
			}
		}
		var unconfirmedFrees []string
		for _, h := range freeing {
			if retag[h] {
				if _, tried := takeOutcome[h]; !tried {
					freeFails = append(freeFails, freeFailure(h, nil))
				}
				continue // judged with the takes
			}
			switch freeOutcome[h] {
			case done:
				delete(mayHold, h)
			case unconfirmed:
				if before == nil {
					// A token that may not read cannot confirm it: KeyMint's
					// exact answer is accepted, with a warning, as on destroy.
					delete(mayHold, h)
					unconfirmedFrees = append(unconfirmedFrees, h)
					continue
				}
				freeFails = append(freeFails, freeFailure(h, fmt.Errorf("KeyMint answered %q, which the provider "+
					"confirms by reading the license, and the read failed: %w", "License not activated", readErr)))
			default:
				freeFails = append(freeFails, freeFailure(h, nil))
			}
		}
		r.warnUnconfirmedFrees(diags, scope, unconfirmedFrees)
		for _, h := range taking {
			switch takeOutcome[h] {
			case done:
				mayHold[h] = true
				if retag[h] && freeOutcome[h] != done {
					// Whether it now carries the tag, only a read can tell.
					takeFails = append(takeFails, hostFailure{host: h, err: takeErr[h]})
				}
			case unknown:
				mayHold[h] = true // it may hold a seat; the next refresh tells
				takeFails = append(takeFails, hostFailure{host: h, err: takeErr[h]})
			default:
				takeFails = append(takeFails, hostFailure{host: h, err: takeErr[h]})
			}
		}
		for h := range mayHold {
			hosts = append(hosts, h)
		}
		slices.Sort(hosts)
		m.Devices = keepPlanned(m.Devices, devicesFallback(priorDevices, before, hosts))
	}
	m.HostIDs = newHostSet(hosts)
	seatsBy := after
	if seatsBy == nil || readErr != nil {
		seatsBy = before
	}
	diags.Append(failureDiagnostics("deactivate", scope, freeFails, seatsBy, exclusive)...)
	diags.Append(failureDiagnostics("activate", scope, takeFails, seatsBy, exclusive)...)
	return true
}

// warnUnconfirmedFrees warns, once per run, that "License not activated"
// answers were taken as freed seats without a read to confirm them.
func (r *licenseActivationsResource) warnUnconfirmedFrees(diags *diag.Diagnostics, scope fleetScope, hosts []string) {
	if len(hosts) == 0 || !r.data.warnings.first("not-activated-unconfirmed") {
		return
	}
	diags.AddWarning("Seat counted free without confirmation",
		fmt.Sprintf("KeyMint answered %q when %s of %s were deactivated: %s. That answer also comes from a blocked key "+
			"or an inactive customer whose devices keep their seats, so the provider confirms it by reading the license, "+
			"but this access token lacks the %s scope. The seats are counted free; check the license in KeyMint if the "+
			"key may be blocked.", "License not activated", hostCount(len(hosts)), scope.what(), quoteHosts(hosts, seatHostsShown),
			keymint.ScopeLicensesRead))
}

// failureDiagnostics reports the hosts whose op ("activate" or
// "deactivate") did not reach its goal, one diagnostic per cause. lic, when
// known, is the license as last read, for the seat-limit error.
func failureDiagnostics(op string, scope fleetScope, fails []hostFailure, lic *keymint.License, exclusive bool) diag.Diagnostics {
	var diags diag.Diagnostics
	const stateNote = "State records the hosts that hold a seat as the license lists them now; the next apply tries the others again."
	for _, group := range failureGroups(fails) {
		hosts := hostsOf(group)
		err := group[0].err
		list := quoteHosts(hosts, 100)
		switch {
		case err == nil && op == "activate":
			diags.AddError("Activation did not take effect",
				fmt.Sprintf("KeyMint accepted the activation of %s of %s, but the license read right after does not "+
					"list them among its devices (in scope): %s. They are not in state; the next apply activates them again. "+
					"If it persists, check the host IDs the license lists in KeyMint.", hostCount(len(hosts)), scope.what(), list))
		case err == nil:
			diags.AddError("Deactivation did not take effect",
				fmt.Sprintf("KeyMint answered the deactivation of %s of %s, but the license read right after still "+
					"lists them: %s. The device may have activated itself again. They stay in state; the next apply "+
					"deactivates them again.", hostCount(len(hosts)), scope.what(), list))
		case keymint.IsSeatLimitReached(err):
			var b strings.Builder
			fmt.Fprintf(&b, "Every seat of the license is taken, so %s could not be activated (%s): %s.", hostCount(len(hosts)), scope.what(), list)
			if lic != nil {
				b.WriteString("\n\n" + seatUsage(lic))
			}
			fmt.Fprintf(&b, "\n\n%s\n\n%s\n\n(%s)", fleetSeatAdvice(exclusive), stateNote, err)
			diags.AddAttributeError(path.Root("host_ids"), "License seat limit reached", b.String())
		default:
			detail := fmt.Sprintf("Hosts: %s.\n\n%s", list, err)
			if hint := apiErrorHint(err); hint != "" {
				detail += "\n\n" + hint
			}
			diags.AddError(fmt.Sprintf("Cannot %s %s of %s", op, hostCount(len(hosts)), scope.what()), detail+"\n\n"+stateNote)
		}
	}
	return diags
}

// keepPlanned returns got with the elements that planned knows in place of
// its own: a host that stays in host_ids keeps the device the plan showed
// (should it have been activated anew meanwhile, the next refresh shows
// it), so that the result never contradicts the plan.
func keepPlanned(planned, got types.Map) types.Map {
	if planned.IsNull() || planned.IsUnknown() {
		return got
	}
	was := planned.Elements()
	elems := got.Elements()
	changed := false
	for h, v := range elems {
		if p, ok := was[h]; ok && !p.IsUnknown() && !p.Equal(v) {
			elems[h] = p
			changed = true
		}
	}
	if !changed {
		return got
	}
	return types.MapValueMust(fleetDeviceType, elems)
}

// devicesMap is the devices attribute for hosts, as lic lists them.
func devicesMap(lic *keymint.License, hosts []string) types.Map {
	elems := make(map[string]attr.Value, len(hosts))
	for _, h := range hosts {
		dev, _ := lic.Device(h)
		elems[h] = types.ObjectValueMust(fleetDeviceAttrTypes, map[string]attr.Value{
			"activation_time": types.StringValue(dev.ActivationTime),
			"ip_address":      types.StringValue(dev.IPAddress),
		})
	}
	return types.MapValueMust(fleetDeviceType, elems)
}

// devicesFallback is the devices attribute for hosts without a read made
// after the change: what lic (the read before it, if any) or the prior
// state says of each host, and empty values for the others.
func devicesFallback(prior types.Map, lic *keymint.License, hosts []string) types.Map {
	known := map[string]attr.Value{}
	if !prior.IsNull() && !prior.IsUnknown() {
		known = prior.Elements()
	}
	elems := make(map[string]attr.Value, len(hosts))
	for _, h := range hosts {
		if lic != nil {
			if dev, ok := lic.Device(h); ok {
				elems[h] = types.ObjectValueMust(fleetDeviceAttrTypes, map[string]attr.Value{
					"activation_time": types.StringValue(dev.ActivationTime),
					"ip_address":      types.StringValue(dev.IPAddress),
				})
				continue
			}
		}
		if v, ok := known[h]; ok {
			elems[h] = v
			continue
		}
		elems[h] = types.ObjectValueMust(fleetDeviceAttrTypes, map[string]attr.Value{
			"activation_time": types.StringValue(""),
			"ip_address":      types.StringValue(""),
		})
	}
	return types.MapValueMust(fleetDeviceType, elems)
}

// Read reads the license once and records which hosts hold a seat in scope:
// those of the resource and, when exclusive (or on import), every device in
// scope.
func (r *licenseActivationsResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var state licenseActivationsModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	scope := state.scope()
	lic, err := r.data.client.GetKey(ctx, scope.productID, scope.licenseKey)
	switch {
	case keymint.IsInsufficientScope(err):
		r.data.warnCannotRead(&resp.Diagnostics, err)
		return
	case keymint.IsLicenseNotFound(err):
		tflog.Warn(ctx, "license key no longer exists; removing its activations from state", map[string]any{"product_id": scope.productID})
		resp.State.RemoveResource(ctx)
		return
	case err != nil:
		resp.Diagnostics.Append(apiErrorDiagnostic("read", scope.what(), err))
		return
	}
	importing := state.HostIDs.IsNull()
	if state.Exclusive.IsNull() {
		state.Exclusive = types.BoolValue(false)
	}
	managed, _ := state.HostIDs.hosts()
	hosts := heldHosts(lic, scope, setOf(managed), state.Exclusive.ValueBool() || importing)
	state.ID = types.StringValue(FleetID(scope.productID, scope.licenseKey, scope.tag))
	state.HostIDs = newHostSet(hosts)
	state.Devices = devicesMap(lic, hosts)
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
}

// Delete frees the hosts in state that hold a seat in scope; devices
// outside the scope, and devices in scope that state does not list, stay.
func (r *licenseActivationsResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var state licenseActivationsModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	client := r.data.client
	scope := state.scope()
	inState, _ := state.HostIDs.hosts()
	before, err := client.GetKey(ctx, scope.productID, scope.licenseKey)
	switch {
	case keymint.IsLicenseNotFound(err):
		// KeyMint's own "Invalid license key": a license that no longer
		// exists holds no seats.
		tflog.Warn(ctx, "license key no longer exists; nothing to deactivate", map[string]any{"product_id": scope.productID})
		return
	case keymint.IsInsufficientScope(err):
		r.data.warnCannotRead(&resp.Diagnostics, err)
		before = nil
	case err != nil:
		resp.Diagnostics.Append(apiErrorDiagnostic("read", scope.what(), err))
		return
	}
	freeing := inState
	if before != nil {
		freeing = heldHosts(before, scope, setOf(inState), false)
	}
	errs := forEachHost(ctx, freeing, func(ctx context.Context, host string) error {
		_, err := client.Deactivate(ctx, scope.productID, scope.licenseKey, host)
		return err
	})

	// KeyMint's own answers settle most hosts; only the others need the
	// license read again to tell whether they hold their seat.
	settled := true
	for _, err := range errs {
		if deactivationOutcome(err) != done {
			settled = false
			break
		}
	}
	if settled {
		return
	}

	var remaining []string
	var fails []hostFailure
	var after *keymint.License
	var readErr error
	if before != nil {
		readCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), readBackTimeout)
		after, readErr = client.GetKey(readCtx, scope.productID, scope.licenseKey)
		cancel()
		if keymint.IsLicenseNotFound(readErr) {
			return // gone, with its seats
		}
	}
	if after != nil {
		remaining = heldHosts(after, scope, setOf(inState), false)
		stillHeld := setOf(remaining)
		for i, h := range freeing {
			if !stillHeld[h] {
				continue
			}
			err := errs[i]
			if deactivationOutcome(err) == unconfirmed {
				err = &notActivatedButHeldError{hostID: h, answer: err}
			}
			fails = append(fails, hostFailure{host: h, err: err})
		}
	} else {
		if readErr != nil {
			resp.Diagnostics.AddError("Cannot read the license after the deactivations",
				fmt.Sprintf("Some deactivations of devices of %s did not get KeyMint's answer, and the license could "+
					"not be read afterwards to see whether they hold their seats: %s\n\nState keeps every host whose seat "+
					"may still be held; run the command again.", scope.what(), readErr))
		}
		var unconfirmedFrees []string
		for i, h := range freeing {
			switch deactivationOutcome(errs[i]) {
			case done:
			case unconfirmed:
				if before == nil {
					unconfirmedFrees = append(unconfirmedFrees, h)
					continue
				}
				remaining = append(remaining, h)
				fails = append(fails, hostFailure{host: h, err: fmt.Errorf("KeyMint answered %q, which the provider "+
					"confirms by reading the license, and the read failed: %w", "License not activated", readErr)})
			default:
				remaining = append(remaining, h)
				fails = append(fails, hostFailure{host: h, err: errs[i]})
			}
		}
		r.warnUnconfirmedFrees(&resp.Diagnostics, scope, unconfirmedFrees)
	}
	resp.Diagnostics.Append(failureDiagnostics("deactivate", scope, fails, after, state.Exclusive.ValueBool())...)
	if len(remaining) == 0 && !resp.Diagnostics.HasError() {
		return
	}
	// Partial progress: state keeps the hosts that still hold a seat, so
	// that the next destroy frees them and nothing else.
	if len(fails) == 0 && len(remaining) > 0 {
		resp.Diagnostics.AddError("Seats still held after destroy",
			fmt.Sprintf("The license lists %s of %s again after their deactivation: %s. The devices may have "+
				"activated themselves again. They stay in state; run the command again.",
				hostCount(len(remaining)), scope.what(), quoteHosts(remaining, 100)))
	}
	state.HostIDs = newHostSet(remaining)
	if after != nil {
		state.Devices = devicesMap(after, remaining)
	} else {
		state.Devices = devicesFallback(state.Devices, nil, remaining)
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
}

func (r *licenseActivationsResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	productID, key, tag, err := parseFleetImportID(req.ID)
	if err != nil {
		resp.Diagnostics.AddError("Invalid import ID", err.Error())
		return
	}
	m := licenseActivationsModel{
		ID:         types.StringValue(FleetID(productID, key, tag)),
		ProductID:  types.StringValue(productID),
		LicenseKey: types.StringValue(key),
		// Null host_ids tells Read to adopt every device in scope.
		HostIDs:   hostSetNull(),
		DeviceTag: types.StringNull(),
		Exclusive: types.BoolValue(false),
		Devices:   types.MapNull(fleetDeviceType),
	}
	if tag != "" {
		m.DeviceTag = types.StringValue(tag)
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}
