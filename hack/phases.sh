#!/usr/bin/env bash
# Runs make targets one after another, timing each, and prints the time of
# every phase at the end, also when one fails: `make test` runs its phases
# through it, so that CI's log says where the time went.
#
# Usage: hack/phases.sh target ...
set -uo pipefail

rows=()
status=0
total=$SECONDS
for phase in "$@"; do
  start=$SECONDS
  echo "==== phase $phase" >&2
  if make --no-print-directory "$phase"; then result=ok; else result=FAILED; status=1; fi
  rows+=("$(printf '%-26s %5ds  %s' "$phase" $((SECONDS - start)) "$result")")
  [ "$status" = 0 ] || break
done
echo "phase times (wall clock):"
printf '  %s\n' "${rows[@]}"
printf '  %-26s %5ds\n' total $((SECONDS - total))
exit "$status"
