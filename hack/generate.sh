#!/usr/bin/env bash
# Generates deepcopy functions and CRDs into OUT (default: the source tree),
# the Helm charts' copies of the CRDs: charts/azkarpenter/crds (installed
# once by Helm) and charts/azkarpenter-crd/templates (upgraded by Helm, kept
# on uninstall), docs/metrics.md from the controller's metric registry, and
# azuresim's request-body schema from the pinned Azure SDK's model types
# (hack/sdkschema).
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
chart_crds=charts/azkarpenter/crds
crd_chart=charts/azkarpenter-crd/templates
out_api=$api
out_crds=$crds
out_chart_crds=$chart_crds
out_crd_chart=$crd_chart
metrics_doc=docs/metrics.md
out_metrics_doc=$metrics_doc
sdkschema=pkg/azuresim/zz_generated.sdkschema.go
out_sdkschema=$sdkschema
if [ "$verify" = 1 ]; then
  scratch=$(mktemp -d)
  trap 'rm -rf "$scratch"' EXIT
  out_api=$scratch/api
  out_crds=$scratch/crds
  out_chart_crds=$scratch/chart-crds
  out_crd_chart=$scratch/crd-chart
  out_metrics_doc=$scratch/metrics.md
  out_sdkschema=$scratch/zz_generated.sdkschema.go
  mkdir -p "$out_api" "$out_crds"
fi

bin/controller-gen object:headerFile=hack/boilerplate.go.txt paths="./$api/..." output:object:dir="$out_api"
bin/controller-gen crd paths="./$api/..." output:crd:artifacts:config="$out_crds"
go run ./hack/crds -dir "$out_crds"

go run ./hack/sdkschema -out "$out_sdkschema"

# The charts' copies. The CRD chart's are templates Helm upgrades; each
# carries helm.sh/resource-policy: keep so that uninstalling the chart
# leaves the CRDs, and with them every NodePool, NodeClaim and node class.
rm -rf "$out_chart_crds" "$out_crd_chart"
mkdir -p "$out_chart_crds" "$out_crd_chart"
for f in "$out_crds"/*.yaml; do
  cp "$f" "$out_chart_crds/"
  sed '0,/^  annotations:$/s//  annotations:\n    helm.sh\/resource-policy: keep/' "$f" >"$out_crd_chart/$(basename "$f")"
  grep -q 'helm.sh/resource-policy: keep' "$out_crd_chart/$(basename "$f")" || { echo "$f: no metadata.annotations to add the keep policy to" >&2; exit 1; }
done

# The metrics reference, from the registry the controller's binary builds.
go run ./hack/metricsdoc -out "$out_metrics_doc"

if [ "$verify" = 1 ]; then
  stale=0
  cmp -s "$out_metrics_doc" "$metrics_doc" || { echo "stale: $metrics_doc"; stale=1; }
  for f in "$out_api"/zz_generated.deepcopy.go; do
    cmp -s "$f" "$api/$(basename "$f")" || { echo "stale: $api/$(basename "$f")"; stale=1; }
  done
  for f in "$out_crds"/*.yaml; do
    cmp -s "$f" "$crds/$(basename "$f")" || { echo "stale: $crds/$(basename "$f")"; stale=1; }
  done
  for f in "$crds"/*.yaml; do
    [ -f "$out_crds/$(basename "$f")" ] || { echo "not generated any more: $f"; stale=1; }
  done
  for pair in "$out_chart_crds:$chart_crds" "$out_crd_chart:$crd_chart"; do
    gen=${pair%%:*} committed=${pair#*:}
    for f in "$gen"/*.yaml; do
      cmp -s "$f" "$committed/$(basename "$f")" || { echo "stale: $committed/$(basename "$f")"; stale=1; }
    done
    for f in "$committed"/*.yaml; do
      [ -f "$gen/$(basename "$f")" ] || { echo "not generated any more: $f"; stale=1; }
    done
  done
  cmp -s "$out_sdkschema" "$sdkschema" || { echo "stale: $sdkschema"; stale=1; }
  if [ "$stale" = 1 ]; then
    echo "generated files are stale: run 'make generate' and commit the result" >&2
    exit 1
  fi
  echo "generated files are up to date"
fi
