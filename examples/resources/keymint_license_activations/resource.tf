variable "product_id" {
  description = "ID of the KeyMint product the license belongs to."
  type        = string
}

variable "license_key" {
  description = "License key the fleet runs under."
  type        = string
  sensitive   = true
}

variable "ci_runners" {
  description = "IDs of the CI runners that are up now, from whatever lists them (a cloud provider's data source, an inventory)."
  type        = set(string)
  default     = ["runner-1", "runner-2", "runner-3"]
}

# One seat per runner. Runners that leave the set give their seat back at the
# next apply, and so does any other device tagged "ci" (exclusive): a runner
# that died without deactivating itself, say. Devices with other tags or none,
# such as developers' desktops, are never touched.
resource "keymint_license_activations" "ci" {
  product_id  = var.product_id
  license_key = var.license_key
  host_ids    = var.ci_runners
  device_tag  = "ci"
  exclusive   = true
}

output "ci_seats" {
  description = "When each runner was activated."
  value       = { for host, d in keymint_license_activations.ci.devices : host => d.activation_time }
}
