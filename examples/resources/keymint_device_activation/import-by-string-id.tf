# The ID is <product_id>/<license_key>/<host_id>. Terraform 1.5 needs it
# written out; Terraform 1.6+ and OpenTofu also accept
# id = "${var.product_id}/${var.license_key}/build-agent-1", which keeps the key
# out of the file.
import {
  to = keymint_device_activation.build_agent
  id = "prod_0123456789abcdefghij/LK-XXXXX-XXXXX-XXXXX-XXXXX/build-agent-1"
}
