#!/usr/bin/env bash
# Prints the last criterion run's medians as the markdown tables of
# BENCHMARKS.md, one table per group: each id's median (and the 95%
# confidence interval of the median), its difference and ratio against the
# group's baseline id (`bare`, or `baseline` in `point`; for an id ending
# in `_2threads`, `bare_2threads`; none for the `decide_*` ids, which time
# the engine alone), and for an id ending in `_2threads`, its ratio against
# the same id on one thread. Ids come in the order the last run wrote
# them.
#
#   cargo bench --all-features --bench overhead && benches/report.sh overhead
#   benches/report.sh                  # every group under target/criterion
#
# Reads target/criterion/<group>/<id>/new/estimates.json, so the figures
# are those of the last run of each id: run a group's bench in full first
# (one process) so that its ids come from one run, as BENCHMARKS.md asks.
# Installs jq with apt-get if missing.
set -euo pipefail
cd "$(dirname "$0")/.."
source benches/lib.sh
need jq jq

root=target/criterion
case "${1:-}" in -h | --help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;; esac
if (($#)); then groups=("$@"); else
    mapfile -t groups < <(find "$root" -mindepth 1 -maxdepth 1 -type d ! -name report -printf '%f\n' 2>/dev/null | sort)
fi
((${#groups[@]})) || { echo "report.sh: no criterion results under $root; run cargo bench first" >&2; exit 1; }

# median, lower and upper bound of its interval, in ns, of group $1's id $2.
median() {
    local f="$root/$1/$2/new/estimates.json"
    [[ -f "$f" ]] || return 1
    jq -r '.median | "\(.point_estimate) \(.confidence_interval.lower_bound) \(.confidence_interval.upper_bound)"' "$f"
}

for group in "${groups[@]}"; do
    [[ -d "$root/$group" ]] || { echo "report.sh: no results for group $group under $root" >&2; exit 1; }
    # In the order the last run wrote them: the bench's own order, when the
    # group was run in full.
    mapfile -t ids < <(find "$root/$group" -mindepth 3 -maxdepth 3 -path '*/new/estimates.json' -printf '%T@ %h\n' |
        sort -n | while read -r _ dir; do basename "$(dirname "$dir")"; done)
    base=""
    for b in bare baseline; do [[ " ${ids[*]} " == *" $b "* ]] && { base=$b; break; }; done
    base_ns="" base2_ns=""
    [[ -n "$base" ]] && read -r base_ns _ < <(median "$group" "$base")
    [[ -n "$base" ]] && { read -r base2_ns _ < <(median "$group" "${base}_2threads") || true; }
    echo "### \`$group\`"
    echo
    over="over \`${base:-—}\`"
    [[ -n "$base2_ns" ]] && over="$over (two threads: \`${base}_2threads\`)"
    echo "| id | median | 95% interval | $over | ratio | two threads / one |"
    echo "|---|---|---|---|---|---|"
    for id in "${ids[@]}"; do
        read -r m lo hi < <(median "$group" "$id")
        one="" against=$base_ns
        if [[ "$id" == *_2threads ]]; then
            read -r one _ < <(median "$group" "${id%_2threads}") || true
            against=$base2_ns
        fi
        awk -v id="$id" -v m="$m" -v lo="$lo" -v hi="$hi" -v base="$against" -v isbase="$([[ $id == "$base" || $id == "${base}_2threads" || $id == decide_* ]] && echo 1)" -v one="$one" '
            function t(ns) {
                if (ns >= 1e6) return sprintf("%.2f ms", ns / 1e6)
                if (ns >= 1e3) return sprintf("%.2f µs", ns / 1e3)
                if (ns >= 10) return sprintf("%.2f ns", ns)
                return sprintf("%.3f ns", ns)
            }
            function d(ns) { return (ns >= 0 ? "+" : "−") t(ns >= 0 ? ns : -ns) }
            BEGIN {
                over = ratio = two = ""
                if (base != "" && !isbase) { over = d(m - base); ratio = sprintf("%.3f×", m / base) }
                if (one != "") two = sprintf("%.2f×", m / one)
                printf "| `%s` | %s | %s – %s | %s | %s | %s |\n", id, t(m), t(lo), t(hi), over, ratio, two
            }'
    done
    echo
done
