# An activation is imported by <product_id>/<license_key>/<host_id>. The host
# ID may contain slashes; the product ID and license key may not. Terraform
# prints the import ID, license key included, so run it where the output is
# not shared.
terraform import keymint_device_activation.build_agent "prod_0123456789abcdefghij/$KEYMINT_LICENSE_KEY/build-agent-1"
