# Each machine's seat is bound to the machine's own ID, so destroying or
# replacing a machine frees its seat, and its replacement takes a new one.
# terraform_data stands for the machine here; with a cloud provider it would
# be, for example, host_id = aws_instance.worker[each.key].id.
terraform {
  required_providers {
    keymint = {
      source = "keymint-dev/keymint"
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

variable "workers" {
  type    = set(string)
  default = ["worker-a", "worker-b"]
}

resource "terraform_data" "worker" {
  for_each = var.workers
  input    = each.key
}

resource "keymint_device_activation" "worker" {
  for_each = terraform_data.worker

  product_id  = var.product_id
  license_key = var.license_key
  host_id     = each.value.id # the machine's ID
  device_tag  = each.key
}

output "worker_hosts" {
  value = { for name, w in keymint_device_activation.worker : name => w.host_id }
}
