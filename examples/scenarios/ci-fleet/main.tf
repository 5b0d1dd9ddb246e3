# The seats of CI runners that come and go without Terraform: an autoscaling
# group, spot instances, runners that die. Applied on a schedule, this frees
# the seat of every runner that is gone, including runners that activated
# themselves with the "ci" tag and were never in Terraform's state, while
# devices with other tags (developers' desktops) are never touched.
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
  description = "ID of the KeyMint product the license belongs to."
  type        = string
}

variable "license_key" {
  description = "License key the runners run under."
  type        = string
  sensitive   = true
}

variable "runners" {
  description = "IDs of the runners that are up now, as the licensed software reports them as its host ID. With AWS, for example: toset(data.aws_instances.ci.ids)."
  type        = set(string)
  default     = ["runner-1", "runner-2", "runner-3"]
}

resource "keymint_license_activations" "ci" {
  product_id  = var.product_id
  license_key = var.license_key
  host_ids    = var.runners
  device_tag  = "ci"
  exclusive   = true
}

output "runner_seats" {
  description = "How many runners hold a seat."
  value       = length(keymint_license_activations.ci.host_ids)
}
