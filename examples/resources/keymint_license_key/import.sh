# A key is imported by <product_id>/<license_key>. Terraform prints the import
# ID, so give the key part as env:NAME to read the key from the environment
# variable NAME instead of writing it out.
export KEYMINT_LICENSE_KEY="..." # the license key
terraform import keymint_license_key.staging "prod_0123456789abcdefghij/env:KEYMINT_LICENSE_KEY"
