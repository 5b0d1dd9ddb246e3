package noopprovider

import (
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/provider"
	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-go/tftypes"

	"github.com/keymint-dev/terraform-provider-keymint/internal/keymint"
	"github.com/keymint-dev/terraform-provider-keymint/internal/pluginserver"
	kmprovider "github.com/keymint-dev/terraform-provider-keymint/internal/provider"
)

// server is a protocol-6 server that serves actions, as the framework's is.
type server interface {
	tfprotov6.ProviderServer
	tfprotov6.ActionServer
}

func newServer(t *testing.T, p func() provider.Provider) server {
	t.Helper()
	s, ok := pluginserver.NewServer(providerserver.NewProtocol6(p())()).(server)
	if !ok {
		t.Fatal("the provider's server does not serve actions")
	}
	return s
}

func protocolSchema(t *testing.T, s server) *tfprotov6.GetProviderSchemaResponse {
	t.Helper()
	resp, err := s.GetProviderSchema(t.Context(), &tfprotov6.GetProviderSchemaRequest{})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range resp.Diagnostics {
		t.Errorf("GetProviderSchema: %s: %s", d.Summary, d.Detail)
	}
	return resp
}

// The floor only means something if Terraform sees the same provider:
// every schema and capability the protocol reports is the same.
func TestSchemasMatchTheRealProvider(t *testing.T) {
	noop := reflect.ValueOf(*protocolSchema(t, newServer(t, New)))
	want := reflect.ValueOf(*protocolSchema(t, newServer(t, kmprovider.New("test"))))
	for i := range want.NumField() {
		name := want.Type().Field(i).Name
		if !reflect.DeepEqual(noop.Field(i).Interface(), want.Field(i).Interface()) {
			t.Errorf("%s differ:\nnoop %v\nreal %v", name, noop.Field(i), want.Field(i))
		}
	}
	if want.FieldByName("ResourceSchemas").Len() == 0 {
		t.Error("the real provider has no resource: nothing was compared")
	}
}

// Test values of the required string attributes, by name. They pass the
// real validators.
var required = map[string]string{
	"product_id":  "prod_noop_0123456789abcdefghij",
	"license_key": "lk_noop_SECRET_0123456789abcdef",
	"host_id":     "noop-host-1",
}

// config is a configuration of the schema: the required attributes set
// from required, the others null.
func config(t *testing.T, schema *tfprotov6.Schema) (tftypes.Object, tftypes.Value) {
	t.Helper()
	typ := schema.ValueType().(tftypes.Object)
	attrs := map[string]tftypes.Value{}
	for _, a := range schema.Block.Attributes {
		attrs[a.Name] = tftypes.NewValue(typ.AttributeTypes[a.Name], nil)
		if a.Required && a.Type != nil && a.Type.Is(tftypes.Set{ElementType: tftypes.String}) {
			attrs[a.Name] = tftypes.NewValue(a.Type, []tftypes.Value{
				tftypes.NewValue(tftypes.String, "noop-host-a"), tftypes.NewValue(tftypes.String, "noop-host-b"),
			})
			continue
		}
		if a.Required {
			v, ok := required[a.Name]
			if !ok || !a.Type.Is(tftypes.String) {
				t.Fatalf("no test value for the required attribute %s (%s)", a.Name, a.Type)
			}
			attrs[a.Name] = tftypes.NewValue(tftypes.String, v)
		}
	}
	// Blocks are left out of the configuration: null for a single block, an
	// empty list or set for repeated ones, as Terraform sends them.
	for _, b := range schema.Block.BlockTypes {
		bt := typ.AttributeTypes[b.TypeName]
		switch b.Nesting {
		case tfprotov6.SchemaNestedBlockNestingModeList, tfprotov6.SchemaNestedBlockNestingModeSet:
			attrs[b.TypeName] = tftypes.NewValue(bt, []tftypes.Value{})
		default:
			attrs[b.TypeName] = tftypes.NewValue(bt, nil)
		}
	}
	return typ, tftypes.NewValue(typ, attrs)
}

func dynamic(t *testing.T, typ tftypes.Type, v tftypes.Value) *tfprotov6.DynamicValue {
	t.Helper()
	dv, err := tfprotov6.NewDynamicValue(typ, v)
	if err != nil {
		t.Fatal(err)
	}
	return &dv
}

func value(t *testing.T, typ tftypes.Type, dv *tfprotov6.DynamicValue) tftypes.Value {
	t.Helper()
	v, err := dv.Unmarshal(typ)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func failOn(t *testing.T, what string, err error, diags []*tfprotov6.Diagnostic) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	for _, d := range diags {
		if d.Severity == tfprotov6.DiagnosticSeverityError {
			t.Fatalf("%s: %s: %s", what, d.Summary, d.Detail)
		}
	}
}

// apiServer starts an HTTP server that counts the requests it gets, set as
// the provider's base URL; the no-op provider must send it none.
func apiServer(t *testing.T) {
	t.Helper()
	var calls atomic.Int64
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		calls.Add(1)
		http.Error(w, "the no-op provider called the API", http.StatusTeapot)
	}))
	t.Cleanup(ts.Close)
	t.Setenv(keymint.EnvBaseURL, ts.URL)
	t.Setenv(keymint.EnvAccessToken, "km_noop_token")
	t.Cleanup(func() {
		if n := calls.Load(); n > 0 {
			t.Errorf("the no-op provider sent %d API requests", n)
		}
	})
}

// configure configures the server as Terraform does, with an empty
// provider block.
func configure(t *testing.T, s server, schemas *tfprotov6.GetProviderSchemaResponse) {
	t.Helper()
	typ, cfg := config(t, schemas.Provider)
	resp, err := s.ConfigureProvider(t.Context(), &tfprotov6.ConfigureProviderRequest{TerraformVersion: "1.14.0", Config: dynamic(t, typ, cfg)})
	failOn(t, "ConfigureProvider", err, resp.Diagnostics)
}

// Each resource of the real provider is created, read and destroyed over
// the protocol as Terraform drives it, without any API call: the state
// keeps the configuration and every computed value becomes known.
func TestResourcesLifecycle(t *testing.T) {
	apiServer(t)
	s := newServer(t, New)
	schemas := protocolSchema(t, s)
	configure(t, s, schemas)
	ctx := t.Context()
	for typeName, schema := range schemas.ResourceSchemas {
		t.Run(typeName, func(t *testing.T) {
			typ, cfg := config(t, schema)
			null := tftypes.NewValue(typ, nil)

			plan, err := s.PlanResourceChange(ctx, &tfprotov6.PlanResourceChangeRequest{
				TypeName: typeName, PriorState: dynamic(t, typ, null), ProposedNewState: dynamic(t, typ, cfg), Config: dynamic(t, typ, cfg),
			})
			failOn(t, "plan create", err, plan.Diagnostics)
			planned := value(t, typ, plan.PlannedState)

			apply, err := s.ApplyResourceChange(ctx, &tfprotov6.ApplyResourceChangeRequest{
				TypeName: typeName, PriorState: dynamic(t, typ, null), PlannedState: plan.PlannedState, Config: dynamic(t, typ, cfg),
			})
			failOn(t, "apply create", err, apply.Diagnostics)
			state := value(t, typ, apply.NewState)
			if !state.IsFullyKnown() {
				t.Fatalf("the new state has unknown values: %v", state)
			}
			var cfgAttrs, plannedAttrs, stateAttrs map[string]tftypes.Value
			for v, m := range map[*tftypes.Value]*map[string]tftypes.Value{&cfg: &cfgAttrs, &planned: &plannedAttrs, &state: &stateAttrs} {
				if err := v.As(m); err != nil {
					t.Fatal(err)
				}
			}
			for _, a := range schema.Block.Attributes {
				got := stateAttrs[a.Name]
				switch {
				case !plannedAttrs[a.Name].IsKnown():
					if got.IsNull() && a.Type != nil && (a.Type.Is(tftypes.String) || a.Type.Is(tftypes.Number) || a.Type.Is(tftypes.Bool)) {
						t.Errorf("%s was planned unknown and is null", a.Name)
					}
					if strings.Contains(got.String(), required["license_key"]) {
						t.Errorf("%s holds the license key: %v", a.Name, got)
					}
				case !got.Equal(plannedAttrs[a.Name]):
					t.Errorf("%s = %v, planned %v", a.Name, got, plannedAttrs[a.Name])
				}
				if !a.Computed && !got.Equal(cfgAttrs[a.Name]) {
					t.Errorf("%s = %v, configured %v", a.Name, got, cfgAttrs[a.Name])
				}
			}

			read, err := s.ReadResource(ctx, &tfprotov6.ReadResourceRequest{TypeName: typeName, CurrentState: apply.NewState})
			failOn(t, "read", err, read.Diagnostics)
			if got := value(t, typ, read.NewState); !got.Equal(state) {
				t.Errorf("read changed the state:\n%v\nwas\n%v", got, state)
			}

			destroyPlan, err := s.PlanResourceChange(ctx, &tfprotov6.PlanResourceChangeRequest{
				TypeName: typeName, PriorState: apply.NewState, ProposedNewState: dynamic(t, typ, null), Config: dynamic(t, typ, null),
			})
			failOn(t, "plan destroy", err, destroyPlan.Diagnostics)
			destroy, err := s.ApplyResourceChange(ctx, &tfprotov6.ApplyResourceChangeRequest{
				TypeName: typeName, PriorState: apply.NewState, PlannedState: destroyPlan.PlannedState, Config: dynamic(t, typ, null),
			})
			failOn(t, "apply destroy", err, destroy.Diagnostics)
			if got := value(t, typ, destroy.NewState); !got.IsNull() {
				t.Errorf("state after destroy = %v, want null", got)
			}
		})
	}
}

// Each data source returns its configuration, and each action completes,
// without any API call.
func TestDataSourcesAndActions(t *testing.T) {
	apiServer(t)
	s := newServer(t, New)
	schemas := protocolSchema(t, s)
	configure(t, s, schemas)
	ctx := t.Context()
	for typeName, schema := range schemas.DataSourceSchemas {
		typ, cfg := config(t, schema)
		resp, err := s.ReadDataSource(ctx, &tfprotov6.ReadDataSourceRequest{TypeName: typeName, Config: dynamic(t, typ, cfg)})
		failOn(t, typeName, err, resp.Diagnostics)
		if got := value(t, typ, resp.State); !got.Equal(cfg) {
			t.Errorf("%s: state %v, want the configuration %v", typeName, got, cfg)
		}
	}
	for typeName, as := range schemas.ActionSchemas {
		typ, cfg := config(t, as.Schema)
		stream, err := s.InvokeAction(ctx, &tfprotov6.InvokeActionRequest{ActionType: typeName, Config: dynamic(t, typ, cfg)})
		failOn(t, typeName, err, nil)
		completed := false
		for ev := range stream.Events {
			if c, ok := ev.Type.(tfprotov6.CompletedInvokeActionEventType); ok {
				completed = true
				failOn(t, typeName, nil, c.Diagnostics)
			}
		}
		if !completed {
			t.Errorf("%s sent no completed event", typeName)
		}
	}
}
