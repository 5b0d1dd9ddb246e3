package provider

import (
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/terraform-plugin-framework/action"
	actionschema "github.com/hashicorp/terraform-plugin-framework/action/schema"
	"github.com/hashicorp/terraform-plugin-framework/datasource"
	dsschema "github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/provider"
	providerschema "github.com/hashicorp/terraform-plugin-framework/provider/schema"
	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	resourceschema "github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"

	"github.com/keymint-dev/terraform-provider-keymint/internal/keymint"
)

// TestDocsComplete keeps the generated docs complete by construction: every
// type and every attribute of the provider has a description, every type
// has an example in the layout tfplugindocs reads, and every importable
// resource has import examples. It needs no Terraform CLI and no TF_ACC.
func TestDocsComplete(t *testing.T) {
	problems := docsProblems(t.Context(), New("test")(), "../../examples")
	for _, p := range problems {
		t.Error(p)
	}
	if len(problems) > 0 {
		t.Logf("%d problems; each type and attribute needs a MarkdownDescription, and each type the example "+
			"files tfplugindocs reads (examples/provider/provider.tf, examples/resources/<type>/resource.tf "+
			"[+ import.sh, import-by-string-id.tf], examples/data-sources/<type>/data-source.tf, "+
			"examples/actions/<type>/action.tf)", len(problems))
	}
}

// TestDocsCompleteFindsGaps feeds the check a provider with every kind of
// gap it looks for, so that a passing TestDocsComplete means something.
func TestDocsCompleteFindsGaps(t *testing.T) {
	dir := t.TempDir()
	write := func(rel, content string) {
		t.Helper()
		file := filepath.Join(dir, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(file, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// The provider's example configures another provider.
	write("provider/provider.tf", `provider "other" {}`+"\n")
	// The importable resource has its resource.tf, but no import files.
	write("resources/gappy_widget/resource.tf", `resource "gappy_widget" "x" {}`+"\n")
	// The second resource's import example imports something else.
	write("resources/gappy_gadget/resource.tf", `resource "gappy_gadget" "x" {}`+"\n")
	write("resources/gappy_gadget/import.sh", "terraform import gappy_gadget.x some-id\n")
	write("resources/gappy_gadget/import-by-string-id.tf", "import {\n  to = gappy_widget.x\n  id = \"some-id\"\n}\n")
	// An example for a resource the provider does not have.
	write("resources/gappy_gone/resource.tf", `resource "gappy_gone" "x" {}`+"\n")
	// The data source and the action have no example at all.

	got := docsProblems(t.Context(), &gappyProvider{}, dir)
	want := []string{
		"provider gappy: attribute token has no description",
		"provider gappy: example " + filepath.Join(dir, "provider", "provider.tf") + ` has no provider "gappy" block`,
		"resource gappy_widget: attribute name has no description",
		"resource gappy_widget: attribute settings.color has no description",
		"resource gappy_widget: attribute rules.pattern has no description",
		"resource gappy_widget: block limits has no description",
		"resource gappy_widget: attribute limits.max has no description",
		"resource gappy_widget: attribute limits.window.unit has no description",
		"resource gappy_widget: attribute tags.value has no description",
		"resource gappy_widget: attribute labels.text has no description",
		"resource gappy_widget: imports, but has no example " + filepath.Join(dir, "resources", "gappy_widget", "import.sh"),
		"resource gappy_widget: imports, but has no example " + filepath.Join(dir, "resources", "gappy_widget", "import-by-string-id.tf"),
		"resource gappy_gadget: has no description",
		"resource gappy_gadget: example " + filepath.Join(dir, "resources", "gappy_gadget", "import-by-string-id.tf") + " has no import block whose to names gappy_gadget",
		"data-source gappy_info: has no description",
		"data-source gappy_info: attribute items.id has no description",
		"data-source gappy_info: has no example " + filepath.Join(dir, "data-sources", "gappy_info", "data-source.tf"),
		"action gappy_poke: attribute target has no description",
		"action gappy_poke: has no example " + filepath.Join(dir, "actions", "gappy_poke", "action.tf"),
		"examples: " + filepath.Join(dir, "resources", "gappy_gone") + " is not a resource of this provider",
	}
	for _, w := range want {
		if !slices.Contains(got, w) {
			t.Errorf("not reported: %s", w)
		}
	}
	for _, g := range got {
		if !slices.Contains(want, g) {
			t.Errorf("reported, but not expected: %s", g)
		}
	}
}

// docsProblems lists every gap in the docs of provider p whose examples are
// under examplesDir, in a stable order: a type or attribute (nested ones and
// blocks included) with neither Description nor MarkdownDescription, a type
// without its example file or whose example does not use it, an importable
// resource without import.sh and import-by-string-id.tf, and an example
// directory that names no type of the provider. The schemas are read through
// the provider server, as the docs generator reads them.
func docsProblems(ctx context.Context, p provider.Provider, examplesDir string) []string {
	var problems []string
	add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }

	var meta provider.MetadataResponse
	p.Metadata(ctx, provider.MetadataRequest{}, &meta)
	server, err := providerserver.NewProtocol6WithError(p)()
	if err != nil {
		add("provider %s: starting the provider server: %v", meta.TypeName, err)
		return problems
	}
	resp, err := server.GetProviderSchema(ctx, &tfprotov6.GetProviderSchemaRequest{})
	if err != nil {
		add("provider %s: GetProviderSchema: %v", meta.TypeName, err)
		return problems
	}
	for _, d := range resp.Diagnostics {
		if d.Severity == tfprotov6.DiagnosticSeverityError {
			add("provider %s: GetProviderSchema: %s: %s", meta.TypeName, d.Summary, d.Detail)
		}
	}

	// The provider's own schema and example.
	kind := "provider " + meta.TypeName
	if resp.Provider == nil {
		add("%s: has no schema", kind)
	} else {
		blockProblems(kind, "", resp.Provider.Block, add)
	}
	exampleProblems(kind, filepath.Join(examplesDir, "provider", "provider.tf"), "provider", meta.TypeName, add)

	// Which resources can be imported, by type name.
	importable := map[string]bool{}
	for _, newResource := range p.Resources(ctx) {
		r := newResource()
		var m resource.MetadataResponse
		r.Metadata(ctx, resource.MetadataRequest{ProviderTypeName: meta.TypeName}, &m)
		_, importable[m.TypeName] = r.(resource.ResourceWithImportState)
	}

	for _, typ := range slices.Sorted(maps.Keys(resp.ResourceSchemas)) {
		kind := "resource " + typ
		blockProblems(kind, "", resp.ResourceSchemas[typ].Block, add)
		dir := filepath.Join(examplesDir, "resources", typ)
		exampleProblems(kind, filepath.Join(dir, "resource.tf"), "resource", typ, add)
		if !importable[typ] {
			continue
		}
		if sh := filepath.Join(dir, "import.sh"); !fileExists(sh) {
			add("%s: imports, but has no example %s", kind, sh)
		}
		importTF := filepath.Join(dir, "import-by-string-id.tf")
		if !fileExists(importTF) {
			add("%s: imports, but has no example %s", kind, importTF)
			continue
		}
		if body, ok := parseExample(kind, importTF, add); ok && !importsType(body, typ) {
			add("%s: example %s has no import block whose to names %s", kind, importTF, typ)
		}
	}
	for _, typ := range slices.Sorted(maps.Keys(resp.DataSourceSchemas)) {
		kind := "data-source " + typ
		blockProblems(kind, "", resp.DataSourceSchemas[typ].Block, add)
		exampleProblems(kind, filepath.Join(examplesDir, "data-sources", typ, "data-source.tf"), "data", typ, add)
	}
	for _, typ := range slices.Sorted(maps.Keys(resp.ActionSchemas)) {
		kind := "action " + typ
		if s := resp.ActionSchemas[typ]; s == nil || s.Schema == nil {
			add("%s: has no schema", kind)
		} else {
			blockProblems(kind, "", s.Schema.Block, add)
		}
		exampleProblems(kind, filepath.Join(examplesDir, "actions", typ, "action.tf"), "action", typ, add)
	}

	// Example directories that name no type: tfplugindocs ignores them.
	for _, d := range []struct {
		sub, kind string
		known     map[string]bool
	}{
		{"resources", "resource", keySet(resp.ResourceSchemas)},
		{"data-sources", "data source", keySet(resp.DataSourceSchemas)},
		{"actions", "action", keySet(resp.ActionSchemas)},
	} {
		entries, _ := os.ReadDir(filepath.Join(examplesDir, d.sub))
		for _, e := range entries {
			if e.IsDir() && !d.known[e.Name()] {
				add("examples: %s is not a %s of this provider", filepath.Join(examplesDir, d.sub, e.Name()), d.kind)
			}
		}
	}
	return problems
}

// blockProblems reports the block itself when it lacks a description (at
// the top, the type), then its attributes, their nested attributes and its
// nested blocks, by dotted path below the type.
func blockProblems(kind, at string, b *tfprotov6.SchemaBlock, add func(string, ...any)) {
	if b == nil {
		add("%s: has no schema", kind)
		return
	}
	if strings.TrimSpace(b.Description) == "" {
		if at == "" {
			add("%s: has no description", kind)
		} else {
			add("%s: block %s has no description", kind, at)
		}
	}
	attributeProblems(kind, at, b.Attributes, add)
	for _, nb := range slices.SortedFunc(slices.Values(b.BlockTypes), func(a, b *tfprotov6.SchemaNestedBlock) int {
		return strings.Compare(a.TypeName, b.TypeName)
	}) {
		blockProblems(kind, joinPath(at, nb.TypeName), nb.Block, add)
	}
}

func attributeProblems(kind, at string, attrs []*tfprotov6.SchemaAttribute, add func(string, ...any)) {
	for _, a := range slices.SortedFunc(slices.Values(attrs), func(a, b *tfprotov6.SchemaAttribute) int {
		return strings.Compare(a.Name, b.Name)
	}) {
		name := joinPath(at, a.Name)
		if strings.TrimSpace(a.Description) == "" {
			add("%s: attribute %s has no description", kind, name)
		}
		if a.NestedType != nil {
			attributeProblems(kind, name, a.NestedType.Attributes, add)
		}
	}
}

func joinPath(at, name string) string {
	if at == "" {
		return name
	}
	return at + "." + name
}

// exampleProblems reports a missing example file, and one that has no block
// of the given kind ("resource", "data", "action", "provider") for typ.
func exampleProblems(kind, file, blockType, typ string, add func(string, ...any)) {
	if !fileExists(file) {
		add("%s: has no example %s", kind, file)
		return
	}
	body, ok := parseExample(kind, file, add)
	if !ok {
		return
	}
	for _, b := range body.Blocks {
		if b.Type == blockType && len(b.Labels) > 0 && b.Labels[0] == typ {
			return
		}
	}
	add("%s: example %s has no %s %q block", kind, file, blockType, typ)
}

// parseExample parses an example file, reporting a syntax error as a problem.
func parseExample(kind, file string, add func(string, ...any)) (*hclsyntax.Body, bool) {
	src, err := os.ReadFile(file)
	if err != nil {
		add("%s: %v", kind, err)
		return nil, false
	}
	f, diags := hclsyntax.ParseConfig(src, file, hcl.InitialPos)
	if diags.HasErrors() {
		add("%s: example %s does not parse: %s", kind, file, diags.Error())
		return nil, false
	}
	body, ok := f.Body.(*hclsyntax.Body)
	if !ok {
		add("%s: example %s is not native HCL syntax", kind, file)
	}
	return body, ok
}

// importsType reports whether body has an import block whose to is an
// instance of a resource of type typ.
func importsType(body *hclsyntax.Body, typ string) bool {
	for _, b := range body.Blocks {
		if b.Type != "import" {
			continue
		}
		to, ok := b.Body.Attributes["to"]
		if !ok {
			continue
		}
		if tr, diags := hcl.AbsTraversalForExpr(to.Expr); !diags.HasErrors() && tr.RootName() == typ {
			return true
		}
	}
	return false
}

func fileExists(file string) bool {
	st, err := os.Stat(file)
	return err == nil && st.Mode().IsRegular()
}

func keySet[V any](m map[string]V) map[string]bool {
	set := make(map[string]bool, len(m))
	for k := range m {
		set[k] = true
	}
	return set
}

// gappyProvider is a provider with every gap docsProblems looks for.
type gappyProvider struct{}

var _ provider.ProviderWithActions = (*gappyProvider)(nil)

func (*gappyProvider) Metadata(_ context.Context, _ provider.MetadataRequest, resp *provider.MetadataResponse) {
	resp.TypeName = "gappy"
}

func (*gappyProvider) Schema(_ context.Context, _ provider.SchemaRequest, resp *provider.SchemaResponse) {
	resp.Schema = providerschema.Schema{
		MarkdownDescription: "A provider with gaps.",
		Attributes: map[string]providerschema.Attribute{
			"token": providerschema.StringAttribute{Optional: true},
		},
	}
}

func (*gappyProvider) Configure(context.Context, provider.ConfigureRequest, *provider.ConfigureResponse) {
}

func (*gappyProvider) Resources(context.Context) []func() resource.Resource {
	return []func() resource.Resource{
		func() resource.Resource { return &gappyWidget{} },
		func() resource.Resource { return &gappyGadget{} },
	}
}

func (*gappyProvider) DataSources(context.Context) []func() datasource.DataSource {
	return []func() datasource.DataSource{func() datasource.DataSource { return &gappyInfo{} }}
}

func (*gappyProvider) Actions(context.Context) []func() action.Action {
	return []func() action.Action{func() action.Action { return &gappyPoke{} }}
}

// gappyResource holds the CRUD methods the fake resources share; they are
// never called.
type gappyResource struct{}

func (gappyResource) Create(context.Context, resource.CreateRequest, *resource.CreateResponse) {}
func (gappyResource) Read(context.Context, resource.ReadRequest, *resource.ReadResponse)       {}
func (gappyResource) Update(context.Context, resource.UpdateRequest, *resource.UpdateResponse) {}
func (gappyResource) Delete(context.Context, resource.DeleteRequest, *resource.DeleteResponse) {}
func (gappyResource) ImportState(context.Context, resource.ImportStateRequest, *resource.ImportStateResponse) {
}

// gappyWidget can be imported but has no import examples, and undescribed
// attributes at every depth: top level, in each kind of nested attribute,
// and in a block (itself undescribed) and a block nested in it.
type gappyWidget struct{ gappyResource }

var _ resource.ResourceWithImportState = (*gappyWidget)(nil)

func (*gappyWidget) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_widget"
}

func (*gappyWidget) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	described := resourceschema.StringAttribute{Optional: true, Description: "Described."}
	undescribed := resourceschema.StringAttribute{Optional: true}
	resp.Schema = resourceschema.Schema{
		Description: "A widget.",
		Attributes: map[string]resourceschema.Attribute{
			"id":   resourceschema.StringAttribute{Computed: true, MarkdownDescription: "Described in Markdown."},
			"name": undescribed,
			"settings": resourceschema.SingleNestedAttribute{
				Optional:    true,
				Description: "Settings.",
				Attributes:  map[string]resourceschema.Attribute{"color": undescribed, "size": described},
			},
			"rules": resourceschema.ListNestedAttribute{
				Optional:     true,
				Description:  "Rules.",
				NestedObject: resourceschema.NestedAttributeObject{Attributes: map[string]resourceschema.Attribute{"pattern": undescribed}},
			},
			"tags": resourceschema.SetNestedAttribute{
				Optional:     true,
				Description:  "Tags.",
				NestedObject: resourceschema.NestedAttributeObject{Attributes: map[string]resourceschema.Attribute{"value": undescribed}},
			},
			"labels": resourceschema.MapNestedAttribute{
				Optional:     true,
				Description:  "Labels.",
				NestedObject: resourceschema.NestedAttributeObject{Attributes: map[string]resourceschema.Attribute{"text": undescribed}},
			},
		},
		Blocks: map[string]resourceschema.Block{
			"limits": resourceschema.ListNestedBlock{
				NestedObject: resourceschema.NestedBlockObject{
					Attributes: map[string]resourceschema.Attribute{"max": undescribed},
					Blocks: map[string]resourceschema.Block{
						"window": resourceschema.SingleNestedBlock{
							Description: "Window.",
							Attributes:  map[string]resourceschema.Attribute{"unit": undescribed},
						},
					},
				},
			},
		},
	}
}

// gappyGadget has no description, and an import example for another type.
type gappyGadget struct{ gappyResource }

var _ resource.ResourceWithImportState = (*gappyGadget)(nil)

func (*gappyGadget) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_gadget"
}

func (*gappyGadget) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	resp.Schema = resourceschema.Schema{
		Attributes: map[string]resourceschema.Attribute{
			"id": resourceschema.StringAttribute{Computed: true, Description: "Described."},
		},
	}
}

// gappyInfo has no description, an undescribed nested attribute and no example.
type gappyInfo struct{}

func (*gappyInfo) Metadata(_ context.Context, req datasource.MetadataRequest, resp *datasource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_info"
}

func (*gappyInfo) Schema(_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	resp.Schema = dsschema.Schema{
		Attributes: map[string]dsschema.Attribute{
			"items": dsschema.ListNestedAttribute{
				Computed:    true,
				Description: "Items.",
				NestedObject: dsschema.NestedAttributeObject{
					Attributes: map[string]dsschema.Attribute{"id": dsschema.StringAttribute{Computed: true}},
				},
			},
		},
	}
}

func (*gappyInfo) Read(context.Context, datasource.ReadRequest, *datasource.ReadResponse) {}

// gappyPoke has an undescribed attribute and no example.
type gappyPoke struct{}

func (*gappyPoke) Metadata(_ context.Context, req action.MetadataRequest, resp *action.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_poke"
}

func (*gappyPoke) Schema(_ context.Context, _ action.SchemaRequest, resp *action.SchemaResponse) {
	resp.Schema = actionschema.Schema{
		MarkdownDescription: "Pokes.",
		Attributes: map[string]actionschema.Attribute{
			"target": actionschema.StringAttribute{Required: true},
		},
	}
}

func (*gappyPoke) Invoke(context.Context, action.InvokeRequest, *action.InvokeResponse) {}

// TestIndexCoversSettings keeps the provider's index page true: its one
// settings table is the table providerSettings renders (so docs/index.md
// is regenerated after a change), with one row per provider attribute
// naming its environment variable and default, and no other; the template
// and the README repeat none of it; and the page tells the story in the
// order users need it.
func TestIndexCoversSettings(t *testing.T) {
	index, err := os.ReadFile("../../docs/index.md")
	if err != nil {
		t.Fatal(err)
	}
	page := string(index)
	var resp provider.SchemaResponse
	New("test")().Schema(t.Context(), provider.SchemaRequest{}, &resp)

	if !strings.Contains(page, "\n"+settingsTable()+"\n") {
		t.Errorf("docs/index.md does not hold the settings table the provider declares; run `make generate`. Want:\n%s", settingsTable())
	}
	rows := settingsRows(page)
	declared := map[string]providerSetting{}
	for _, s := range providerSettings {
		declared[s.name] = s
	}
	for name := range resp.Schema.Attributes {
		row, ok := rows[name]
		s := declared[name]
		switch {
		case !ok:
			t.Errorf("docs/index.md's settings table has no row for provider attribute %s", name)
		case row[0] != "`"+s.env+"`" || row[1] != s.def:
			t.Errorf("docs/index.md's row for %s names %s, default %s; the provider reads %s, default %s", name, row[0], row[1], s.env, s.def)
		}
	}
	for name := range rows {
		if _, ok := resp.Schema.Attributes[name]; !ok {
			t.Errorf("docs/index.md's settings table has a row for %s, which is not a provider attribute", name)
		}
	}
	if len(rows) == 0 {
		t.Error("docs/index.md has no settings table")
	}

	// The template renders the table from the provider's description, and
	// the README links to it; neither has a settings row of its own.
	for file, mustHave := range map[string]string{
		"../../templates/index.md.tmpl": "{{ .Description",
		"../../README.md":               "docs/index.md#authentication-and-environment-variables",
	} {
		raw, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(raw), mustHave) {
			t.Errorf("%s lacks %q", file, mustHave)
		}
		for name := range settingsRows(string(raw)) {
			t.Errorf("%s has a settings row of its own for %s; the settings are documented in docs/index.md only", file, name)
		}
	}

	sections := []string{
		"## Example Usage",
		"## Authentication and environment variables",
		"## Freeing seats on destroy",
		"## Fleets with `for_each`",
		"### Rate limits",
		"### Access token scopes",
		"## Checking capacity before a plan",
		"## Resetting a license",
		"## Running against the bundled server in your own CI",
		"## OpenTofu",
		"## Troubleshooting",
		"## Schema",
	}
	last := -1
	for _, s := range sections {
		i := strings.Index(page, "\n"+s+"\n")
		switch {
		case i < 0:
			t.Errorf("docs/index.md has no section %q", s)
		case i < last:
			t.Errorf("docs/index.md: section %q comes too early; the order is %q", s, sections)
		default:
			last = i
		}
	}
}

// settingsRows finds the rows of settings tables in a Markdown page: the
// cells after the first of each row whose first cell is a provider
// attribute in code, keyed by that attribute.
func settingsRows(page string) map[string][]string {
	var resp provider.SchemaResponse
	New("test")().Schema(context.Background(), provider.SchemaRequest{}, &resp)
	rows := map[string][]string{}
	for line := range strings.Lines(page) {
		cells := strings.Split(strings.TrimSpace(line), "|")
		if len(cells) < 4 || cells[0] != "" {
			continue
		}
		for i := range cells {
			cells[i] = strings.TrimSpace(cells[i])
		}
		name := strings.Trim(cells[1], "`")
		if _, ok := resp.Schema.Attributes[name]; ok && cells[1] == "`"+name+"`" {
			rows[name] = cells[2:]
		}
	}
	return rows
}

// Every setting is read from the environment variable its row names: an
// invalid value there (or, for the token, none) is reported against the
// setting, naming that variable.
func TestSettingsReadTheirEnvironmentVariables(t *testing.T) {
	var null providerModel // every value null, as in an empty provider block
	for _, s := range providerSettings {
		t.Setenv(s.env, "")
	}
	for _, s := range providerSettings {
		t.Run(s.name, func(t *testing.T) {
			t.Setenv(keymint.EnvAccessToken, "at_env_token")
			bad := "not valid"
			if s.env == keymint.EnvAccessToken {
				bad = "" // the token's only invalid value is none
			}
			t.Setenv(s.env, bad)
			var diags diag.Diagnostics
			settingsFrom(null, &diags)
			found := false
			for _, d := range diags.Errors() {
				if wp, ok := d.(diag.DiagnosticWithPath); ok && wp.Path().Equal(path.Root(s.name)) && strings.Contains(d.Detail(), s.env) {
					found = true
				}
			}
			if !found {
				t.Errorf("%s=%q is not reported against %s naming the variable: %v", s.env, bad, s.name, diags)
			}
		})
	}
}
