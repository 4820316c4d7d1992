#!/usr/bin/env bash
# Generates deepcopy functions and CRDs into OUT (default: the source tree).
#
#   hack/generate.sh            regenerate in place
#   hack/generate.sh --verify   generate into a scratch copy and fail if the
#                               committed files differ (make test runs this)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

verify=0
[ "${1:-}" = "--verify" ] && verify=1

api=pkg/apis/v1beta1
crds=pkg/apis/crds
out_api=$api
out_crds=$crds
if [ "$verify" = 1 ]; then
  scratch=$(mktemp -d)
  trap 'rm -rf "$scratch"' EXIT
  out_api=$scratch/api
  out_crds=$scratch/crds
  mkdir -p "$out_api" "$out_crds"
fi

bin/controller-gen object:headerFile=hack/boilerplate.go.txt paths="./$api/..." output:object:dir="$out_api"
bin/controller-gen crd paths="./$api/..." output:crd:artifacts:config="$out_crds"
go run ./hack/crds -dir "$out_crds"

if [ "$verify" = 1 ]; then
  stale=0
  for f in "$out_api"/zz_generated.deepcopy.go; do
    cmp -s "$f" "$api/$(basename "$f")" || { echo "stale: $api/$(basename "$f")"; stale=1; }
  done
  for f in "$out_crds"/*.yaml; do
    cmp -s "$f" "$crds/$(basename "$f")" || { echo "stale: $crds/$(basename "$f")"; stale=1; }
  done
  for f in "$crds"/*.yaml; do
    [ -f "$out_crds/$(basename "$f")" ] || { echo "not generated any more: $f"; stale=1; }
  done
  if [ "$stale" = 1 ]; then
    echo "generated files are stale: run 'make generate' and commit the result" >&2
    exit 1
  fi
  echo "generated files are up to date"
fi
