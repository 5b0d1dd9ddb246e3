terraform {
  required_providers {
    keymint = {
      source  = "keymint-dev/keymint"
      version = "~> 0.1"
    }
  }
}

# The access token is best left to the KEYMINT_ACCESS_TOKEN environment
# variable, so that it never lands in version control.
provider "keymint" {
  # base_url = "https://api.keymint.dev" # or KEYMINT_BASE_URL
}
