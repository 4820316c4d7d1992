#!/usr/bin/env bash
# Prints the package directories (./pkg/x/...) whose Go files differ from
# the merge base with BASE (default main), committed or not: what `make
# check` lints. Prints nothing when no Go file changed.
set -euo pipefail
base=${BASE:-main}
root=$(git rev-parse --show-toplevel)
cd "$root"
from=$(git merge-base HEAD "$base" 2>/dev/null || echo HEAD)
{ git diff --name-only "$from" -- '*.go'; git ls-files --others --exclude-standard -- '*.go'; } |
  while read -r f; do [ -f "$f" ] && echo "./$(dirname "$f")"; done | sort -u
