// Command fixtureprovider is a framework provider for the tests of package
// schemadump. Its schemas use every shape the converter handles (nested
// attributes and blocks of each nesting mode, collection and object types,
// plain and markdown descriptions, deprecation, a schema version, an
// action), which the KeyMint provider alone does not.
//
// Run without arguments, it serves the provider as a plugin, so that a
// Terraform CLI can print its schemas; run with -schema, it prints them
// through schemadump instead, for the tests to compare. The provider lives
// in this main package because a real plugin binary is the only way to get
// Terraform's own rendering of it.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"log"
	"os"

	"github.com/hashicorp/terraform-plugin-framework/action"
	actionschema "github.com/hashicorp/terraform-plugin-framework/action/schema"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/datasource"
	dsschema "github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/provider"
	providerschema "github.com/hashicorp/terraform-plugin-framework/provider/schema"
	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	rschema "github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/keymint-dev/terraform-provider-keymint/tools/schemadump"
)

func main() {
	schema := flag.Bool("schema", false, "print the schemas as JSON instead of serving the provider")
	flag.Parse()
	if *schema {
		if err := printSchemas(); err != nil {
			log.Fatal(err)
		}
		return
	}
	err := providerserver.Serve(context.Background(), func() provider.Provider { return fixtureProvider{} },
		providerserver.ServeOpts{Address: "registry.terraform.io/example/fixture", ProtocolVersion: 6})
	if err != nil {
		log.Fatal(err)
	}
}

func printSchemas() error {
	server, err := providerserver.NewProtocol6WithError(fixtureProvider{})()
	if err != nil {
		return err
	}
	schemas, err := schemadump.ProviderSchemas(context.Background(), server, "fixture")
	if err != nil {
		return err
	}
	return json.NewEncoder(os.Stdout).Encode(schemas)
}

type fixtureProvider struct{}

var _ provider.ProviderWithActions = fixtureProvider{}

func (fixtureProvider) Metadata(_ context.Context, _ provider.MetadataRequest, resp *provider.MetadataResponse) {
	resp.TypeName = "fixture"
}

func (fixtureProvider) Schema(_ context.Context, _ provider.SchemaRequest, resp *provider.SchemaResponse) {
	resp.Schema = providerschema.Schema{
		Description: "A provider with a plain description.",
		Attributes: map[string]providerschema.Attribute{
			"endpoint": providerschema.StringAttribute{Optional: true},
			"token":    providerschema.StringAttribute{Optional: true, Sensitive: true, MarkdownDescription: "A `token`."},
		},
		Blocks: map[string]providerschema.Block{
			"retry": providerschema.SingleNestedBlock{
				Attributes: map[string]providerschema.Attribute{
					"attempts": providerschema.Int64Attribute{Optional: true},
				},
			},
		},
	}
}

func (fixtureProvider) Configure(context.Context, provider.ConfigureRequest, *provider.ConfigureResponse) {
}

func (fixtureProvider) Resources(context.Context) []func() resource.Resource {
	return []func() resource.Resource{func() resource.Resource { return thing{} }}
}

func (fixtureProvider) DataSources(context.Context) []func() datasource.DataSource {
	return []func() datasource.DataSource{func() datasource.DataSource { return info{} }}
}

func (fixtureProvider) Actions(context.Context) []func() action.Action {
	return []func() action.Action{func() action.Action { return reset{} }}
}

// thing is a resource with every kind of attribute and block.
type thing struct{}

func (thing) Metadata(_ context.Context, _ resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = "fixture_thing"
}

func (thing) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	resp.Schema = rschema.Schema{
		Version:             1,
		MarkdownDescription: "A **thing**.",
		Attributes: map[string]rschema.Attribute{
			"id":      rschema.StringAttribute{Computed: true, Description: "Plain."},
			"name":    rschema.StringAttribute{Required: true, MarkdownDescription: "Markdown."},
			"secret":  rschema.StringAttribute{Optional: true, Sensitive: true},
			"size":    rschema.Int64Attribute{Optional: true},
			"enabled": rschema.BoolAttribute{Optional: true, Computed: true},
			"ratio":   rschema.Float64Attribute{Optional: true},
			"labels":  rschema.MapAttribute{ElementType: types.StringType, Optional: true},
			"tags":    rschema.SetAttribute{ElementType: types.StringType, Optional: true},
			"ports":   rschema.ListAttribute{ElementType: types.Int64Type, Computed: true},
			"old":     rschema.StringAttribute{Optional: true, DeprecationMessage: "Use name."},
			"settings": rschema.ObjectAttribute{Optional: true, AttributeTypes: map[string]attr.Type{
				"mode":  types.StringType,
				"sizes": types.ListType{ElemType: types.NumberType},
			}},
			"rules": rschema.ListNestedAttribute{
				Optional: true,
				NestedObject: rschema.NestedAttributeObject{Attributes: map[string]rschema.Attribute{
					"port": rschema.Int64Attribute{Required: true, Description: "Port."},
					"cidr": rschema.StringAttribute{Optional: true},
				}},
			},
			"owner": rschema.SingleNestedAttribute{
				Optional:    true,
				Description: "Owner.",
				Attributes: map[string]rschema.Attribute{
					"email": rschema.StringAttribute{Required: true, Sensitive: true},
					"teams": rschema.SetNestedAttribute{
						Computed: true,
						NestedObject: rschema.NestedAttributeObject{Attributes: map[string]rschema.Attribute{
							"slug": rschema.StringAttribute{Computed: true},
						}},
					},
				},
			},
			"envs": rschema.MapNestedAttribute{
				Optional: true,
				NestedObject: rschema.NestedAttributeObject{Attributes: map[string]rschema.Attribute{
					"value": rschema.StringAttribute{Optional: true},
				}},
			},
		},
		Blocks: map[string]rschema.Block{
			"listener": rschema.ListNestedBlock{
				MarkdownDescription: "A listener.",
				NestedObject: rschema.NestedBlockObject{
					Attributes: map[string]rschema.Attribute{
						"port": rschema.Int64Attribute{Required: true},
					},
					Blocks: map[string]rschema.Block{
						"tls": rschema.SingleNestedBlock{
							Attributes: map[string]rschema.Attribute{
								"cert": rschema.StringAttribute{Optional: true},
							},
						},
					},
				},
			},
			"mirror": rschema.SetNestedBlock{
				DeprecationMessage: "Gone soon.",
				NestedObject: rschema.NestedBlockObject{Attributes: map[string]rschema.Attribute{
					"url": rschema.StringAttribute{Required: true},
				}},
			},
			"empty": rschema.SingleNestedBlock{},
		},
	}
}

func (thing) Create(context.Context, resource.CreateRequest, *resource.CreateResponse) {}
func (thing) Read(context.Context, resource.ReadRequest, *resource.ReadResponse)       {}
func (thing) Update(context.Context, resource.UpdateRequest, *resource.UpdateResponse) {}
func (thing) Delete(context.Context, resource.DeleteRequest, *resource.DeleteResponse) {}

// info is a data source shaped like keymint_license: computed nested
// attributes under a required argument.
type info struct{}

func (info) Metadata(_ context.Context, _ datasource.MetadataRequest, resp *datasource.MetadataResponse) {
	resp.TypeName = "fixture_info"
}

func (info) Schema(_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	resp.Schema = dsschema.Schema{
		Attributes: map[string]dsschema.Attribute{
			"key": dsschema.StringAttribute{Required: true, Sensitive: true},
			"devices": dsschema.ListNestedAttribute{
				Computed: true,
				NestedObject: dsschema.NestedAttributeObject{Attributes: map[string]dsschema.Attribute{
					"host_id":   dsschema.StringAttribute{Computed: true},
					"activated": dsschema.StringAttribute{Computed: true, MarkdownDescription: "When."},
				}},
			},
			"customer": dsschema.SingleNestedAttribute{
				Computed: true,
				Attributes: map[string]dsschema.Attribute{
					"name":   dsschema.StringAttribute{Computed: true},
					"active": dsschema.BoolAttribute{Computed: true},
				},
			},
		},
	}
}

func (info) Read(context.Context, datasource.ReadRequest, *datasource.ReadResponse) {}

// reset is an action, which Terraform 1.5.7 does not know.
type reset struct{}

func (reset) Metadata(_ context.Context, _ action.MetadataRequest, resp *action.MetadataResponse) {
	resp.TypeName = "fixture_reset"
}

func (reset) Schema(_ context.Context, _ action.SchemaRequest, resp *action.SchemaResponse) {
	resp.Schema = actionschema.Schema{
		MarkdownDescription: "Resets a thing.",
		Attributes: map[string]actionschema.Attribute{
			"name":   actionschema.StringAttribute{Required: true, MarkdownDescription: "Which thing."},
			"reason": actionschema.StringAttribute{Optional: true},
		},
	}
}

func (reset) Invoke(context.Context, action.InvokeRequest, *action.InvokeResponse) {}
