package provider

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/mapvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/resourcevalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/booldefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/objectplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-framework/types/basetypes"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/keymint-dev/terraform-provider-keymint/internal/keymint"
)

var (
	_ resource.Resource                     = (*licenseKeyResource)(nil)
	_ resource.ResourceWithConfigure        = (*licenseKeyResource)(nil)
	_ resource.ResourceWithConfigValidators = (*licenseKeyResource)(nil)
	_ resource.ResourceWithValidateConfig   = (*licenseKeyResource)(nil)
	_ resource.ResourceWithModifyPlan       = (*licenseKeyResource)(nil)
	_ resource.ResourceWithImportState      = (*licenseKeyResource)(nil)
)

// NewLicenseKeyResource returns the keymint_license_key resource.
func NewLicenseKeyResource() resource.Resource {
	return &licenseKeyResource{}
}

// licenseKeyResource creates a KeyMint license key, changes it in place,
// and blocks it on destroy (KeyMint cannot delete keys).
type licenseKeyResource struct {
	data *providerData
}

type licenseKeyModel struct {
	ID             types.String `tfsdk:"id"`
	ProductID      types.String `tfsdk:"product_id"`
	MaxActivations types.Int64  `tfsdk:"max_activations"`
	ExpirationDate types.String `tfsdk:"expiration_date"`
	CustomerID     types.String `tfsdk:"customer_id"`
	NewCustomer    types.Object `tfsdk:"new_customer"`
	Metadata       types.Map    `tfsdk:"metadata"`
	Blocked        types.Bool   `tfsdk:"blocked"`
	Format         types.Object `tfsdk:"format"`
	Key            types.String `tfsdk:"key"`
	Activations    types.Int64  `tfsdk:"activations"`
	Activated      types.Bool   `tfsdk:"activated"`
	Customer       types.Object `tfsdk:"customer"`
}

// newCustomerModel is the new_customer block.
type newCustomerModel struct {
	Name  types.String `tfsdk:"name"`
	Email types.String `tfsdk:"email"`
}

// keyFormatModel is the format block.
type keyFormatModel struct {
	Sections      types.Int64  `tfsdk:"sections"`
	SectionLength types.Int64  `tfsdk:"section_length"`
	Separator     types.String `tfsdk:"separator"`
	Charset       types.String `tfsdk:"charset"`
	Prefix        types.String `tfsdk:"prefix"`
	Suffix        types.String `tfsdk:"suffix"`
	Case          types.String `tfsdk:"case"`
}

// Limits of a key format, as KeyMint documents them.
const (
	formatSectionsMax      = 10
	formatSectionLengthMax = 32
	formatSeparatorMax     = 3
	formatAffixMax         = 16
)

// creationTokenKey is the metadata entry that carries a create's token
// (see Create); it is reserved.
const creationTokenKey = "terraform_creation_token"

// Keys of the resource's private state.
const (
	// privateCreatedCustomer holds the ID of the customer a new_customer
	// block made, so that a key moved to another customer outside
	// Terraform shows as drift.
	privateCreatedCustomer = "created_customer_id"
	// privateActivatedMeans holds what this server's get-key means by
	// "activated" (see blockedFromRead).
	privateActivatedMeans = "activated_means"
)

// What "activated" means in a server's get-key answers.
const (
	activatedMeansEnabled = "enabled" // as documented: not blocked, even without devices
	activatedMeansDevices = "devices" // as two SDK contract samples show: some device holds a seat
)

func (m *licenseKeyModel) what() string {
	return fmt.Sprintf("the license key %s", firstNonEmpty(m.ID.ValueString(), "of product "+m.ProductID.ValueString()))
}

func (r *licenseKeyResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_license_key"
}

func (r *licenseKeyResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	keep := []planmodifier.String{stringplanmodifier.UseStateForUnknown()}
	resp.Schema = schema.Schema{
		MarkdownDescription: "Creates a KeyMint license key: one per environment, customer or CI pipeline, made with " +
			"the infrastructure that uses it and passed straight to its activations (`keymint_device_activation`, " +
			"`keymint_license_activations`), to the `keymint_license` data source and to `keymint_license_reset`.\n\n" +
			"`max_activations`, `expiration_date`, `customer_id`, `new_customer` and `metadata` change in place; " +
			"`blocked` blocks and unblocks the key in place. A change of `product_id`, or of `format` once the key " +
			"exists, makes a new key.\n\n" +
			"**Destroy blocks the key.** KeyMint has no call that deletes a license key, so destroying the resource " +
			"blocks it: it can no longer be activated anywhere. Destroy deactivates nothing by itself: activations " +
			"that use the key are destroyed first, because they depend on it. To keep a key, add " +
			"`lifecycle { prevent_destroy = true }`, or remove it from state with `terraform state rm` before " +
			"destroying the rest.\n\n" +
			"**Creating a key is not idempotent.** When a create's answer is lost, the provider does not send it again " +
			"(that could make a second key nobody knows); it reports an error naming the creation token it put in the " +
			"key's metadata (`" + creationTokenKey + "`), by which the key can be found in KeyMint's dashboard, then " +
			"blocked or imported.\n\n" +
			"**Access token scopes:** `licenses:write` to create and update, `licenses:block` to block and unblock " +
			"(destroy included), and `licenses:read` to read the key back (recommended: without it, drift is not seen).",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{
				MarkdownDescription: "Identifier of the key in Terraform: `<product_id>/<key fingerprint>`. The fingerprint " +
					"is derived from the key and does not reveal it; it is the same as the `keymint_license` data source's ID.",
				Computed:      true,
				PlanModifiers: keep,
			},
			"product_id": schema.StringAttribute{
				MarkdownDescription: productIDDescription + " Changing it makes a new key (and blocks the old one).",
				Required:            true,
				Validators:          productIDValidators,
				PlanModifiers:       []planmodifier.String{stringplanmodifier.RequiresReplace()},
			},
			"max_activations": schema.Int64Attribute{
				MarkdownDescription: "How many devices may hold a seat at once, at least 1. Omit it for an unlimited key. " +
					"Changes in place. Lowered below the seats in use, the plan warns: KeyMint keeps the devices that hold " +
					"seats, and no new device is activated until enough of them are deactivated.",
				Optional:   true,
				Validators: []validator.Int64{int64validator.AtLeast(1)},
			},
			"expiration_date": schema.StringAttribute{
				MarkdownDescription: "When the key expires, in RFC 3339 format (for example `2030-12-31T23:59:59Z`). " +
					"**When omitted, KeyMint makes the key expire one month after its creation**; the date it chose is " +
					"shown here after apply. Changes in place. Removing it from the configuration keeps the current " +
					"expiry. A date KeyMint stores with another precision or offset but for the same instant is not a change.",
				Optional:      true,
				Computed:      true,
				Validators:    []validator.String{rfc3339Validator{}},
				PlanModifiers: keep,
			},
			"customer_id": schema.StringAttribute{
				MarkdownDescription: "ID of an existing KeyMint customer to assign the key to. Conflicts with `new_customer`. " +
					"Changes in place. When omitted, it shows the key's customer: the one `new_customer` made, or whatever " +
					"the key has. Removing it keeps the key's customer (KeyMint has no call that detaches one).",
				Optional:   true,
				Computed:   true,
				Validators: []validator.String{stringvalidator.UTF8LengthBetween(1, 256)},
			},
			"metadata": schema.MapAttribute{
				MarkdownDescription: "Free-form string values stored with the key. Changes in place; removing it clears " +
					"the key's metadata. KeyMint's get-key does not return metadata, so changes made outside Terraform " +
					"are not seen. The provider adds the entry `" + creationTokenKey + "` when it creates the key (see " +
					"above); that name is reserved.",
				ElementType: types.StringType,
				Optional:    true,
				Validators:  []validator.Map{mapvalidator.KeysAre(stringvalidator.NoneOf(creationTokenKey), stringvalidator.LengthBetween(1, 256))},
			},
			"blocked": schema.BoolAttribute{
				MarkdownDescription: "Whether the key is blocked: a blocked key cannot be activated, and its devices keep " +
					"their seats. Defaults to `false`. Blocks and unblocks in place. A key blocked or unblocked outside " +
					"Terraform shows as drift where KeyMint's `activated` says so (see `activated`).",
				Optional: true,
				Computed: true,
				Default:  booldefault.StaticBool(false),
			},
			"key": schema.StringAttribute{
				MarkdownDescription: "The license key: a secret. Pass it to `keymint_device_activation`, " +
					"`keymint_license_activations`, the `keymint_license` data source or `keymint_license_reset`; it is " +
					"known once the key is created, so those are planned with it unknown until then.",
				Computed:      true,
				Sensitive:     true,
				PlanModifiers: keep,
			},
			"activations": schema.Int64Attribute{
				MarkdownDescription: "How many devices hold a seat, as KeyMint reported when the key was last read.",
				Computed:            true,
			},
			"activated": schema.BoolAttribute{
				MarkdownDescription: "KeyMint's `activated` flag as get-key reports it: documented as \"enabled, not " +
					"blocked\" (true even without devices). Some servers report it false for a fresh key without devices; " +
					"the provider learns which reading the server uses when it creates the key, and only concludes that a " +
					"key is blocked where the answer allows it.",
				Computed: true,
			},
			"customer": schema.SingleNestedAttribute{
				MarkdownDescription: "The key's customer as KeyMint reports it; null when it has none.",
				Computed:            true,
				Attributes: map[string]schema.Attribute{
					"id":     schema.StringAttribute{MarkdownDescription: "KeyMint ID of the customer.", Computed: true},
					"name":   schema.StringAttribute{MarkdownDescription: "Name of the customer.", Computed: true},
					"email":  schema.StringAttribute{MarkdownDescription: "E-mail address of the customer.", Computed: true},
					"active": schema.BoolAttribute{MarkdownDescription: "Whether the customer is active.", Computed: true},
				},
			},
		},
		Blocks: map[string]schema.Block{
			"new_customer": schema.SingleNestedBlock{
				MarkdownDescription: "A customer KeyMint creates and assigns the key to. Conflicts with `customer_id`. " +
					"Changing it creates another customer and assigns the key to it, in place (KeyMint refuses an e-mail " +
					"address a customer has already: use `customer_id` for that customer). Removing it keeps the key's " +
					"customer. A key moved to another customer outside Terraform is moved back.",
				Attributes: map[string]schema.Attribute{
					"name": schema.StringAttribute{
						MarkdownDescription: "Name of the customer, 1 to 256 characters. Required in the block.",
						Optional:            true,
						Validators:          []validator.String{stringvalidator.UTF8LengthBetween(1, 256)},
					},
					"email": schema.StringAttribute{
						MarkdownDescription: "E-mail address of the customer (optional). KeyMint refuses one that another customer has.",
						Optional:            true,
						Validators:          []validator.String{stringvalidator.UTF8LengthBetween(3, 256), stringvalidator.RegexMatches(emailShape, "must be an e-mail address")},
					},
				},
			},
			"format": schema.SingleNestedBlock{
				MarkdownDescription: "The format KeyMint generates the key in; omitted fields take KeyMint's defaults. It " +
					"only applies when the key is created: changing it afterwards makes a new key (and blocks the old one), " +
					"while adding it to an existing or imported key changes nothing. KeyMint does not report a key's format.",
				PlanModifiers: []planmodifier.Object{objectplanmodifier.RequiresReplaceIf(formatChanged,
					"A change of format makes a new key.", "A change of `format` makes a new key.")},
				Attributes: map[string]schema.Attribute{
					"sections": schema.Int64Attribute{
						MarkdownDescription: fmt.Sprintf("Number of sections, 1 to %d.", formatSectionsMax),
						Optional:            true,
						Validators:          []validator.Int64{int64validator.Between(1, formatSectionsMax)},
					},
					"section_length": schema.Int64Attribute{
						MarkdownDescription: fmt.Sprintf("Characters per section, 1 to %d.", formatSectionLengthMax),
						Optional:            true,
						Validators:          []validator.Int64{int64validator.Between(1, formatSectionLengthMax)},
					},
					"separator": schema.StringAttribute{
						MarkdownDescription: fmt.Sprintf("Between sections, up to %d characters; `\"\"` for none.", formatSeparatorMax),
						Optional:            true,
						Validators:          []validator.String{stringvalidator.UTF8LengthAtMost(formatSeparatorMax)},
					},
					"charset": schema.StringAttribute{
						MarkdownDescription: "The character set, by the name KeyMint gives it (keymint-local knows " +
							"`alphanumeric`, `alphabetic`, `numeric` and `hex`).",
						Optional:   true,
						Validators: []validator.String{stringvalidator.UTF8LengthBetween(1, 64)},
					},
					"prefix": schema.StringAttribute{
						MarkdownDescription: fmt.Sprintf("Put before the key, up to %d characters.", formatAffixMax),
						Optional:            true,
						Validators:          []validator.String{stringvalidator.UTF8LengthAtMost(formatAffixMax)},
					},
					"suffix": schema.StringAttribute{
						MarkdownDescription: fmt.Sprintf("Put after the key, up to %d characters.", formatAffixMax),
						Optional:            true,
						Validators:          []validator.String{stringvalidator.UTF8LengthAtMost(formatAffixMax)},
					},
					"case": schema.StringAttribute{
						MarkdownDescription: "Letter case: `upper`, `lower` or `mixed`.",
						Optional:            true,
						Validators:          []validator.String{stringvalidator.OneOf("upper", "lower", "mixed")},
					},
				},
			},
		},
	}
}

// emailShape is a loose e-mail address check: something@something.
var emailShape = regexp.MustCompile(`^[^@\s]+@[^@\s]+$`)

// formatChanged replaces the key when a format it was created with changes.
// A format added to a key that has none in state (created without one, or
// imported) describes nothing that can be checked, and is taken as is.
func formatChanged(_ context.Context, req planmodifier.ObjectRequest, resp *objectplanmodifier.RequiresReplaceIfFuncResponse) {
	resp.RequiresReplace = !req.StateValue.IsNull() && !req.PlanValue.Equal(req.StateValue)
}

func (r *licenseKeyResource) ConfigValidators(context.Context) []resource.ConfigValidator {
	return []resource.ConfigValidator{
		resourcevalidator.Conflicting(path.MatchRoot("customer_id"), path.MatchRoot("new_customer")),
	}
}

// ValidateConfig checks what the attribute validators cannot: a
// new_customer block names its customer, and a format's keys fit in 256
// characters.
func (r *licenseKeyResource) ValidateConfig(ctx context.Context, req resource.ValidateConfigRequest, resp *resource.ValidateConfigResponse) {
	var m licenseKeyModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if !m.NewCustomer.IsNull() && !m.NewCustomer.IsUnknown() {
		var nc newCustomerModel
		resp.Diagnostics.Append(m.NewCustomer.As(ctx, &nc, objectAsOptions)...)
		if nc.Name.IsNull() {
			resp.Diagnostics.AddAttributeError(path.Root("new_customer").AtName("name"), "Missing customer name",
				"A new_customer block needs a name: KeyMint creates the customer under it.")
		}
	}
	if !m.Format.IsNull() && !m.Format.IsUnknown() {
		var f keyFormatModel
		resp.Diagnostics.Append(m.Format.As(ctx, &f, objectAsOptions)...)
		if n, known := f.length(); known && n > licenseKeyMax {
			resp.Diagnostics.AddAttributeError(path.Root("format"), "Key format too long",
				fmt.Sprintf("This format makes keys of %d characters (sections × section_length, the separators, prefix and "+
					"suffix, with KeyMint's defaults of 4 sections of 5 characters and \"-\" where omitted); license keys "+
					"have at most %d. Use fewer or shorter sections.", n, licenseKeyMax))
		}
	}
}

// length is the number of characters of the keys f makes, with KeyMint's
// defaults (4 sections of 5, separator "-") for what is omitted; known is
// false while a value is unknown.
func (f keyFormatModel) length() (n int, known bool) {
	for _, v := range []attr.Value{f.Sections, f.SectionLength, f.Separator, f.Prefix, f.Suffix} {
		if v.IsUnknown() {
			return 0, false
		}
	}
	sections, length, sep := int64(4), int64(5), "-"
	if !f.Sections.IsNull() {
		sections = f.Sections.ValueInt64()
	}
	if !f.SectionLength.IsNull() {
		length = f.SectionLength.ValueInt64()
	}
	if !f.Separator.IsNull() {
		sep = f.Separator.ValueString()
	}
	total := sections*length + (sections-1)*int64(utf8.RuneCountInString(sep)) +
		int64(utf8.RuneCountInString(f.Prefix.ValueString())+utf8.RuneCountInString(f.Suffix.ValueString()))
	return int(total), true
}

func (r *licenseKeyResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.data = dataFrom(req.ProviderData, &resp.Diagnostics)
}

// objectAsOptions read an object into a struct.
var objectAsOptions = basetypes.ObjectAsOptions{}

// Object types of the blocks and the customer attribute.
var (
	newCustomerObjectType = types.ObjectType{AttrTypes: map[string]attr.Type{"name": types.StringType, "email": types.StringType}}
	keyFormatObjectType   = types.ObjectType{AttrTypes: map[string]attr.Type{
		"sections": types.Int64Type, "section_length": types.Int64Type, "separator": types.StringType, "charset": types.StringType,
		"prefix": types.StringType, "suffix": types.StringType, "case": types.StringType,
	}}
)

// Create makes the key, then blocks it if asked, then reads it back.
//
// Creating a key is not idempotent, and that shapes this method:
//
//   - The client sends the create again only when no attempt can have
//     reached the server (a 429, a connection never opened); see
//     keymint.CreateKey. Re-sending after a lost answer could make a second
//     key, and nothing in KeyMint's API lists a product's keys, so nobody
//     would ever learn it: an orphan, silently. Its Idempotency-Key would
//     prevent that only on servers known to honour it, and nothing tells
//     which do.
//   - So an answer that is lost (or a 5xx, or a success without a readable
//     key) is an error, and the key may exist. The create carries a token of
//     its own in the key's metadata (creationTokenKey), and the error names
//     it: the key can be found in KeyMint's dashboard by it, then blocked, or
//     imported (`terraform import ADDRESS PRODUCT/env:NAME`). The next apply
//     creates a new key; the error says so. No state is written: without the
//     key there is nothing to read, update or block.
//   - Once the key is known, it is in state before anything else can fail:
//     a block or read-back that fails leaves the resource in state, tainted,
//     so that the next apply blocks it and makes a new one (or it is
//     untainted), and the key is never lost track of.
func (r *licenseKeyResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var plan licenseKeyModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	client := r.data.client
	productID := plan.ProductID.ValueString()
	token := newCreationToken()
	in := keymint.CreateKeyInput{
		ProductID:      productID,
		MaxActivations: plan.MaxActivations.ValueInt64Pointer(),
		ExpiryDate:     plan.ExpirationDate.ValueString(), // "" when unknown: KeyMint's default
		CustomerID:     plan.CustomerID.ValueString(),
		Metadata:       map[string]any{creationTokenKey: token},
	}
	for k, v := range plan.Metadata.Elements() {
		if s, ok := v.(types.String); ok {
			in.Metadata[k] = s.ValueString()
		}
	}
	if nc, ok := newCustomerOf(ctx, plan.NewCustomer, &resp.Diagnostics); ok {
		in.NewCustomer = nc
	}
	in.Format = keyFormatOf(ctx, plan.Format, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}

	created, err := client.CreateKey(ctx, in)
	if err != nil {
		if keymint.IsCreateOutcomeUnknown(err) {
			resp.Diagnostics.AddError("License key may have been created",
				fmt.Sprintf("Creating a license key for product %s did not end with an answer the provider can use (%s), "+
					"so KeyMint may or may not have made the key. The provider does not send the create again, since that "+
					"could make a second key that nobody would ever know.\n\n"+
					"The key, if it exists, carries the metadata %s = %q. Find it in the KeyMint dashboard, then block it, "+
					"or bring it under Terraform with `terraform import <address> %s/env:NAME` (with the key in the "+
					"environment variable NAME). Running apply again creates another key.",
					productID, err, creationTokenKey, token, productID))
			return
		}
		resp.Diagnostics.Append(apiErrorDiagnostic("create", "a license key for product "+productID, err))
		return
	}
	key := created.Key
	// The key is a secret from here on: keep it out of this run's logs.
	ctx = tflog.MaskLogStrings(ctx, key)
	tflog.Info(ctx, "license key created", map[string]any{"product_id": productID, "id": licenseKeyID(productID, key)})

	// In state before anything else can fail (see above): known values
	// for every computed attribute, refined by the read below.
	m := plan
	m.ID = types.StringValue(licenseKeyID(productID, key))
	m.Key = types.StringValue(key)
	m.Blocked = types.BoolValue(false)
	m.Activations = types.Int64Value(0)
	m.Activated = types.BoolNull()
	m.Customer = types.ObjectNull(customerObjectType.AttrTypes)
	if m.ExpirationDate.IsUnknown() {
		m.ExpirationDate = types.StringNull()
	}
	if m.CustomerID.IsUnknown() {
		m.CustomerID = types.StringNull()
	}
	keepTainted := func(summary string, err error) {
		resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
		resp.Diagnostics.Append(apiErrorDiagnostic(summary, m.what(), err))
		resp.Diagnostics.AddError("License key kept in state, tainted",
			fmt.Sprintf("KeyMint created %s, but a later step failed. The key is kept in state, marked tainted: the next "+
				"apply blocks it and creates a new one (or run `terraform untaint` to keep it).", m.what()))
	}

	if plan.Blocked.ValueBool() {
		if err := client.BlockKey(ctx, productID, key); err != nil {
			keepTainted("block", err)
			return
		}
		m.Blocked = types.BoolValue(true)
	}

	lic, err := client.GetKey(ctx, productID, key)
	switch {
	case keymint.IsInsufficientScope(err):
		r.data.warnCannotReadKeys(&resp.Diagnostics, err)
	case err != nil:
		keepTainted("read back", err)
		return
	default:
		if !plan.Blocked.ValueBool() {
			// A fresh key, not blocked, without devices: what get-key says
			// of it tells what this server means by "activated".
			means := activatedMeansEnabled
			if !lic.Activated {
				means = activatedMeansDevices
			}
			setPrivate(ctx, resp.Private, privateActivatedMeans, means, &resp.Diagnostics)
		}
		r.fromRead(ctx, &m, lic, &plan)
		if in.NewCustomer != nil && lic.Customer != nil {
			setPrivate(ctx, resp.Private, privateCreatedCustomer, lic.Customer.ID, &resp.Diagnostics)
		}
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}

// newCreationToken returns a random token that marks one create.
func newCreationToken() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return "tfc-" + hex.EncodeToString(b)
}

// licenseKeyID is the ID of a keymint_license_key: <product_id>/<key
// fingerprint>.
func licenseKeyID(productID, licenseKey string) string {
	return productID + "/" + keyFingerprint(productID, licenseKey)
}

// newCustomerOf reads a new_customer block; ok is false when it is absent.
func newCustomerOf(ctx context.Context, v types.Object, diags *diag.Diagnostics) (*keymint.NewCustomer, bool) {
	if v.IsNull() || v.IsUnknown() {
		return nil, false
	}
	var nc newCustomerModel
	diags.Append(v.As(ctx, &nc, objectAsOptions)...)
	return &keymint.NewCustomer{Name: nc.Name.ValueString(), Email: nc.Email.ValueString()}, true
}

// keyFormatOf reads a format block; nil when it is absent.
func keyFormatOf(ctx context.Context, v types.Object, diags *diag.Diagnostics) *keymint.KeyFormat {
	if v.IsNull() || v.IsUnknown() {
		return nil
	}
	var f keyFormatModel
	diags.Append(v.As(ctx, &f, objectAsOptions)...)
	return &keymint.KeyFormat{
		Sections:      f.Sections.ValueInt64(),
		SectionLength: f.SectionLength.ValueInt64(),
		Separator:     f.Separator.ValueStringPointer(),
		Charset:       f.Charset.ValueString(),
		Prefix:        f.Prefix.ValueString(),
		Suffix:        f.Suffix.ValueString(),
		Case:          f.Case.ValueString(),
	}
}

// fromRead copies what get-key reports into m. Where planned is not nil,
// its known values win (after apply, Terraform requires what was
// planned); a difference is logged, and the next refresh shows it.
func (r *licenseKeyResource) fromRead(ctx context.Context, m *licenseKeyModel, lic *keymint.License, planned *licenseKeyModel) {
	m.Activations = types.Int64Value(deviceCount(lic))
	m.Activated = types.BoolValue(lic.Activated)
	m.Customer = customerValue(lic.Customer)
	customerID := types.StringNull()
	if lic.Customer != nil && lic.Customer.ID != "" {
		customerID = types.StringValue(lic.Customer.ID)
	}
	expiry := types.StringNull()
	if lic.ExpirationDate != "" {
		expiry = types.StringValue(lic.ExpirationDate)
	}
	if planned == nil {
		m.MaxActivations = types.Int64PointerValue(lic.MaxActivations)
		m.CustomerID = customerID
		m.ExpirationDate = sameInstantOr(m.ExpirationDate, expiry)
		return
	}
	for _, c := range []struct {
		name      string
		plan, got attr.Value
		set       func()
	}{
		{"customer_id", planned.CustomerID, customerID, func() { m.CustomerID = customerID }},
		{"expiration_date", planned.ExpirationDate, expiry, func() { m.ExpirationDate = expiry }},
		{"max_activations", planned.MaxActivations, types.Int64PointerValue(lic.MaxActivations), func() {}},
	} {
		switch {
		case c.plan.IsUnknown():
			c.set()
		case c.name == "expiration_date" && sameInstant(planned.ExpirationDate, expiry):
		case !c.plan.Equal(c.got):
			tflog.Warn(ctx, "KeyMint reports another value than the one just written; the next refresh shows it",
				map[string]any{"attribute": c.name, "id": m.ID.ValueString()})
		}
	}
}

// sameInstant reports whether two RFC 3339 times name the same instant.
func sameInstant(a, b types.String) bool {
	if a.IsNull() || a.IsUnknown() || b.IsNull() || b.IsUnknown() {
		return false
	}
	ta, errA := time.Parse(time.RFC3339Nano, a.ValueString())
	tb, errB := time.Parse(time.RFC3339Nano, b.ValueString())
	return errA == nil && errB == nil && ta.Equal(tb)
}

// sameInstantOr keeps prior when got names the same instant (KeyMint
// answers with milliseconds and in UTC), so that no spelling of a date is
// drift; otherwise it returns got.
func sameInstantOr(prior, got types.String) types.String {
	if sameInstant(prior, got) {
		return prior
	}
	return got
}

// blockedFromRead decides from get-key whether the key is blocked, and
// learns what the server's "activated" means. KeyMint documents activated
// as "enabled, not blocked", true even without devices; two of its SDKs'
// contract samples show it false on a fresh key without devices. So:
//   - activated true: not blocked (either reading); without devices it
//     also shows the documented reading;
//   - activated false with devices: blocked (either reading);
//   - activated false without devices: blocked on a server known to use
//     the documented reading; on one known to use the other, the answer
//     says nothing, and the prior value stays; on one not known yet (an
//     imported key), the prior value stays, or the documented reading
//     holds when there is none.
func blockedFromRead(lic *keymint.License, prior types.Bool, means string) (blocked types.Bool, learnt string) {
	devices := deviceCount(lic)
	switch {
	case lic.Activated && devices == 0:
		return types.BoolValue(false), activatedMeansEnabled
	case lic.Activated:
		return types.BoolValue(false), means
	case devices > 0, means == activatedMeansEnabled:
		return types.BoolValue(true), means
	case prior.IsNull() || prior.IsUnknown():
		return types.BoolValue(true), means
	}
	return prior, means
}

// privateGetter reads private state.
type privateGetter interface {
	GetKey(ctx context.Context, key string) ([]byte, diag.Diagnostics)
}

// privateSetter writes private state.
type privateSetter interface {
	SetKey(ctx context.Context, key string, value []byte) diag.Diagnostics
}

// getPrivate reads a string from private state; "" when absent.
func getPrivate(ctx context.Context, p privateGetter, key string, diags *diag.Diagnostics) string {
	if p == nil {
		return ""
	}
	raw, d := p.GetKey(ctx, key)
	diags.Append(d...)
	var s string
	if len(raw) > 0 {
		_ = json.Unmarshal(raw, &s)
	}
	return s
}

// setPrivate writes a string to private state ("" removes it).
func setPrivate(ctx context.Context, p privateSetter, key, value string, diags *diag.Diagnostics) {
	if p == nil {
		return
	}
	var raw []byte
	if value != "" {
		raw, _ = json.Marshal(value)
	}
	diags.Append(p.SetKey(ctx, key, raw)...)
}

func (r *licenseKeyResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var state licenseKeyModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	productID, key := state.ProductID.ValueString(), state.Key.ValueString()
	ctx = tflog.MaskLogStrings(ctx, key)
	lic, err := r.data.client.GetKey(ctx, productID, key)
	switch {
	case keymint.IsInsufficientScope(err):
		r.data.warnCannotReadKeys(&resp.Diagnostics, err)
		return
	case keymint.IsLicenseNotFound(err):
		// KeyMint's own "Invalid license key", and nothing else: the key is
		// gone (keys cannot be deleted through the API, but a customer's
		// deletion takes its keys along).
		tflog.Warn(ctx, "license key no longer exists; removing it from state", map[string]any{"id": state.ID.ValueString()})
		resp.State.RemoveResource(ctx)
		return
	case err != nil:
		resp.Diagnostics.Append(apiErrorDiagnostic("read", state.what(), err))
		return
	}
	state.ID = types.StringValue(licenseKeyID(productID, key))
	r.fromRead(ctx, &state, lic, nil)
	means := getPrivate(ctx, req.Private, privateActivatedMeans, &resp.Diagnostics)
	blocked, learnt := blockedFromRead(lic, state.Blocked, means)
	state.Blocked = blocked
	if learnt != means {
		setPrivate(ctx, resp.Private, privateActivatedMeans, learnt, &resp.Diagnostics)
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
}

// ModifyPlan says what a destroy does, warns of a seat limit lowered below
// the seats in use, and plans customer_id.
func (r *licenseKeyResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if req.Plan.Raw.IsNull() {
		if req.State.Raw.IsNull() {
			return
		}
		var state licenseKeyModel
		resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
		resp.Diagnostics.AddWarning("Destroying a license key blocks it",
			fmt.Sprintf("KeyMint cannot delete license keys, so destroying %s blocks the key: it can no longer be "+
				"activated anywhere. Activations that depend on it are destroyed first and free their seats. To keep the "+
				"key, add `lifecycle { prevent_destroy = true }` to it, or remove it from state with "+
				"`terraform state rm <address>` before destroying.", state.what()))
		return
	}
	var plan, config licenseKeyModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.Config.Get(ctx, &config)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if req.State.Raw.IsNull() {
		// A new key has the customer named, the one new_customer makes
		// (known after apply), or none.
		if config.CustomerID.IsNull() && config.NewCustomer.IsNull() {
			plan.CustomerID = types.StringNull()
		}
		resp.Diagnostics.Append(resp.Plan.Set(ctx, &plan)...)
		return
	}
	var state licenseKeyModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if config.CustomerID.IsNull() {
		switch {
		case config.NewCustomer.IsUnknown() || (!config.NewCustomer.IsNull() && !config.NewCustomer.Equal(state.NewCustomer)):
			plan.CustomerID = types.StringUnknown() // another customer is made
		case !config.NewCustomer.IsNull():
			// The customer new_customer made is the key's; one moved to
			// another outside Terraform is moved back.
			plan.CustomerID = state.CustomerID
			if id := getPrivate(ctx, req.Private, privateCreatedCustomer, &resp.Diagnostics); id != "" {
				plan.CustomerID = types.StringValue(id)
			}
		default:
			plan.CustomerID = state.CustomerID
		}
	}
	if lim, used := plan.MaxActivations, state.Activations; !lim.IsNull() && !lim.IsUnknown() && !used.IsNull() && !used.IsUnknown() &&
		lim.ValueInt64() < used.ValueInt64() && !lim.Equal(state.MaxActivations) {
		resp.Diagnostics.AddAttributeWarning(path.Root("max_activations"), "Seat limit below the seats in use",
			fmt.Sprintf("max_activations of %s goes down to %d while %d devices hold seats. KeyMint accepts the lower "+
				"limit and the devices keep their seats, but no new device can be activated until %d of them are "+
				"deactivated (or the limit is raised again).", state.what(), lim.ValueInt64(), used.ValueInt64(),
				used.ValueInt64()-lim.ValueInt64()+1))
	}
	if !plan.equalArguments(state) {
		// What a read after the change reports is not known before it.
		plan.Activations = types.Int64Unknown()
		plan.Activated = types.BoolUnknown()
		plan.Customer = types.ObjectUnknown(customerObjectType.AttrTypes)
	}
	resp.Diagnostics.Append(resp.Plan.Set(ctx, &plan)...)
}

// equalArguments reports whether m and o agree on everything but the
// attributes a read reports.
func (m licenseKeyModel) equalArguments(o licenseKeyModel) bool {
	for _, p := range [][2]attr.Value{
		{m.ProductID, o.ProductID}, {m.MaxActivations, o.MaxActivations}, {m.ExpirationDate, o.ExpirationDate},
		{m.CustomerID, o.CustomerID}, {m.NewCustomer, o.NewCustomer}, {m.Metadata, o.Metadata},
		{m.Blocked, o.Blocked}, {m.Format, o.Format},
	} {
		if !p[0].Equal(p[1]) {
			return false
		}
	}
	return true
}

// Update changes the key with one update call, then blocks or unblocks it,
// then reads it back.
func (r *licenseKeyResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var plan, state, config licenseKeyModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	resp.Diagnostics.Append(req.Config.Get(ctx, &config)...)
	if resp.Diagnostics.HasError() {
		return
	}
	client := r.data.client
	productID, key := state.ProductID.ValueString(), state.Key.ValueString()
	ctx = tflog.MaskLogStrings(ctx, key)
	in := keymint.UpdateKeyInput{ProductID: productID, LicenseKey: key}
	changed := false
	if !plan.MaxActivations.Equal(state.MaxActivations) {
		in.SetMaxActivations, in.MaxActivations, changed = true, plan.MaxActivations.ValueInt64Pointer(), true
	}
	if !config.ExpirationDate.IsNull() && !sameInstant(plan.ExpirationDate, state.ExpirationDate) {
		in.ExpiryDate, changed = plan.ExpirationDate.ValueStringPointer(), true
	}
	newCustomerChanged := !plan.NewCustomer.IsNull() && !plan.NewCustomer.Equal(state.NewCustomer)
	switch {
	case newCustomerChanged:
		nc, _ := newCustomerOf(ctx, plan.NewCustomer, &resp.Diagnostics)
		in.NewCustomer, changed = nc, true
	case !plan.CustomerID.IsUnknown() && !plan.CustomerID.IsNull() && !plan.CustomerID.Equal(state.CustomerID):
		in.CustomerID, changed = plan.CustomerID.ValueStringPointer(), true
	}
	if !plan.Metadata.Equal(state.Metadata) {
		md := map[string]any{}
		for k, v := range plan.Metadata.Elements() {
			if s, ok := v.(types.String); ok {
				md[k] = s.ValueString()
			}
		}
		in.Metadata, changed = &md, true
	}
	if resp.Diagnostics.HasError() {
		return
	}
	if changed {
		if err := client.UpdateKey(ctx, in); err != nil {
			resp.Diagnostics.Append(apiErrorDiagnostic("update", state.what(), err))
			return
		}
	}
	m := plan
	m.Blocked = state.Blocked
	if !plan.Blocked.Equal(state.Blocked) {
		op, call := "unblock", client.UnblockKey
		if plan.Blocked.ValueBool() {
			op, call = "block", client.BlockKey
		}
		if err := call(ctx, productID, key); err != nil {
			// What the update call changed is in KeyMint: record it, and the
			// block state as it was.
			r.keepAfterPartialUpdate(ctx, &m, &state, resp)
			resp.Diagnostics.Append(apiErrorDiagnostic(op, state.what(), err))
			return
		}
		m.Blocked = plan.Blocked
	}
	lic, err := client.GetKeyFresh(ctx, productID, key)
	switch {
	case keymint.IsInsufficientScope(err):
		r.data.warnCannotReadKeys(&resp.Diagnostics, err)
		r.keepAfterPartialUpdate(ctx, &m, &state, nil)
	case err != nil:
		r.keepAfterPartialUpdate(ctx, &m, &state, resp)
		resp.Diagnostics.Append(apiErrorDiagnostic("read back", state.what(), err))
		return
	default:
		r.fromRead(ctx, &m, lic, &plan)
		if newCustomerChanged && lic.Customer != nil {
			setPrivate(ctx, resp.Private, privateCreatedCustomer, lic.Customer.ID, &resp.Diagnostics)
		}
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}

// keepAfterPartialUpdate makes the unknown attributes of m known from the
// prior state, and, when resp is not nil, saves m: after a failed step,
// the arguments already changed are recorded.
func (r *licenseKeyResource) keepAfterPartialUpdate(ctx context.Context, m, state *licenseKeyModel, resp *resource.UpdateResponse) {
	if m.Activations.IsUnknown() {
		m.Activations = state.Activations
	}
	if m.Activated.IsUnknown() {
		m.Activated = state.Activated
	}
	if m.Customer.IsUnknown() {
		m.Customer = state.Customer
	}
	if m.CustomerID.IsUnknown() {
		m.CustomerID = state.CustomerID
	}
	if resp != nil {
		resp.Diagnostics.Append(resp.State.Set(ctx, m)...)
	}
}

// Delete blocks the key: KeyMint cannot delete keys. It deactivates
// nothing; activations that use the key depend on it and are destroyed
// first.
func (r *licenseKeyResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var state licenseKeyModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	productID, key := state.ProductID.ValueString(), state.Key.ValueString()
	ctx = tflog.MaskLogStrings(ctx, key)
	err := r.data.client.BlockKey(ctx, productID, key)
	switch {
	case err == nil:
		tflog.Info(ctx, "license key blocked", map[string]any{"id": state.ID.ValueString()})
	case keymint.IsLicenseNotFound(err):
		tflog.Warn(ctx, "license key no longer exists; nothing to block", map[string]any{"id": state.ID.ValueString()})
	default:
		if r.blockedAlready(ctx, req.Private, productID, key, err, &resp.Diagnostics) {
			return
		}
		resp.Diagnostics.Append(apiErrorDiagnostic("block", state.what(), err))
	}
}

// blockedAlready tells whether a block that KeyMint refused left the key
// blocked all the same: blocking twice is undocumented, and a server may
// refuse the second. Only a read that shows the key blocked counts (see
// blockedFromRead).
func (r *licenseKeyResource) blockedAlready(ctx context.Context, p privateGetter, productID, key string, blockErr error, diags *diag.Diagnostics) bool {
	e, ok := keymint.AsError(blockErr)
	if !ok || !e.FromKeyMint || e.StatusCode < 400 || e.StatusCode > 499 || e.StatusCode == http.StatusTooManyRequests ||
		keymint.IsUnauthorized(blockErr) || keymint.IsInsufficientScope(blockErr) {
		return false
	}
	lic, err := r.data.client.GetKeyFresh(ctx, productID, key)
	if err != nil {
		return false
	}
	blocked, _ := blockedFromRead(lic, types.BoolNull(), getPrivate(ctx, p, privateActivatedMeans, diags))
	if blocked.ValueBool() && !lic.Activated {
		tflog.Info(ctx, "KeyMint refused to block the key, which is blocked already", map[string]any{"error": blockErr.Error()})
		return true
	}
	return false
}

// licenseKeyImportFormat describes the import ID of keymint_license_key.
const licenseKeyImportFormat = "<product_id>/<license_key>"

func (r *licenseKeyResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	productID, key, err := parseLicenseKeyImportID(req.ID)
	if err != nil {
		resp.Diagnostics.AddError("Invalid import ID", err.Error())
		return
	}
	m := licenseKeyModel{
		ID:             types.StringValue(licenseKeyID(productID, key)),
		ProductID:      types.StringValue(productID),
		Key:            types.StringValue(key),
		MaxActivations: types.Int64Null(),
		ExpirationDate: types.StringNull(),
		CustomerID:     types.StringNull(),
		NewCustomer:    types.ObjectNull(newCustomerObjectType.AttrTypes),
		Metadata:       types.MapNull(types.StringType),
		Blocked:        types.BoolNull(),
		Format:         types.ObjectNull(keyFormatObjectType.AttrTypes),
		Activations:    types.Int64Null(),
		Activated:      types.BoolNull(),
		Customer:       types.ObjectNull(customerObjectType.AttrTypes),
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}

// parseLicenseKeyImportID splits <product_id>/<license_key>. The key is the
// rest after the first slash; env:NAME takes it from the environment
// variable NAME, keeping it out of the import ID, which Terraform prints.
// Errors never repeat the ID.
func parseLicenseKeyImportID(id string) (productID, licenseKey string, err error) {
	productID, licenseKey, ok := strings.Cut(id, "/")
	switch {
	case !ok:
		return "", "", fmt.Errorf("the import ID has no \"/\"; expected the form %s (the key part may be %sNAME, naming an environment variable that holds the key)", licenseKeyImportFormat, importKeyFromEnv)
	case productID == "":
		return "", "", fmt.Errorf("the product_id part of the import ID is empty; expected the form %s", licenseKeyImportFormat)
	case licenseKey == "":
		return "", "", fmt.Errorf("the license_key part of the import ID is empty; expected the form %s", licenseKeyImportFormat)
	}
	if name, ok := strings.CutPrefix(licenseKey, importKeyFromEnv); ok {
		if name == "" {
			return "", "", fmt.Errorf("the license_key part of the import ID is %q without a variable name; write %sNAME, naming an environment variable that holds the key", importKeyFromEnv, importKeyFromEnv)
		}
		if licenseKey = os.Getenv(name); licenseKey == "" {
			return "", "", fmt.Errorf("the import ID takes the license key from the environment variable %s, which is not set or empty", name)
		}
	}
	if n := utf8.RuneCountInString(productID); n < productIDMin || n > productIDMax {
		return "", "", fmt.Errorf("the product_id part of the import ID must be %d to %d characters, got: %d", productIDMin, productIDMax, n)
	}
	if err := checkLicenseKey(licenseKey); err != nil {
		return "", "", fmt.Errorf("the license_key part of the import ID is not a usable license key: %w", err)
	}
	return productID, licenseKey, nil
}

// warnCannotReadKeys adds, once per run, the warning that the access token
// may not read the keys this resource manages.
func (d *providerData) warnCannotReadKeys(diags *diag.Diagnostics, err error) {
	if !d.warnings.first("cannot-read-keys") {
		return
	}
	diags.AddWarning("The access token cannot read license keys",
		fmt.Sprintf("KeyMint refused to read a license key with this access token because it lacks the %s scope (%s).\n\n"+
			"Keys are still created, changed and blocked, but the provider cannot see changes made outside Terraform "+
			"(no drift detection), and leaves what only a read shows (activations, activated, customer, and the expiry "+
			"KeyMint chose when expiration_date is omitted) empty. Give the token the %s scope to restore all of it.",
			keymint.ScopeLicensesRead, err, keymint.ScopeLicensesRead))
}

// rfc3339Validator checks that a string is an RFC 3339 date-time.
type rfc3339Validator struct{}

func (rfc3339Validator) Description(context.Context) string {
	return "value must be an RFC 3339 date-time such as 2030-12-31T23:59:59Z"
}

func (v rfc3339Validator) MarkdownDescription(ctx context.Context) string { return v.Description(ctx) }

func (rfc3339Validator) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	if _, err := time.Parse(time.RFC3339Nano, req.ConfigValue.ValueString()); err != nil {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid date",
			fmt.Sprintf("%s must be an RFC 3339 date-time such as 2030-12-31T23:59:59Z or 2030-12-31T23:59:59+02:00, got %q.",
				req.Path, req.ConfigValue.ValueString()))
	}
}
