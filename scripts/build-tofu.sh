#!/usr/bin/env bash
# Builds the OpenTofu CLI from source into the given path.
#   scripts/build-tofu.sh VERSION OUTPUT
# `go install` refuses OpenTofu (its go.mod has a replace directive), so the
# module is downloaded through the module proxy, copied somewhere writable and
# built there.
set -euo pipefail
version=$1 out=$2
echo "Building OpenTofu $version from source into $(dirname "$out") (several minutes, once)"
src=$(mktemp -d "${TMPDIR:-/tmp}/opentofu-src.XXXXXX")
trap 'chmod -R u+w "$src" 2>/dev/null; rm -rf "$src"' EXIT
# Download from an empty directory, so that no go.mod or go.sum is touched.
dir=$(cd "$src" && go mod download -json "github.com/opentofu/opentofu@v$version" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
[[ -d "$dir" ]] || { echo "could not download OpenTofu $version" >&2; exit 1; }
cp -R "$dir"/. "$src"/
chmod -R u+w "$src"
mkdir -p "$(dirname "$out")"
(cd "$src" && go build -o "$out.tmp" ./cmd/tofu)
mv "$out.tmp" "$out"
