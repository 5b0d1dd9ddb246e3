package provider

import (
	"context"
	"net/http/httptest"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-go/tftypes"

	"github.com/keymint-dev/terraform-provider-keymint/internal/localserver"
	"github.com/keymint-dev/terraform-provider-keymint/internal/pluginserver"
)

// The provider's own cost for a fleet of 1,000 hosts in one
// keymint_license_activations, over the plugin protocol as Terraform calls
// it (the license read is shared, so these measure the framework and the
// resource, not the API): a refresh and a plan without drift, and with 10
// hosts gone behind Terraform's back.

type fleetBench struct {
	server tfprotov6.ProviderServer
	typ    tftypes.Type
	hosts  []string
}

func newFleetBench(b *testing.B, n int) *fleetBench {
	b.Helper()
	ctx := context.Background()
	srv, err := localserver.New(localserver.Options{Seed: localserver.Seed{
		AccessTokens: []string{fleetTestToken},
		Products:     []localserver.ProductSeed{{ID: fleetTestProduct, Licenses: []localserver.LicenseSeed{{Key: fleetTestKey}}}},
	}})
	if err != nil {
		b.Fatal(err)
	}
	hosts := hostIDsN(n)
	for _, h := range hosts {
		if err := srv.ActivateDevice(fleetTestProduct, fleetTestKey, h, "ci", "10.0.0.1"); err != nil {
			b.Fatal(err)
		}
	}
	hs := httptest.NewServer(srv.Handler())
	b.Cleanup(hs.Close)

	server := pluginserver.NewServer(providerserver.NewProtocol6(New("test")())())
	schemas, err := server.GetProviderSchema(ctx, &tfprotov6.GetProviderSchemaRequest{})
	if err != nil {
		b.Fatal(err)
	}
	providerType := schemas.Provider.ValueType()
	cfg := map[string]tftypes.Value{}
	for name, at := range providerType.(tftypes.Object).AttributeTypes {
		cfg[name] = tftypes.NewValue(at, nil)
	}
	cfg["base_url"] = tftypes.NewValue(tftypes.String, hs.URL)
	cfg["access_token"] = tftypes.NewValue(tftypes.String, fleetTestToken)
	cfg["api_version"] = tftypes.NewValue(tftypes.String, "v1")
	dv, err := tfprotov6.NewDynamicValue(providerType, tftypes.NewValue(providerType, cfg))
	if err != nil {
		b.Fatal(err)
	}
	resp, err := server.ConfigureProvider(ctx, &tfprotov6.ConfigureProviderRequest{TerraformVersion: "1.5.7", Config: &dv})
	if err != nil || len(resp.Diagnostics) > 0 {
		b.Fatalf("ConfigureProvider: %v %v", err, resp.Diagnostics)
	}
	return &fleetBench{server: server, typ: schemas.ResourceSchemas["keymint_license_activations"].ValueType(), hosts: hosts}
}

// value is the resource's object: config only (withState false), or as in
// state.
func (fb *fleetBench) value(b *testing.B, hosts []string, withState bool) *tfprotov6.DynamicValue {
	b.Helper()
	obj := fb.typ.(tftypes.Object)
	devType := obj.AttributeTypes["devices"].(tftypes.Map).ElementType
	set := make([]tftypes.Value, len(hosts))
	devs := map[string]tftypes.Value{}
	for i, h := range hosts {
		set[i] = tftypes.NewValue(tftypes.String, h)
		devs[h] = tftypes.NewValue(devType, map[string]tftypes.Value{
			"activation_time": tftypes.NewValue(tftypes.String, "2026-01-01T00:00:00Z"),
			"ip_address":      tftypes.NewValue(tftypes.String, "10.0.0.1"),
		})
	}
	v := map[string]tftypes.Value{
		"id":          tftypes.NewValue(tftypes.String, nil),
		"product_id":  tftypes.NewValue(tftypes.String, fleetTestProduct),
		"license_key": tftypes.NewValue(tftypes.String, fleetTestKey),
		"host_ids":    tftypes.NewValue(tftypes.Set{ElementType: tftypes.String}, set),
		"device_tag":  tftypes.NewValue(tftypes.String, "ci"),
		"exclusive":   tftypes.NewValue(tftypes.Bool, false),
		"devices":     tftypes.NewValue(obj.AttributeTypes["devices"], nil),
	}
	if withState {
		v["id"] = tftypes.NewValue(tftypes.String, FleetID(fleetTestProduct, fleetTestKey, "ci"))
		v["devices"] = tftypes.NewValue(obj.AttributeTypes["devices"], devs)
	}
	dv, err := tfprotov6.NewDynamicValue(fb.typ, tftypes.NewValue(fb.typ, v))
	if err != nil {
		b.Fatal(err)
	}
	return &dv
}

func BenchmarkFleet1000(b *testing.B) {
	fb := newFleetBench(b, 1000)
	ctx := context.Background()
	all := fb.hosts
	// more is the 1,000 hosts the server holds and 10 that it does not.
	more := append(append([]string{}, all...), hostIDsN(1010)[1000:]...)
	for _, bc := range []struct {
		name  string
		state []string
	}{{"no drift", all}, {"10 hosts gone", more}} {
		state := fb.value(b, bc.state, true)
		b.Run("read/"+bc.name, func(b *testing.B) {
			for b.Loop() {
				resp, err := fb.server.ReadResource(ctx, &tfprotov6.ReadResourceRequest{TypeName: "keymint_license_activations", CurrentState: state})
				if err != nil || len(resp.Diagnostics) > 0 {
					b.Fatalf("%v %v", err, resp.Diagnostics)
				}
			}
		})
	}
	// A plan whose refreshed state lacks 10 hosts the configuration lists.
	config := fb.value(b, append(append([]string{}, all...), hostIDsN(1010)[1000:]...), false)
	for _, bc := range []struct {
		name  string
		prior []string
	}{{"no change", more}, {"10 hosts to add", all}} {
		prior := fb.value(b, bc.prior, true)
		proposed := fb.value(b, more, true)
		b.Run("plan/"+bc.name, func(b *testing.B) {
			for b.Loop() {
				resp, err := fb.server.PlanResourceChange(ctx, &tfprotov6.PlanResourceChangeRequest{
					TypeName: "keymint_license_activations", PriorState: prior, ProposedNewState: proposed, Config: config,
				})
				if err != nil || len(resp.Diagnostics) > 0 {
					b.Fatalf("%v %v", err, resp.Diagnostics)
				}
			}
		})
	}
}
