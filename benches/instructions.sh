#!/usr/bin/env bash
# Instructions per call, counted by callgrind, for the services of the
# `overhead` and `peers` benches (examples/call_cost.rs): each variant runs
# N and 2N calls, and the difference over N is the cost of one call, the
# same on every run (timings on a shared VM are not). Installs valgrind with
# apt-get if it is missing.
#
#   benches/instructions.sh            # N = 10000
#   benches/instructions.sh 2000       # quicker
set -euo pipefail
cd "$(dirname "$0")/.."
n="${1:-10000}"
[[ "$n" =~ ^[1-9][0-9]*$ ]] || { echo "instructions.sh: $n is not a positive integer" >&2; exit 2; }
if ! command -v valgrind >/dev/null; then
    echo "==> installing valgrind" >&2
    if [ "$(id -u)" = 0 ]; then apt-get install -y -qq valgrind >&2; else sudo apt-get install -y -qq valgrind >&2; fi
fi
cargo build --quiet --profile bench --all-features --example call_cost
bin=target/release/examples/call_cost
count() { # variant calls -> instructions of the whole run
    valgrind --tool=callgrind --callgrind-out-file=/dev/null "$bin" "$1" "$2" 2>&1 |
        awk '/Collected/ { print $4 }'
}
printf '%-18s %12s %10s\n' variant "instr/call" "over bare"
for group in http service; do
    base=""
    for v in bare disabled pass rate0 16_rules guarded; do
        variant="${group}_$v"
        case "$variant" in http_rate0 | service_pass | service_16_rules | service_guarded) continue ;; esac
        a=$(count "$variant" "$n")
        b=$(count "$variant" $((2 * n)))
        [ -n "$a" ] && [ -n "$b" ] || { echo "instructions.sh: callgrind failed on $variant" >&2; exit 1; }
        per=$(( (b - a) / n ))
        [ -n "$base" ] || base=$per
        printf '%-18s %12d %+10d\n' "$variant" "$per" $((per - base))
    done
done
