# Stop the plan, before any machine is touched, when the license has too few
# free seats for the hosts that do not hold one yet.
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
  type    = set(string)
  default = ["build-1", "build-2", "build-3"]
}

data "keymint_license" "this" {
  product_id  = var.product_id
  license_key = var.license_key
}

locals {
  # Hosts that already hold a seat need no new one.
  new_hosts = setsubtract(var.hosts, data.keymint_license.this.devices[*].host_id)
  # seats_available is null for an unlimited license.
  enough_seats = data.keymint_license.this.seats_available == null || try(data.keymint_license.this.seats_available >= length(local.new_hosts), false)
}

resource "keymint_device_activation" "build" {
  for_each = var.hosts

  product_id  = var.product_id
  license_key = var.license_key
  host_id     = each.key

  lifecycle {
    precondition {
      condition     = data.keymint_license.this.activated
      error_message = "The license key is blocked in KeyMint; no host can be activated."
    }
    precondition {
      condition     = local.enough_seats
      error_message = "The license has ${coalesce(data.keymint_license.this.seats_available, 0)} free seats, but ${length(local.new_hosts)} hosts need one. Free seats or raise the license's limit first."
    }
  }
}
