package noopprovider

import (
	"context"
	"reflect"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/provider"
	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-go/tftypes"

	kmprovider "github.com/keymint-dev/terraform-provider-keymint/internal/provider"
)

func protocolSchema(t *testing.T, p func() provider.Provider) *tfprotov6.GetProviderSchemaResponse {
	t.Helper()
	server, err := providerserver.NewProtocol6WithError(p())()
	if err != nil {
		t.Fatal(err)
	}
	resp, err := server.GetProviderSchema(t.Context(), &tfprotov6.GetProviderSchemaRequest{})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range resp.Diagnostics {
		t.Errorf("GetProviderSchema: %s: %s", d.Summary, d.Detail)
	}
	return resp
}

// The floor only means something if Terraform sees the same provider.
func TestSchemasMatchTheRealProvider(t *testing.T) {
	noop := protocolSchema(t, New)
	want := protocolSchema(t, kmprovider.New("test"))
	if !reflect.DeepEqual(noop.Provider, want.Provider) {
		t.Errorf("provider schema differs:\nnoop %+v\nreal %+v", noop.Provider, want.Provider)
	}
	if len(want.ResourceSchemas) == 0 || !reflect.DeepEqual(noop.ResourceSchemas, want.ResourceSchemas) {
		t.Errorf("resource schemas differ:\nnoop %v\nreal %v", noop.ResourceSchemas, want.ResourceSchemas)
	}
	if !reflect.DeepEqual(noop.DataSourceSchemas, want.DataSourceSchemas) {
		t.Errorf("data source schemas differ:\nnoop %v\nreal %v", noop.DataSourceSchemas, want.DataSourceSchemas)
	}
	if !reflect.DeepEqual(noop.ActionSchemas, want.ActionSchemas) {
		t.Errorf("action schemas differ:\nnoop %v\nreal %v", noop.ActionSchemas, want.ActionSchemas)
	}
	if !reflect.DeepEqual(noop.ServerCapabilities, want.ServerCapabilities) {
		t.Errorf("server capabilities differ: %+v vs %+v", noop.ServerCapabilities, want.ServerCapabilities)
	}
}

func TestCreateReadDelete(t *testing.T) {
	ctx := context.Background()
	r := NewDeviceActivationResource()
	var sr resource.SchemaResponse
	r.Schema(ctx, resource.SchemaRequest{}, &sr)
	typ := sr.Schema.Type().TerraformType(ctx)
	str := func(v any) tftypes.Value { return tftypes.NewValue(tftypes.String, v) }
	plan := tftypes.NewValue(typ, map[string]tftypes.Value{
		"id":              str(tftypes.UnknownValue),
		"product_id":      str("prod_bench_0123456789abcdef"),
		"license_key":     str("lk_bench_0123456789abcdefghij"),
		"host_id":         str("bench-7"),
		"device_tag":      str(nil),
		"activation_time": str(tftypes.UnknownValue),
		"ip_address":      str(tftypes.UnknownValue),
		"licensee_name":   str(tftypes.UnknownValue),
		"licensee_email":  str(tftypes.UnknownValue),
	})
	create := resource.CreateResponse{State: tfsdk.State{Schema: sr.Schema, Raw: tftypes.NewValue(typ, nil)}}
	r.Create(ctx, resource.CreateRequest{Plan: tfsdk.Plan{Schema: sr.Schema, Raw: plan}}, &create)
	if create.Diagnostics.HasError() {
		t.Fatal(create.Diagnostics)
	}
	var got model
	if diags := create.State.Get(ctx, &got); diags.HasError() {
		t.Fatal(diags)
	}
	if id := got.ID.ValueString(); !strings.HasPrefix(id, "prod_bench_0123456789abcdef/") || !strings.HasSuffix(id, "/bench-7") ||
		strings.Contains(id, "lk_bench") {
		t.Errorf("id = %q", id)
	}
	if got.ActivationTime.ValueString() != ActivationTime || got.IPAddress.ValueString() != IPAddress ||
		got.LicenseeName.ValueString() != LicenseeName || got.LicenseeEmail.ValueString() != LicenseeEmail || !got.DeviceTag.IsNull() {
		t.Errorf("state = %+v", got)
	}

	read := resource.ReadResponse{State: create.State}
	r.Read(ctx, resource.ReadRequest{State: create.State}, &read)
	if read.Diagnostics.HasError() || !read.State.Raw.Equal(create.State.Raw) {
		t.Errorf("Read changed the state: %v %v", read.Diagnostics, read.State.Raw)
	}
	var del resource.DeleteResponse
	r.Delete(ctx, resource.DeleteRequest{State: create.State}, &del)
	if del.Diagnostics.HasError() {
		t.Error(del.Diagnostics)
	}
}
