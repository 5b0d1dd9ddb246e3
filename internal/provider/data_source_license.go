package provider

import (
	"context"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/keymint-dev/terraform-provider-keymint/internal/keymint"
)

var (
	_ datasource.DataSource              = (*licenseDataSource)(nil)
	_ datasource.DataSourceWithConfigure = (*licenseDataSource)(nil)
)

// NewLicenseDataSource returns the keymint_license data source.
func NewLicenseDataSource() datasource.DataSource {
	return &licenseDataSource{}
}

// licenseDataSource reads a license: its seats, devices and customer.
type licenseDataSource struct {
	data *providerData
}

type licenseDataModel struct {
	ID             types.String `tfsdk:"id"`
	ProductID      types.String `tfsdk:"product_id"`
	LicenseKey     types.String `tfsdk:"license_key"`
	MaxActivations types.Int64  `tfsdk:"max_activations"`
	Activations    types.Int64  `tfsdk:"activations"`
	SeatsAvailable types.Int64  `tfsdk:"seats_available"`
	Activated      types.Bool   `tfsdk:"activated"`
	ExpirationDate types.String `tfsdk:"expiration_date"`
	Devices        types.List   `tfsdk:"devices"`
	Customer       types.Object `tfsdk:"customer"`
}

// Object types of the nested attributes.
var (
	deviceObjectType = types.ObjectType{AttrTypes: map[string]attr.Type{
		"host_id":         types.StringType,
		"device_tag":      types.StringType,
		"ip_address":      types.StringType,
		"activation_time": types.StringType,
	}}
	customerObjectType = types.ObjectType{AttrTypes: map[string]attr.Type{
		"id":     types.StringType,
		"name":   types.StringType,
		"email":  types.StringType,
		"active": types.BoolType,
	}}
)

func (d *licenseDataSource) Metadata(_ context.Context, req datasource.MetadataRequest, resp *datasource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_license"
}

func (d *licenseDataSource) Schema(_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "Reads a KeyMint license: its seat limit, the devices that hold seats, whether " +
			"the key is usable, and its customer. Use it to check capacity before activating machines, for " +
			"example in a `precondition` that stops a plan when `seats_available` is too low.\n\n" +
			"The license is read when Terraform plans, so the numbers are those of that moment; other " +
			"machines may take or free seats before the apply.\n\n" +
			"**Access token scopes:** `licenses:read`. A token without it fails with an error naming the scope.",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{
				MarkdownDescription: "Identifier of the license in Terraform: `<product_id>/<key fingerprint>`. " +
					"The fingerprint is derived from the license key and does not reveal it.",
				Computed: true,
			},
			"product_id": schema.StringAttribute{
				MarkdownDescription: productIDDescription,
				Required:            true,
				Validators:          productIDValidators,
			},
			"license_key": schema.StringAttribute{
				MarkdownDescription: licenseKeyDescription("to read"),
				Required:            true,
				Sensitive:           true,
				Validators:          licenseKeyValidators,
			},
			"max_activations": schema.Int64Attribute{
				MarkdownDescription: "The license's seat limit: how many devices may hold a seat at once. " +
					"Null when the license is unlimited.",
				Computed: true,
			},
			"activations": schema.Int64Attribute{
				MarkdownDescription: "How many devices hold a seat now.",
				Computed:            true,
			},
			"seats_available": schema.Int64Attribute{
				MarkdownDescription: "How many more devices can be activated: `max_activations` minus " +
					"`activations`, never below 0. Null when the license is unlimited; write checks as " +
					"`coalesce(data.keymint_license.this.seats_available, 1000000) >= n` or test for null " +
					"to accept unlimited licenses.",
				Computed: true,
			},
			"activated": schema.BoolAttribute{
				MarkdownDescription: "Whether the key is enabled. False when the key is blocked; it is true " +
					"even when no device is active.",
				Computed: true,
			},
			"expiration_date": schema.StringAttribute{
				MarkdownDescription: "When the license expires, as the server reports it (ISO 8601). Null " +
					"when it never expires.",
				Computed: true,
			},
			"devices": schema.ListNestedAttribute{
				MarkdownDescription: "The devices that hold a seat, in the server's order.",
				Computed:            true,
				NestedObject: schema.NestedAttributeObject{
					Attributes: map[string]schema.Attribute{
						"host_id": schema.StringAttribute{
							MarkdownDescription: "Host ID of the device.",
							Computed:            true,
						},
						"device_tag": schema.StringAttribute{
							MarkdownDescription: "Label stored with the activation; null when none was given.",
							Computed:            true,
						},
						"ip_address": schema.StringAttribute{
							MarkdownDescription: "IP address the activation came from.",
							Computed:            true,
						},
						"activation_time": schema.StringAttribute{
							MarkdownDescription: "When the device was activated.",
							Computed:            true,
						},
					},
				},
			},
			"customer": schema.SingleNestedAttribute{
				MarkdownDescription: "The customer the license belongs to; null when it has none.",
				Computed:            true,
				Attributes: map[string]schema.Attribute{
					"id": schema.StringAttribute{
						MarkdownDescription: "KeyMint ID of the customer.",
						Computed:            true,
					},
					"name": schema.StringAttribute{
						MarkdownDescription: "Name of the customer.",
						Computed:            true,
					},
					"email": schema.StringAttribute{
						MarkdownDescription: "E-mail address of the customer.",
						Computed:            true,
					},
					"active": schema.BoolAttribute{
						MarkdownDescription: "Whether the customer is active.",
						Computed:            true,
					},
				},
			},
		},
	}
}

func (d *licenseDataSource) Configure(_ context.Context, req datasource.ConfigureRequest, resp *datasource.ConfigureResponse) {
	d.data = dataFrom(req.ProviderData, &resp.Diagnostics)
}

func (d *licenseDataSource) Read(ctx context.Context, req datasource.ReadRequest, resp *datasource.ReadResponse) {
	var m licenseDataModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	productID, key := m.ProductID.ValueString(), m.LicenseKey.ValueString()
	lic, err := d.data.client.GetKey(ctx, productID, key)
	if err != nil {
		resp.Diagnostics.Append(apiErrorDiagnostic("read", licenseWhat(productID), err))
		return
	}

	m.ID = types.StringValue(productID + "/" + keyFingerprint(productID, key))
	m.Activations = types.Int64Value(deviceCount(lic))
	m.MaxActivations = types.Int64PointerValue(lic.MaxActivations)
	m.SeatsAvailable = types.Int64Null()
	if lic.MaxActivations != nil {
		m.SeatsAvailable = types.Int64Value(max(0, *lic.MaxActivations-deviceCount(lic)))
	}
	m.Activated = types.BoolValue(lic.Activated)
	m.ExpirationDate = types.StringNull()
	if lic.ExpirationDate != "" {
		m.ExpirationDate = types.StringValue(lic.ExpirationDate)
	}
	m.Devices = devicesValue(lic.Devices)
	m.Customer = customerValue(lic.Customer)
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}

// devicesValue is the devices attribute of a license's devices.
func devicesValue(devs []keymint.Device) types.List {
	elems := make([]attr.Value, len(devs))
	for i, dev := range devs {
		tag := types.StringNull()
		if dev.DeviceTag != "" {
			tag = types.StringValue(dev.DeviceTag)
		}
		elems[i] = types.ObjectValueMust(deviceObjectType.AttrTypes, map[string]attr.Value{
			"host_id":         types.StringValue(dev.HostID),
			"device_tag":      tag,
			"ip_address":      types.StringValue(dev.IPAddress),
			"activation_time": types.StringValue(dev.ActivationTime),
		})
	}
	return types.ListValueMust(deviceObjectType, elems)
}

// customerValue is the customer attribute: null when the license has none.
func customerValue(c *keymint.Customer) types.Object {
	if c == nil {
		return types.ObjectNull(customerObjectType.AttrTypes)
	}
	return types.ObjectValueMust(customerObjectType.AttrTypes, map[string]attr.Value{
		"id":     types.StringValue(c.ID),
		"name":   types.StringValue(c.Name),
		"email":  types.StringValue(c.Email),
		"active": types.BoolValue(c.Active),
	})
}
