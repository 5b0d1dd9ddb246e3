# Actions need Terraform 1.14 or later (OpenTofu has none yet).
terraform {
  required_version = ">= 1.14"
}

variable "product_id" {
  description = "ID of the KeyMint product the license belongs to."
  type        = string
}

variable "license_key" {
  description = "License key whose seats are freed."
  type        = string
  sensitive   = true # keeps the key out of Terraform's output
}

# Frees every seat of the license each time it is invoked, for example with
#   terraform apply -invoke=action.keymint_license_reset.ci_pool
# (Terraform 1.14 or later).
action "keymint_license_reset" "ci_pool" {
  config {
    product_id  = var.product_id
    license_key = var.license_key
  }
}
