# The ID is <product_id>/<license_key>/<device_tag or *>; "env:NAME" as the key
# part reads the key from the environment variable NAME, which keeps it out of
# the configuration and out of Terraform's output. The devices that carry the
# tag become host_ids: the plan then shows which of them the configuration
# keeps and which it frees.
import {
  to = keymint_license_activations.ci
  id = "prod_0123456789abcdefghij/env:KEYMINT_LICENSE_KEY/ci"
}
