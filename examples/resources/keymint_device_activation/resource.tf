variable "product_id" {
  description = "ID of the KeyMint product the license belongs to."
  type        = string
}

variable "license_key" {
  description = "License key to activate on the machines."
  type        = string
  sensitive   = true
}

# One seat for one machine. Destroying the resource frees the seat.
resource "keymint_device_activation" "build_agent" {
  product_id  = var.product_id
  license_key = var.license_key
  host_id     = "build-agent-1"
  device_tag  = "linux-amd64"
}

# A fleet: one activation per host, each freed when its host leaves the map.
variable "fleet" {
  description = "Host ID => device tag, one activation per host."
  type        = map(string)
  default = {
    "web-1" = "frontend"
    "web-2" = "frontend"
    "db-1"  = "database"
  }
}

resource "keymint_device_activation" "fleet" {
  for_each = var.fleet

  product_id  = var.product_id
  license_key = var.license_key
  host_id     = each.key
  device_tag  = each.value
}
