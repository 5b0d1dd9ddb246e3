#!/usr/bin/env bash
# The live acceptance suite (`make testacc`) against keymint-local started as
# a separate process with the hosted service's behaviours on: a per-token
# rate limit, a "client" token that may activate but not read, only the
# /key/... paths, and a license key in a custom format of 17 characters.
# The tests are configured only through the live variables, exactly as a
# user runs them against KeyMint; afterwards the key must hold no device.
#
#   scripts/testacc-hosted.sh            one run (CLI=tofu for OpenTofu)
#   RUNS=3 scripts/testacc-hosted.sh     three runs in a row on one server
#   RATE_LIMIT=30/10s                    the server's limit per token (the suite meets it)
set -euo pipefail
cd "$(dirname "$0")/.."

runs=${RUNS:-1}
rate_limit=${RATE_LIMIT:-30/10s}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/keymint-testacc.XXXXXX")
server_pid=
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT

random() { od -An -N8 -tx1 /dev/urandom | tr -d ' \n'; }
admin=at_hosted_admin_$(random)
client=at_hosted_client_$(random)
product=prod_hosted_$(random)
key=$(random | tr 'a-f' 'A-F' | cut -c1-8)-$(random | tr 'a-f' 'A-F' | cut -c1-8) # 17 characters, as 0B4ADFD8-8C47ECD0

echo "== building keymint-local"
go build -o "$tmp/keymint-local" ./cmd/keymint-local
"$tmp/keymint-local" serve -addr 127.0.0.1:0 -addr-file "$tmp/url" \
  -token "$admin" -token "$client:licenses:activate" \
  -product "$product" -customer "Hosted Test <hosted@example.test>" -license "$key=50" \
  -api v2 -rate-limit "$rate_limit" >"$tmp/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 100); do [ -s "$tmp/url" ] && break; sleep 0.1; done
[ -s "$tmp/url" ] || { cat "$tmp/server.log"; echo "keymint-local did not start"; exit 1; }
url=$(cat "$tmp/url")
echo "== keymint-local on $url: -api v2 -rate-limit $rate_limit, an admin token and a licenses:activate token, one 50-seat key of 17 characters"

export KEYMINT_BASE_URL=$url KEYMINT_ACCESS_TOKEN=$admin KEYMINT_TEST_CLIENT_TOKEN=$client
export KEYMINT_TEST_PRODUCT_ID=$product KEYMINT_TEST_LICENSE_KEY=$key KEYMINT_TEST_ALLOW_RESET=1
unset KEYMINT_API_VERSION # the default, auto, must find the /key/... paths by itself

for run in $(seq "$runs"); do
  echo "== make testacc, run $run of $runs"
  make testacc
  seats=$("$tmp/keymint-local" seats -url "$url" -token "$admin")
  echo "$seats"
  if ! grep -Eq "^$product[[:space:]].*[[:space:]]0/[0-9]+ seats in use" <<<"$seats"; then
    echo "testacc-hosted: run $run left devices on the test key"; exit 1
  fi
  echo "== run $run: the key holds no device; the server's answers so far:"
  "$tmp/keymint-local" faults -url "$url" -token "$admin" | grep -i 'rate' || true
done
