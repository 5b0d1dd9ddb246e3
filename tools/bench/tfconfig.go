package bench

import (
	"fmt"
	"strings"
)

// hostID is the host ID of the i-th activation.
func hostID(i int) string { return fmt.Sprintf("bench-%d", i) }

// terraformConfig returns the root module of a run: n resources of the
// variant's kind, host i on license keys[i mod len(keys)]. keymint and noop
// get keymint_device_activation resources (for_each over the host IDs);
// terraform_data gets as many terraform_data resources with the same
// values as input.
func terraformConfig(kind Kind, product string, keys []string, n int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# %d resources of %s, written by tools/bench.\n\n", n, kind)
	if kind != KindTerraformData {
		b.WriteString(`terraform {
  required_providers {
    keymint = {
      source = "keymint-dev/keymint"
    }
  }
}

# KEYMINT_BASE_URL and KEYMINT_ACCESS_TOKEN come from the environment.
provider "keymint" {}

`)
	}
	fmt.Fprintf(&b, "locals {\n  product_id = %q\n\n  # host ID => license key\n  hosts = {\n", product)
	for i := range n {
		fmt.Fprintf(&b, "    %q = %q\n", hostID(i), keys[i%len(keys)])
	}
	b.WriteString("  }\n}\n\n")
	if kind == KindTerraformData {
		b.WriteString(`resource "terraform_data" "bench" {
  for_each = local.hosts

  input = {
    product_id  = local.product_id
    license_key = each.value
    host_id     = each.key
  }
}
`)
	} else {
		b.WriteString(`resource "keymint_device_activation" "bench" {
  for_each = local.hosts

  product_id  = local.product_id
  license_key = each.value
  host_id     = each.key
}
`)
	}
	return b.String()
}
