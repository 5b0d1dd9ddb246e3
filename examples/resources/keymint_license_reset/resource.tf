variable "product_id" {
  description = "ID of the KeyMint product the license belongs to."
  type        = string
}

variable "license_key" {
  description = "License key whose seats are freed."
  type        = string
  sensitive   = true
}

variable "fleet_generation" {
  type        = number
  description = "Raise it to free every seat of the license and activate the fleet afresh."
  default     = 1
}

# Frees every seat of the license when first applied, and again whenever
# fleet_generation changes. Destroying it frees nothing.
resource "keymint_license_reset" "fleet" {
  product_id  = var.product_id
  license_key = var.license_key

  triggers = {
    fleet_generation = var.fleet_generation
  }
}

# The fleet activates after the reset, and is activated again after each new
# reset: replace_triggered_by re-creates the activations the reset freed.
resource "keymint_device_activation" "fleet" {
  for_each = toset(["web-1", "web-2"])

  product_id  = var.product_id
  license_key = var.license_key
  host_id     = each.key

  depends_on = [keymint_license_reset.fleet]

  lifecycle {
    replace_triggered_by = [keymint_license_reset.fleet]
  }
}

output "seats_freed_by_last_reset" {
  value = keymint_license_reset.fleet.devices_removed
}
