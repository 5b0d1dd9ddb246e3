# A fleet: one seat per host of a map. Adding a host activates it; removing
# one (or destroying the whole configuration) frees its seat.
terraform {
  required_providers {
    keymint = {
      source  = "keymint-dev/keymint"
      version = "~> 0.1"
    }
  }
}

variable "product_id" {
  type = string
}

variable "license_key" {
  type      = string
  sensitive = true
}

variable "hosts" {
  type        = map(string)
  description = "Host ID => device tag."
  default = {
    "web-1" = "frontend"
    "web-2" = "frontend"
    "db-1"  = "database"
  }
}

resource "keymint_device_activation" "fleet" {
  for_each = var.hosts

  product_id  = var.product_id
  license_key = var.license_key
  host_id     = each.key
  device_tag  = each.value
}

output "activated_hosts" {
  value = sort(keys(keymint_device_activation.fleet))
}
