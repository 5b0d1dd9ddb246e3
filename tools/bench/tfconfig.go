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
// values as input. With fleet, the n hosts are instead one set of host IDs
// on keys[0], held by one keymint_license_activations (keymint, noop) or
// one terraform_data.
func terraformConfig(kind Kind, keys []string, n int, fleet bool) string {
	var b strings.Builder
	if fleet {
		fmt.Fprintf(&b, "# A fleet of %d hosts in one resource of %s, written by tools/bench.\n\n", n, kind)
	} else {
		fmt.Fprintf(&b, "# %d resources of %s, written by tools/bench.\n\n", n, kind)
	}
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
	if fleet {
		writeFleet(&b, kind, keys[0], n)
		return b.String()
	}
	fmt.Fprintf(&b, "locals {\n  product_id = %q\n\n  # host ID => license key\n  hosts = {\n", benchProduct)
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

// writeFleet writes the locals and the one resource of a fleet: a literal
// set of n host IDs (toset of a literal list, which the CLI evaluates
// once), held by keymint_license_activations or by terraform_data.
func writeFleet(b *strings.Builder, kind Kind, key string, n int) {
	fmt.Fprintf(b, "locals {\n  product_id  = %q\n  license_key = %q\n\n  host_ids = toset([\n", benchProduct, key)
	for i := range n {
		fmt.Fprintf(b, "    %q,\n", hostID(i))
	}
	b.WriteString("  ])\n}\n\n")
	if kind == KindTerraformData {
		b.WriteString(`resource "terraform_data" "bench" {
  input = {
    product_id  = local.product_id
    license_key = local.license_key
    host_ids    = local.host_ids
  }
}
`)
		return
	}
	b.WriteString(`resource "keymint_license_activations" "bench" {
  product_id  = local.product_id
  license_key = local.license_key
  host_ids    = local.host_ids
}
`)
}
