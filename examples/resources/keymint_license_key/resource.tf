variable "product_id" {
  description = "ID of the KeyMint product to create the keys for."
  type        = string
}

# A key for the staging environment: 3 seats, expiring at the end of the
# year, for a customer KeyMint creates along with the key.
resource "keymint_license_key" "staging" {
  product_id      = var.product_id
  max_activations = 3
  expiration_date = "2030-12-31T23:59:59Z"

  new_customer {
    name  = "Staging"
    email = "staging-licenses@example.com"
  }

  metadata = {
    environment = "staging"
    managed_by  = "terraform"
  }
}

# The key goes straight to the machines that use it, in the same apply.
resource "keymint_device_activation" "staging_web" {
  product_id  = keymint_license_key.staging.product_id
  license_key = keymint_license_key.staging.key
  host_id     = "staging-web-1"
}

# A key in a format of its own, for a CI pipeline; unlimited seats, and the
# expiry KeyMint chooses (one month from creation). Set blocked = true to
# stop new activations without losing the key.
resource "keymint_license_key" "ci" {
  product_id = var.product_id
  blocked    = false

  format {
    sections       = 2
    section_length = 8
    charset        = "alphanumeric"
    prefix         = "CI-"
  }
}

# The key is a secret: keep it out of plain outputs.
output "ci_license_key" {
  value     = keymint_license_key.ci.key
  sensitive = true
}
