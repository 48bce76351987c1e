#!/usr/bin/env bash
# Instructions per request in the HTTP load test's server
# (examples/hello_server.rs), counted by callgrind: the four variants of
# benches/http_load.sh (bare, noop, disabled, enabled; through
# `Router::layer`) and `map` (a layer whose future only wraps the route's:
# the least a layer with a future of its own costs, for reading the
# others), each started under callgrind with instrumentation off,
# warmed up by wrk, then counted only while wrk drives it for a fixed time
# over one connection, and divided by the requests wrk completed; each
# variant is counted in several interleaved rounds and its least figure
# kept. The server's start-up and
# shutdown are not counted: with them in (valgrind's plain totals), a run's
# figure moved by as much as the differences being judged, depending on
# how many requests the run happened to complete.
#
#   benches/server_instructions.sh           # 3 rounds of 4 s per variant, three builds (~3 min)
#   benches/server_instructions.sh --check   # and exit 1 if a variant is over its budget (CI)
#
# Options: --duration SECONDS (per count, default 4); --rounds N (default
# 3); --outer (the layers wrap the whole Router from outside, as the
# README shows, instead of going through Router::layer, as with
# http_load.sh --outer; `noop` is then the Router itself, served through
# `into_make_service`, and the budgets are those of `budget_outer`).
# Installs valgrind and wrk with apt-get if missing.
#
# Only user-space instructions are counted, and only inside Tokio's polls
# of tasks: a request's system calls (the socket's reads and writes, epoll)
# and the scheduler's loop are not, so these figures are not the throughput
# ratio `http_load.sh --paired` judges; they are the part of it that this
# crate's code and the layers around it decide.
#
# One connection, not several: with four, whether a connection's next
# request was already waiting when hyper read again after answering
# depended on timing, and a variant's figure moved by 30 between runs and
# more between machines (CI once read the switched-off layer at +123 where
# this machine read +87). With one, a count repeats to within a few
# instructions, and the little that timing still adds (a wake-up that
# found nothing to read) only ever adds: hence the least of the rounds.
#
# Each layer is counted in a
# build of the server that has only `bare` and that layer
# (HELLO_SERVER_ONLY), against that build's `bare`: in one binary with all
# the variants, a change to the layer's code moved every variant's count,
# `bare`'s too, by up to 100 instructions, through how the compiler inlined
# the code they share. So counted, the figures repeat to within about 15
# instructions per request.
#
# Budgets, instructions per request over the `noop` variant (tower's
# `Identity` through `Router::layer`, which costs axum's own wrapping of a
# layered route and nothing of ours), each variant over `bare` in its own
# build: the figures of BENCHMARKS.md ("Instructions per request in the
# server") with room for the compiler's choices. Raise one only with the
# reason there.
declare -A budget=(
    [disabled]=100 # +63 in V over one connection, least of 3 rounds (+87 to +123 over four connections, one round, in U and on CI): the layer switched off
    [enabled]=620  # +572 in V over one connection; +553 to +583 over four in U (T: +557 to +565; U's host matching ignores case and a trailing dot: the scan +15): 16 rules not matching, then a catch-all at 0%
)
# The same with --outer, over `noop` (the Router served through
# `into_make_service`, no layer): here the layer's future is the only one
# around the Router's, where through Router::layer axum's boxed route
# future is there whatever the layer (tower's `MapResponse`, the least a
# layer with a future costs: +66 here, +53 there).
declare -A budget_outer=(
    [disabled]=150 # +113 and +116 in W
    [enabled]=630  # +574 in W
)
set -euo pipefail
cd "$(dirname "$0")/.."

check=0 duration=4 rounds=3 outer=""
while (($#)); do
    case "$1" in
        --check) check=1 ;;
        --duration) duration="$2"; shift ;;
        --rounds) rounds="$2"; shift ;;
        --outer) outer="--outer" ;;
        -h | --help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
        *) echo "server_instructions.sh: unknown option $1" >&2; exit 2 ;;
    esac
    shift
done
for n in "$duration" "$rounds"; do
    [[ "$n" =~ ^[1-9][0-9]*$ ]] || { echo "server_instructions.sh: $n is not a positive integer" >&2; exit 2; }
done

source benches/lib.sh
need valgrind valgrind
need wrk wrk

work=$(mktemp -d -t mischief-server-instructions.XXXXXX)
server=""
stop_server() {
    [[ -n "$server" ]] || return 0
    exec 3>&-
    # Closing its stdin asks it to finish; under valgrind, give it 20 s.
    # (Killed, it prints no count, and `measure` says the run failed.)
    stop_within "$server" 200 || true
    server=""
}
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    stop_server
    rm -rf "$work"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# One build of the server per layer (HELLO_SERVER_ONLY, see
# examples/hello_server.rs): `bare` and that layer's variants only.
declare -A bin=()
for layer in noop map chaos; do
    built=$(build_hello_server "$layer${outer:+-outer}")
    cp "$built" "$work/hello_$layer"
    bin[$layer]="$work/hello_$layer"
done

# One variant in one build: prints its instructions per request. Counted
# only inside Tokio's polls of tasks (`--toggle-collect`): the connection
# task, all of hyper's, axum's and the layers' work on a request, but not
# the scheduler's loop and its waits for events, whose share per request
# depends on how many requests arrive per wake-up and moved a variant's
# figure by up to 100 from run to run.
measure() {
    local layer=$1 v=$2 addr requests collected
    exec 3> >(exec valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file=/dev/null \
        "--toggle-collect=tokio::runtime::task::raw::poll*" "${bin[$layer]}" "$v" $outer --threads 1 --max-seconds $((duration + 120)) --exit-on-eof >"$work/$v.out" 2>"$work/$v.err")
    server=$!
    if ! addr=$(server_address "$work/$v.out" "$server" 300); then
        echo "server_instructions.sh: the $v server did not start:" >&2
        cat "$work/$v.err" >&2
        return 1
    fi
    # wrk's timeout raised from 2 s: switching instrumentation on discards
    # valgrind's translated code, and the first request counted translates
    # the request path again.
    wrk -t1 -c1 -d1s --timeout 30s "http://$addr/" >/dev/null
    # (callgrind_control exits 0 even when it found no such process.)
    if ! callgrind_control --instr=on "$server" >"$work/$v.ctl" 2>&1 || grep -qi "error" "$work/$v.ctl"; then
        echo "server_instructions.sh: callgrind_control could not switch counting on in the $v server:" >&2
        cat "$work/$v.ctl" >&2
        return 1
    fi
    wrk -t1 -c1 -d"${duration}s" --timeout 30s "http://$addr/" >"$work/$v.wrk"
    callgrind_control --instr=off "$server" >/dev/null 2>&1 || true
    stop_server
    requests=$(awk '/requests in/ { print $1 }' "$work/$v.wrk")
    collected=$(awk '/Collected :/ { print $4 }' "$work/$v.err")
    if grep -q "Non-2xx\|Socket errors" "$work/$v.wrk" || ! [[ "$requests" =~ ^[1-9][0-9]*$ && "$collected" =~ ^[1-9][0-9]*$ ]]; then
        echo "server_instructions.sh: the $v run failed:" >&2
        cat "$work/$v.wrk" "$work/$v.err" >&2
        return 1
    fi
    echo $((collected / requests))
}

# Each layer's variants against `bare` in the same build; `noop`'s figure
# over its `bare` is then what axum's wrapping of a layered route costs.
# Rounds interleave the variants, so a spell of a busy machine touches one
# round of each rather than every round of one; each keeps its least.
declare -A layer_of=([noop]=noop [map]=map [disabled]=chaos [enabled]=chaos)
declare -A per=() base=() over=() seen=()
runs=("noop bare" "map bare" "chaos bare" "noop noop" "map map" "chaos disabled" "chaos enabled")
for round in $(seq "$rounds"); do
    for run in "${runs[@]}"; do
        read -r layer v <<<"$run"
        key=$layer/$v
        echo "==> round $round of $rounds: $v (the $layer build), counting for ${duration} s"
        n=$(measure "$layer" "$v")
        seen[$key]="${seen[$key]:-}${seen[$key]:+ }$n"
        if [[ -z "${per[$key]:-}" ]] || ((n < per[$key])); then per[$key]=$n; fi
    done
done
for layer in noop map chaos; do base[$layer]=${per[$layer/bare]}; done
for v in noop map disabled enabled; do
    over[$v]=$((per[${layer_of[$v]}/$v] - base[${layer_of[$v]}]))
done

failed=0
echo
for run in "${runs[@]}"; do
    read -r layer v <<<"$run"
    printf '%-22s rounds: %s\n' "$v ($layer build)" "${seen[$layer/$v]}"
done
printf '\n%-10s %14s %12s %10s %10s\n' variant "instr/request" "bare (build)" "over bare" "over noop"
for v in noop map disabled enabled; do
    over_noop=$((over[$v] - over[noop]))
    verdict=""
    if [[ -n "$outer" ]]; then limit=${budget_outer[$v]:-}; else limit=${budget[$v]:-}; fi
    if [[ -n "$limit" ]]; then
        if ((over_noop > limit)); then
            verdict="OVER BUDGET (+$limit)"
            failed=1
        else
            verdict="budget +$limit"
        fi
    fi
    printf '%-10s %14d %12d %+10d %+10d  %s\n' "$v" "${per[${layer_of[$v]}/$v]}" "${base[${layer_of[$v]}]}" "${over[$v]}" "$over_noop" "$verdict"
done
if ((check && failed)); then
    echo "server_instructions.sh: a variant is over its budget (see benches/server_instructions.sh)" >&2
    exit 1
fi
