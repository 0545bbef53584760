#!/bin/bash
# Profile the monitor under 16,384 q/s: own unbound on 127.54.0.1:53, perf on the monitor's pid.
set -u
D=${D:-/tmp/benchprof}; mkdir -p $D
cat > $D/unbound.conf <<EOC
server:
  interface: 127.54.0.1
  port: 53
  do-daemonize: no
  username: ""
  chroot: ""
  directory: "$D"
  pidfile: "$D/unbound.pid"
  use-syslog: no
  logfile: "$D/unbound.log"
  num-threads: 1
  do-ip6: no
  so-reuseport: no
  access-control: 127.0.0.0/8 allow
  local-zone: "." refuse
  local-zone: "bench." static
EOC
for i in $(seq 0 99); do echo "  local-data: \"h$i.bench. 3600 IN A 192.0.2.$((i%250+1))\"" >> $D/unbound.conf; echo "h$i.bench. A"; done > $D/q.txt
printf 'remote-control:\n  control-enable: no\n' >> $D/unbound.conf
unbound -d -c $D/unbound.conf > $D/unbound.out 2>&1 & UPID=$!
${BIN:-target/release/dnssec-monitor} run --output /dev/null --dns-port 53 2> $D/mon.err & MPID=$!
trap 'kill -INT $MPID 2>/dev/null; sleep 2; kill $MPID $UPID 2>/dev/null; wait' EXIT
for i in $(seq 1 100); do grep -q "capturing DNS" $D/mon.err && break; sleep 0.2; done
sleep 1
timeout 40 dnsperf -s 127.54.0.1 -p 53 -d $D/q.txt -Q 16384 -l 12 -c 1 > $D/dnsperf.out 2>&1 &
sleep 2
timeout 30 perf record -F 999 -g -p $MPID -o $D/perf.data -- sleep 8 > $D/perf-record.out 2>&1
wait %3 2>/dev/null
perf report -i $D/perf.data --stdio --no-children --sort symbol --percent-limit 1.5 -g none 2>/dev/null | grep -v "^$" | head -60 > $D/perf-top.txt
perf report -i $D/perf.data --stdio --children --sort symbol --percent-limit 5 -g none 2>/dev/null | grep -v "^$" | head -60 > $D/perf-children.txt
