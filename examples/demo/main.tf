# The demo: three build agents, each holding one seat of a 3-seat license.
# `make demo` runs it against the bundled local server; `terraform destroy`
# gives every seat back.

terraform {
  required_providers {
    keymint = {
      source  = "keymint-dev/keymint"
      version = "~> 0.1"
    }
  }
}

# Credentials come from KEYMINT_ACCESS_TOKEN and KEYMINT_BASE_URL.
provider "keymint" {}

variable "product_id" {
  description = "KeyMint product ID."
  type        = string
}

variable "license_key" {
  description = "License key to activate on the agents."
  type        = string
  sensitive   = true
}

variable "agents" {
  description = "Build agents, by host ID, with a device tag each."
  type        = map(string)
  default = {
    "build-agent-1" = "linux-amd64"
    "build-agent-2" = "linux-arm64"
    "build-agent-3" = "macos-arm64"
  }
}

# Read when Terraform plans: the seats the license has left.
data "keymint_license" "this" {
  product_id  = var.product_id
  license_key = var.license_key
}

locals {
  # Agents that already hold a seat need no new one.
  new_agents = setsubtract(keys(var.agents), data.keymint_license.this.devices[*].host_id)
}

resource "keymint_device_activation" "agent" {
  for_each = var.agents

  product_id  = var.product_id
  license_key = var.license_key
  host_id     = each.key
  device_tag  = each.value

  lifecycle {
    # Stop the plan, before any seat is taken, when the license cannot seat every agent.
    precondition {
      condition     = data.keymint_license.this.seats_available == null || try(data.keymint_license.this.seats_available >= length(local.new_agents), false)
      error_message = "The license has ${coalesce(data.keymint_license.this.seats_available, 0)} free seats, but ${length(local.new_agents)} agents need one."
    }
  }
}

output "seats_free_when_planned" {
  description = "Free seats of the license when Terraform planned (null: unlimited)."
  value       = data.keymint_license.this.seats_available
}

output "activations" {
  description = "When each agent took its seat, and from which address."
  value = {
    for host, a in keymint_device_activation.agent :
    host => "${a.activation_time} from ${a.ip_address}"
  }
}
