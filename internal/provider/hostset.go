package provider

import (
	"context"
	"fmt"
	"slices"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-framework/types/basetypes"
	"github.com/hashicorp/terraform-plugin-go/tftypes"
)

// hostSetType is a set of host IDs (strings) whose values compare in O(n).
//
// The framework's own set value compares sets element by element, looking
// each element up in the other set with a linear scan, and its semantic
// equality check, run on every create, read and update, does the same with
// a per-pair context and path: O(n²) for a set of n elements. For a fleet
// of 1,000 hosts that is a million comparisons per call, and the largest
// cost of a plan. hostSetValue compares through a map instead, and tells
// the framework that two equal sets are semantically equal, which ends its
// element-by-element check.
type hostSetType struct {
	basetypes.SetType
}

var (
	_ basetypes.SetTypable                    = hostSetType{}
	_ basetypes.SetValuableWithSemanticEquals = hostSetValue{}
)

// hostSetOf is the type of host_ids.
var hostSetOf = hostSetType{SetType: basetypes.SetType{ElemType: types.StringType}}

func (t hostSetType) Equal(o attr.Type) bool {
	other, ok := o.(hostSetType)
	return ok && t.SetType.Equal(other.SetType)
}

func (t hostSetType) String() string { return "hostSetType" }

func (t hostSetType) ValueFromSet(_ context.Context, in basetypes.SetValue) (basetypes.SetValuable, diag.Diagnostics) {
	return hostSetValue{SetValue: in}, nil
}

func (t hostSetType) ValueFromTerraform(ctx context.Context, in tftypes.Value) (attr.Value, error) {
	v, err := t.SetType.ValueFromTerraform(ctx, in)
	if err != nil {
		return nil, err
	}
	set, ok := v.(basetypes.SetValue)
	if !ok {
		return nil, fmt.Errorf("unexpected value type %T", v)
	}
	return hostSetValue{SetValue: set}, nil
}

// Validate checks, as the framework's set type does, that a set value holds
// no element twice, in O(n) instead of comparing every pair of elements.
// The framework validates a set on every write of the model to state.
func (t hostSetType) Validate(_ context.Context, in tftypes.Value, p path.Path) diag.Diagnostics {
	var diags diag.Diagnostics
	if in.Type() == nil || !in.IsKnown() || in.IsNull() {
		return diags
	}
	var elems []tftypes.Value
	if !in.Type().Is(tftypes.Set{}) || in.As(&elems) != nil {
		diags.AddAttributeError(p, "Set Type Validation Error",
			fmt.Sprintf("Expected a set of strings, received %s. This is always an error in the provider; please report it.", in.Type()))
		return diags
	}
	seen := make(map[string]bool, len(elems))
	for _, e := range elems {
		var s string
		if !e.IsKnown() || e.IsNull() || e.As(&s) != nil {
			continue
		}
		if seen[s] {
			diags.AddAttributeError(p, "Duplicate Set Element", fmt.Sprintf("This attribute contains duplicate values of: %q", s))
		}
		seen[s] = true
	}
	return diags
}

func (t hostSetType) ValueType(context.Context) attr.Value {
	return hostSetValue{SetValue: basetypes.NewSetNull(types.StringType)}
}

// hostSetValue is a value of hostSetType.
type hostSetValue struct {
	basetypes.SetValue
}

// hostSetNull is a null host_ids.
func hostSetNull() hostSetValue {
	return hostSetValue{SetValue: basetypes.NewSetNull(types.StringType)}
}

// hostSetUnknown is an unknown host_ids.
func hostSetUnknown() hostSetValue {
	return hostSetValue{SetValue: basetypes.NewSetUnknown(types.StringType)}
}

// newHostSet is a known host_ids holding hosts (which must be distinct).
func newHostSet(hosts []string) hostSetValue {
	elems := make([]attr.Value, len(hosts))
	for i, h := range hosts {
		elems[i] = types.StringValue(h)
	}
	return hostSetValue{SetValue: basetypes.NewSetValueMust(types.StringType, elems)}
}

func (v hostSetValue) Type(context.Context) attr.Type { return hostSetOf }

// Equal reports whether o is a host set with the same state and, when
// known, the same elements, in O(n).
func (v hostSetValue) Equal(o attr.Value) bool {
	other, ok := o.(hostSetValue)
	if !ok {
		return false
	}
	return sameHostSets(v.SetValue, other.SetValue)
}

// SetSemanticEquals reports equal sets as semantically equal, in O(n), so
// that the framework keeps the prior value without comparing element by
// element.
func (v hostSetValue) SetSemanticEquals(ctx context.Context, prior basetypes.SetValuable) (bool, diag.Diagnostics) {
	p, diags := prior.ToSetValue(ctx)
	if diags.HasError() {
		return false, diags
	}
	return sameHostSets(v.SetValue, p), diags
}

// sameHostSets compares two string sets in O(n).
func sameHostSets(a, b basetypes.SetValue) bool {
	if a.IsNull() != b.IsNull() || a.IsUnknown() != b.IsUnknown() {
		return false
	}
	if a.IsNull() || a.IsUnknown() {
		return true
	}
	ae, be := a.Elements(), b.Elements()
	if len(ae) != len(be) {
		return false
	}
	seen := make(map[elemKey]struct{}, len(ae))
	for _, e := range ae {
		seen[hostKey(e)] = struct{}{}
	}
	for _, e := range be {
		if _, ok := seen[hostKey(e)]; !ok {
			return false
		}
	}
	return true
}

// elemKey identifies a set element for sameHostSets: equal elements have
// equal keys.
type elemKey struct {
	kind byte // 'k' known string, 'u' unknown, 'n' null, '?' not a string
	s    string
}

// hostKey returns the key of a set element: the string with its state for a
// string element, and the element's text for anything else (never equal to
// a string element's key).
func hostKey(e attr.Value) elemKey {
	s, ok := e.(basetypes.StringValue)
	switch {
	case !ok:
		return elemKey{'?', e.String()}
	case s.IsUnknown():
		return elemKey{'u', ""}
	case s.IsNull():
		return elemKey{'n', ""}
	}
	return elemKey{'k', s.ValueString()}
}

// hosts returns the known, non-null elements of v, sorted, and whether
// every element is known: false when v or one of its elements is unknown.
func (v hostSetValue) hosts() ([]string, bool) {
	if v.IsUnknown() {
		return nil, false
	}
	if v.IsNull() {
		return nil, true
	}
	elems := v.Elements()
	out := make([]string, 0, len(elems))
	known := true
	for _, e := range elems {
		s, ok := e.(basetypes.StringValue)
		if !ok || s.IsUnknown() {
			known = false
			continue
		}
		if !s.IsNull() {
			out = append(out, s.ValueString())
		}
	}
	slices.Sort(out)
	return out, known
}
