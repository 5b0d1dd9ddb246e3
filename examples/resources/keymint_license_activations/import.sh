# The devices of a license are adopted by <product_id>/<license_key>/<device_tag>:
# every device that carries the tag becomes one of host_ids. Write * as the tag
# to adopt every device of the license, for a configuration without device_tag.
# Terraform prints the import ID, so give the key part as env:NAME to read the
# key from the environment variable NAME instead of writing it out. Imported,
# the resource has exclusive = false until the configuration says otherwise.
export KEYMINT_LICENSE_KEY="..." # the license key
terraform import keymint_license_activations.ci "prod_0123456789abcdefghij/env:KEYMINT_LICENSE_KEY/ci"
