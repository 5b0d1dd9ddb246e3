variable "product_id" {
  description = "ID of the KeyMint product the license belongs to."
  type        = string
}

variable "license_key" {
  description = "License key to look up."
  type        = string
  sensitive   = true
}

data "keymint_license" "this" {
  product_id  = var.product_id
  license_key = var.license_key
}

output "seats" {
  value = {
    limit     = data.keymint_license.this.max_activations # null: unlimited
    in_use    = data.keymint_license.this.activations
    available = data.keymint_license.this.seats_available # null: unlimited
    usable    = data.keymint_license.this.activated       # false: the key is blocked
    expires   = data.keymint_license.this.expiration_date
  }
}

output "hosts" {
  value = data.keymint_license.this.devices[*].host_id
}
