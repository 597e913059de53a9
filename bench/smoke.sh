#!/usr/bin/env bash
# bench/smoke.sh BUILD_DIR: runs bench/ratios.sh in its smoke mode (one run, a few hundred requests)
# against the build in BUILD_DIR and checks that it finished and printed its four ratio rows, so that
# the instrument cannot rot between the times someone measures with it. Measures nothing.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
out=$("$here/ratios.sh" -s "${1:?usage: bench/smoke.sh BUILD_DIR}") || { echo "$out"; echo "smoke: ratios.sh failed" >&2; exit 1; }
echo "$out"
for figure in "customer.create, 64 in flight" "customer.get, 64 in flight" \
    "customer.create, 1 in flight, p50" "agent.ping, 1 in flight, p50"; do
    grep -E "^\| $figure +\| +[0-9.]+ (req/s|ms) \|.*\| +[0-9.]+ / [0-9.]+ / [0-9.]+ \| (>=|<=) [0-9.]+ \| (met|not met) +\|$" \
        <<<"$out" >/dev/null || { echo "smoke: no row for '$figure'" >&2; exit 1; }
done
grep -q '0.00 / 0.00 / 0.00' <<<"$out" && { echo "smoke: a ratio came out as zero" >&2; exit 1; }
echo "smoke: the four rows are there"
