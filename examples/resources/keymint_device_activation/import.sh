# An activation is imported by <product_id>/<license_key>/<host_id>. The host
# ID may contain slashes; the product ID and license key may not. Terraform
# prints the import ID, so give the key part as env:NAME to read the key from
# the environment variable NAME instead of writing it out.
export KEYMINT_LICENSE_KEY="..." # the license key
terraform import keymint_device_activation.build_agent "prod_0123456789abcdefghij/env:KEYMINT_LICENSE_KEY/build-agent-1"
