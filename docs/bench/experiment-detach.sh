#!/bin/bash
# Experiment: programs named in $DETACH (substrings) are detached 3 s after
# start, then the agent is stopped (kernel side only).
# Use: DETACH="tc_" DNSSEC_MONITOR_BIN=$PWD/docs/bench/experiment-detach.sh target/release/bench load --rates max
# (from the repository root, as root; DNSSEC_MONITOR_REAL overrides the daemon binary).
"${DNSSEC_MONITOR_REAL:-target/release/dnssec-monitor}" "$@" &
pid=$!
trap 'kill -CONT $pid; kill -INT $pid; wait $pid; exit 0' INT TERM
(
  sleep 3
  for want in $DETACH; do
    bpftool -j link list | jq -r '.[] | "\(.id) \(.prog_id)"' | while read -r lid prog; do
      name=$(bpftool -j prog show id "$prog" | jq -r .name)
      case "$name" in *"$want"*) bpftool link detach id "$lid" && echo "experiment: detached $name (link $lid)" >&2 ;; esac
    done
  done
  bpftool -j link list | jq -r '.[] | .prog_id' | while read -r p; do echo "experiment: still attached $(bpftool -j prog show id "$p" | jq -r .name)" >&2; done
  [ -n "$STATSOFF" ] && echo 0 > /proc/sys/kernel/bpf_stats_enabled
  [ -n "$NOSTOP" ] || kill -STOP $pid
) &
wait $pid
wait $pid
