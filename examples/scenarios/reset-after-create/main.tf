# Moving to a new fleet: the old fleet's machines activated the old license
# themselves. Once the new fleet exists, every seat of the old license is
# freed. Actions need Terraform 1.14 or later.
#
# Terraform has no destroy-time trigger for actions: seats of machines that
# Terraform destroys are freed by their keymint_device_activation instead
# (see the machine-frees-seat scenario).
terraform {
  required_version = ">= 1.14"
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

variable "old_license_key" {
  type      = string
  sensitive = true
}

variable "fleet_version" {
  type    = string
  default = "2"
}

action "keymint_license_reset" "old_fleet" {
  config {
    product_id  = var.product_id
    license_key = var.old_license_key
  }
}

# Stands for the new fleet, for example an autoscaling group.
resource "terraform_data" "new_fleet" {
  input = var.fleet_version

  lifecycle {
    action_trigger {
      events  = [after_create]
      actions = [action.keymint_license_reset.old_fleet]
    }
  }
}
