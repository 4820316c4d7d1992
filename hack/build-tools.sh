#!/usr/bin/env bash
# Builds the pinned tools that the project runs (control plane, kwok, helm,
# controller-gen, golangci-lint) into bin/ from the Go module proxy.
#
# Each tool set is a wrapper module under hack/tools/<set>/ whose go.mod pins
# the versions and lists the binaries as `tool` directives. A set is rebuilt
# only when its stamp (a hash of its go.mod, go.sum, build flags and the Go
# version) differs from bin/.stamps/<set>, so a warm run costs a few hashes.
#
# Each set is built with one `go build` of all its binaries, so the packages
# they share are loaded and compiled once, in parallel.
#
# BUILD_TOOLS_SKIP names binaries not to build (make test skips kubectl, which
# only people use); a later run without it builds them.
#
# Usage: hack/build-tools.sh [set ...]   (default: every set under hack/tools
# but those built on demand: govulncheck)
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
bin="$root/bin"
stamps="$bin/.stamps"
mkdir -p "$stamps"

# Extra linker flags per set. kube-apiserver built with `go build` reports
# v0.0.0-master unless the version is stamped, and clients that parse the
# server version (kubectl, client-go discovery, karpenter) then misbehave.
# The version a wrapper module pins for a dependency.
pinned() {
  (cd "$root/hack/tools/$1" && go list -m -f '{{.Version}}' "$2")
}

ldflags_for() {
  case "$1" in
    kubernetes)
      local v
      v=$(pinned kubernetes k8s.io/kubernetes)
      local minor=${v#v1.}; minor=${minor%%.*}
      echo "-s -w -X k8s.io/component-base/version.gitVersion=$v -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$minor -X k8s.io/component-base/version.gitTreeState=clean -X k8s.io/component-base/version.buildDate=1970-01-01T00:00:00Z -X k8s.io/client-go/pkg/version.gitVersion=$v -X k8s.io/client-go/pkg/version.gitMajor=1 -X k8s.io/client-go/pkg/version.gitMinor=$minor"
      ;;
    helm)
      local v
      v=$(pinned helm helm.sh/helm/v3)
      echo "-s -w -X helm.sh/helm/v3/internal/version.version=$v"
      ;;
    golangci-lint)
      local v
      v=$(pinned golangci-lint github.com/golangci/golangci-lint/v2)
      echo "-s -w -X main.version=${v#v}"
      ;;
    *) echo "-s -w" ;;
  esac
}

# The binary name for a tool package: its last path element, except where that
# is a major-version suffix (etcd's main package is go.etcd.io/etcd/server/v3).
bin_name() {
  case "$1" in
    go.etcd.io/etcd/server/*) echo etcd ;;
    *) basename "$1" ;;
  esac
}

build_set() {
  local set=$1 dir="$root/hack/tools/$1"
  [ -f "$dir/go.mod" ] || { echo "build-tools: no wrapper module hack/tools/$set" >&2; exit 1; }
  local flags stamp
  flags=$(ldflags_for "$set") || exit 1
  stamp=$( { cat "$dir/go.mod" "$dir/go.sum"; echo "$flags"; go version; } | sha256sum | cut -d' ' -f1)
  local tools pkg
  tools=$(awk '/^tool \(/{t=1;next} t&&/^\)/{t=0} t{print $1} /^tool [^(]/{print $2}' "$dir/go.mod")
  local wanted=()
  for pkg in $tools; do
    case " ${BUILD_TOOLS_SKIP:-} " in *" $(bin_name "$pkg") "*) continue ;; esac
    wanted+=("$pkg")
  done
  local missing=0
  for pkg in "${wanted[@]}"; do [ -x "$bin/$(bin_name "$pkg")" ] || missing=1; done
  if [ "$missing" = 0 ] && [ "$(cat "$stamps/$set" 2>/dev/null)" = "$stamp" ]; then
    return 0
  fi
  local start=$SECONDS
  echo "build-tools: building $set (${#wanted[@]} binaries; first build takes minutes)..." >&2
  # -trimpath keeps the binaries independent of this checkout's location.
  if [ "${#wanted[@]}" = 1 ]; then
    (cd "$dir" && CGO_ENABLED=0 GOFLAGS=-mod=readonly go build -trimpath -ldflags "$flags" -o "$bin/$(bin_name "${wanted[0]}")" "${wanted[0]}")
  else
    # One invocation for the set; each binary is named after its package.
    (cd "$dir" && CGO_ENABLED=0 GOFLAGS=-mod=readonly go build -trimpath -ldflags "$flags" -o "$bin/" "${wanted[@]}")
  fi
  # A binary left out now is removed, so that an older one cannot pass for
  # this stamp's; the run that needs it sees it missing and builds it.
  for pkg in $tools; do
    case " ${wanted[*]} " in *" $pkg "*) ;; *) rm -f "$bin/$(bin_name "$pkg")" ;; esac
  done
  echo "$stamp" > "$stamps/$set"
  echo "build-tools: $set done in $((SECONDS - start))s" >&2
}

if [ $# -eq 0 ]; then
  set -- $(cd "$root/hack/tools" && ls -d */ | tr -d / | grep -vx govulncheck)
fi
for s in "$@"; do build_set "$s"; done
