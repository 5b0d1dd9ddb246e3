#!/usr/bin/env bash
# Runs examples/demo against the bundled KeyMint server: builds the provider
# and the server, starts the server on a free loopback port with a 3-seat
# license, applies (three seats taken), shows the seats, destroys (three
# seats freed), shows them again and stops the server. Exits non-zero when
# any step fails.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
TERRAFORM=${TERRAFORM:-terraform}

work=$(mktemp -d "${TMPDIR:-/tmp}/keymint-demo.XXXXXX")
server_pid=""
cleanup() {
  if [[ -n "$server_pid" ]]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "Building the provider and the local server"
mkdir -p bin
go build -o bin/terraform-provider-keymint .
go build -o bin/keymint-local ./cmd/keymint-local

product=prod_demo_0123456789abcdef
license=lk_demo-ABCDE-FGHIJ-KLMNO-PQRST
token=at_demo_$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')

step "Starting keymint-local with a 3-seat license"
bin/keymint-local serve -addr 127.0.0.1:0 -addr-file "$work/addr" -state "$work/state.json" \
  -token "$token" -product "$product" -customer "Demo Builds Ltd <builds@demo.test>" -license "$license=3" \
  2>"$work/server.log" &
server_pid=$!
for _ in $(seq 1 100); do
  [[ -s "$work/addr" ]] && break
  kill -0 "$server_pid" 2>/dev/null || { cat "$work/server.log"; echo "the server did not start" >&2; exit 1; }
  sleep 0.1
done
[[ -s "$work/addr" ]] || { echo "the server did not report its address" >&2; exit 1; }
base_url=$(cat "$work/addr")
echo "listening on $base_url"

# Terraform and OpenTofu find the freshly built provider through
# dev_overrides (one entry for each CLI's default registry): no registry, no
# `init`.
cat >"$work/cli.tfrc" <<CFG
provider_installation {
  dev_overrides {
    "registry.terraform.io/keymint-dev/keymint" = "$root/bin"
    "registry.opentofu.org/keymint-dev/keymint" = "$root/bin"
  }
  direct {}
}
CFG
export TF_CLI_CONFIG_FILE="$work/cli.tfrc"
export KEYMINT_BASE_URL="$base_url" KEYMINT_ACCESS_TOKEN="$token"
export TF_VAR_product_id="$product" TF_VAR_license_key="$license"
export TF_IN_AUTOMATION=1 CHECKPOINT_DISABLE=1
cp -r examples/demo "$work/tf"

seats() {
  bin/keymint-local seats -url "$base_url" -token "$token" | tee "$work/seats.txt"
}
expect_seats() {
  if ! grep -q "$1" "$work/seats.txt"; then
    echo "expected '$1' in the seat listing" >&2
    exit 1
  fi
}

step "$(basename "$TERRAFORM") apply: activating three build agents"
"$TERRAFORM" -chdir="$work/tf" apply -auto-approve -input=false

step "Seats held on the server"
seats
expect_seats "3/3 seats in use"

step "$(basename "$TERRAFORM") destroy: freeing the seats"
"$TERRAFORM" -chdir="$work/tf" destroy -auto-approve -input=false

step "Seats held on the server"
seats
expect_seats "0/3 seats in use"

step "Done: three seats taken, and all three given back"
