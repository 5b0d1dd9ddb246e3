// Package noopprovider is the floor the benchmark (tools/bench) measures
// the KeyMint provider against: a provider built on the same framework and
// protocol, with the same type names and the same schemas, that makes no
// API call at all.
//
// Nothing of the real provider is declared again here. Its resources, data
// sources and actions are the real provider's own, listed by its Resources,
// DataSources and Actions methods, with their real Metadata and Schema
// (validators and plan modifiers included); only what they do is replaced:
//
//   - a resource's Create and Update store the plan as the new state, each
//     value still unknown replaced by a generic one (see fill); Read
//     decodes the state and encodes it again, as a provider that refreshes
//     would; Delete does nothing;
//   - a data source's Read returns its configuration as its state, its
//     computed attributes null;
//   - an action's Invoke does nothing.
//
// The provider block is the real one and is ignored. What the real provider
// costs above this floor is its own work: API calls, decoding, its own
// logging.
package noopprovider

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"math/big"

	"github.com/hashicorp/terraform-plugin-framework/action"
	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/provider"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-go/tftypes"

	kmprovider "github.com/keymint-dev/terraform-provider-keymint/internal/provider"
)

var _ provider.ProviderWithActions = (*noopProvider)(nil)

// New returns the no-op provider.
func New() provider.Provider {
	return &noopProvider{real: kmprovider.New("noop")()}
}

type noopProvider struct {
	real provider.Provider
}

func (p *noopProvider) Metadata(ctx context.Context, req provider.MetadataRequest, resp *provider.MetadataResponse) {
	p.real.Metadata(ctx, req, resp)
}

func (p *noopProvider) Schema(ctx context.Context, req provider.SchemaRequest, resp *provider.SchemaResponse) {
	p.real.Schema(ctx, req, resp)
}

// Configure ignores the configuration.
func (p *noopProvider) Configure(context.Context, provider.ConfigureRequest, *provider.ConfigureResponse) {
}

func (p *noopProvider) Resources(ctx context.Context) []func() resource.Resource {
	var out []func() resource.Resource
	for _, newReal := range p.real.Resources(ctx) {
		out = append(out, func() resource.Resource { return &noopResource{real: newReal()} })
	}
	return out
}

func (p *noopProvider) DataSources(ctx context.Context) []func() datasource.DataSource {
	var out []func() datasource.DataSource
	for _, newReal := range p.real.DataSources(ctx) {
		out = append(out, func() datasource.DataSource { return &noopDataSource{real: newReal()} })
	}
	return out
}

func (p *noopProvider) Actions(ctx context.Context) []func() action.Action {
	withActions, ok := p.real.(provider.ProviderWithActions)
	if !ok {
		return nil
	}
	var out []func() action.Action
	for _, newReal := range withActions.Actions(ctx) {
		out = append(out, func() action.Action { return &noopAction{real: newReal()} })
	}
	return out
}

// noopResource is a real resource whose CRUD does nothing.
type noopResource struct {
	real resource.Resource // only its Metadata and Schema are used
}

func (r *noopResource) Metadata(ctx context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	r.real.Metadata(ctx, req, resp)
}

func (r *noopResource) Schema(ctx context.Context, req resource.SchemaRequest, resp *resource.SchemaResponse) {
	r.real.Schema(ctx, req, resp)
}

// Create stores the plan, its unknown values filled.
func (r *noopResource) Create(_ context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	state, err := fill(req.Plan.Raw)
	if err != nil {
		resp.Diagnostics.AddError("No-op create", err.Error())
		return
	}
	resp.State.Raw = state
}

// Read returns the state unchanged, decoded and encoded again.
func (r *noopResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var v types.Object
	resp.Diagnostics.Append(req.State.Get(ctx, &v)...)
	if resp.Diagnostics.HasError() {
		return
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, v)...)
}

// Update stores the plan, its unknown values filled.
func (r *noopResource) Update(_ context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	state, err := fill(req.Plan.Raw)
	if err != nil {
		resp.Diagnostics.AddError("No-op update", err.Error())
		return
	}
	resp.State.Raw = state
}

// Delete does nothing.
func (r *noopResource) Delete(context.Context, resource.DeleteRequest, *resource.DeleteResponse) {
}

// noopDataSource is a real data source that reads nothing.
type noopDataSource struct {
	real datasource.DataSource // only its Metadata and Schema are used
}

func (d *noopDataSource) Metadata(ctx context.Context, req datasource.MetadataRequest, resp *datasource.MetadataResponse) {
	d.real.Metadata(ctx, req, resp)
}

func (d *noopDataSource) Schema(ctx context.Context, req datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	d.real.Schema(ctx, req, resp)
}

// Read returns the configuration: the computed attributes stay null.
func (d *noopDataSource) Read(_ context.Context, req datasource.ReadRequest, resp *datasource.ReadResponse) {
	resp.State.Raw = req.Config.Raw
}

// noopAction is a real action that does nothing.
type noopAction struct {
	real action.Action // only its Metadata and Schema are used
}

func (a *noopAction) Metadata(ctx context.Context, req action.MetadataRequest, resp *action.MetadataResponse) {
	a.real.Metadata(ctx, req, resp)
}

func (a *noopAction) Schema(ctx context.Context, req action.SchemaRequest, resp *action.SchemaResponse) {
	a.real.Schema(ctx, req, resp)
}

// Invoke does nothing.
func (a *noopAction) Invoke(context.Context, action.InvokeRequest, *action.InvokeResponse) {
}

// fill returns the planned value with every unknown value replaced, as a
// provider does when it applies: a string by a fingerprint of the plan and
// the attribute's path (16 hexadecimal digits, the same for the same plan,
// revealing nothing of its values), a number by 0, a bool by false, and any
// other type (lists, sets, maps, objects) by null.
func fill(plan tftypes.Value) (tftypes.Value, error) {
	planSum := sha256.Sum256([]byte(plan.String()))
	planHex := hex.EncodeToString(planSum[:])
	return tftypes.Transform(plan, func(p *tftypes.AttributePath, v tftypes.Value) (tftypes.Value, error) {
		if v.IsKnown() {
			return v, nil
		}
		switch typ := v.Type(); {
		case typ.Is(tftypes.String):
			sum := sha256.Sum256([]byte(planHex + "\x00" + p.String()))
			return tftypes.NewValue(typ, hex.EncodeToString(sum[:8])), nil
		case typ.Is(tftypes.Number):
			return tftypes.NewValue(typ, new(big.Float)), nil
		case typ.Is(tftypes.Bool):
			return tftypes.NewValue(typ, false), nil
		default:
			return tftypes.NewValue(typ, nil), nil
		}
	})
}
