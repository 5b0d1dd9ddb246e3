# Each machine's seat is bound to the machine's own ID, so destroying or
# replacing a machine frees its seat, and its replacement takes a new one.
# terraform_data stands for the machine here; with a cloud provider it would
# be, for example, host_id = aws_instance.worker[each.key].id.
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
  description = "License key the workers run under."
  type        = string
  sensitive   = true
}

variable "workers" {
  description = "Names of the worker machines; each holds one seat."
  type        = set(string)
  default     = ["worker-a", "worker-b"]
}

# The license as it is before this plan, for the capacity check below.
data "keymint_license" "this" {
  product_id  = var.product_id
  license_key = var.license_key
}

locals {
  # Workers that already hold a seat carry their name as device tag.
  tagged = [for d in data.keymint_license.this.devices : d.device_tag if d.device_tag != null]
  # Workers that will take a new seat in this apply.
  new_workers = setsubtract(var.workers, local.tagged)
}

# The machines.
resource "terraform_data" "worker" {
  for_each = var.workers
  input    = each.key
}

# One seat per machine. It depends on the machine through host_id, so
# Terraform frees the seat before it destroys the machine, and takes a new
# one after it creates a replacement.
resource "keymint_device_activation" "worker" {
  for_each = terraform_data.worker

  product_id  = var.product_id
  license_key = var.license_key
  host_id     = each.value.id # the machine's ID
  device_tag  = each.key      # the worker's name, for the capacity check

  lifecycle {
    precondition {
      condition     = data.keymint_license.this.seats_available == null || try(data.keymint_license.this.seats_available >= length(local.new_workers), false)
      error_message = "The license has ${coalesce(data.keymint_license.this.seats_available, 0)} free seats, but ${length(local.new_workers)} new workers need one. Free seats or raise the license's limit first."
    }
  }
}

output "worker_hosts" {
  description = "Worker name => the host ID that holds its seat."
  value       = { for name, w in keymint_device_activation.worker : name => w.host_id }
}
