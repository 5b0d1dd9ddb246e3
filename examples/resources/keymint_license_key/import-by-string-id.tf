# The ID is <product_id>/<license_key>; "env:NAME" as the key part reads the
# key from the environment variable NAME, which keeps it out of the
# configuration and out of Terraform's output.
import {
  to = keymint_license_key.staging
  id = "prod_0123456789abcdefghij/env:KEYMINT_LICENSE_KEY"
}
