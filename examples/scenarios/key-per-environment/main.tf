# One license key per environment, created with the environment and passed
# straight to its machines' activations: no key is copied by hand into a
# secret store. Destroying an environment frees its machines' seats first,
# then blocks its key (KeyMint cannot delete keys).
terraform {
  required_providers {
    keymint = {
      source  = "keymint-dev/keymint"
      version = "~> 0.1"
    }
  }
}

# The access token comes from KEYMINT_ACCESS_TOKEN (and the server from
# KEYMINT_BASE_URL, when it is not the live API).
provider "keymint" {}

variable "product_id" {
  description = "ID of the KeyMint product the keys belong to."
  type        = string
}

variable "environments" {
  description = "Environment => its seat limit and the host IDs of its machines."
  type = map(object({
    seats = number
    hosts = set(string)
  }))
  default = {
    staging    = { seats = 2, hosts = ["stg-web-1"] }
    production = { seats = 5, hosts = ["prd-web-1", "prd-web-2"] }
  }
}

# A key per environment. Its seat limit changes in place: raising it keeps
# the key, and the machines keep their seats.
resource "keymint_license_key" "env" {
  for_each = var.environments

  product_id      = var.product_id
  max_activations = each.value.seats

  metadata = {
    environment = each.key
    managed_by  = "terraform"
  }
}

locals {
  # Host ID => the environment it belongs to.
  hosts = merge([for env, e in var.environments : { for h in e.hosts : h => env }]...)
}

# Each machine holds a seat of its own environment's key. The activation
# depends on the key, so Terraform creates the key first and, on destroy,
# frees the seat before it blocks the key.
resource "keymint_device_activation" "host" {
  for_each = local.hosts

  product_id  = var.product_id
  license_key = keymint_license_key.env[each.value].key
  host_id     = each.key
  device_tag  = each.value
}

# What each environment's key holds, read after its machines are activated.
data "keymint_license" "env" {
  for_each = var.environments

  product_id  = var.product_id
  license_key = keymint_license_key.env[each.key].key
  depends_on  = [keymint_device_activation.host]
}

output "seats_in_use" {
  description = "Environment => the seats its machines hold."
  value       = { for env, l in data.keymint_license.env : env => l.activations }
}

output "key_ids" {
  description = "Environment => the key's ID in Terraform (it never holds the key)."
  value       = { for env, k in keymint_license_key.env : env => k.id }
}

# The keys are secrets: hand them to what needs them (a secret store, a
# machine's user data) through references like the one above, or through a
# sensitive output.
output "license_keys" {
  description = "Environment => its license key."
  value       = { for env, k in keymint_license_key.env : env => k.key }
  sensitive   = true
}
