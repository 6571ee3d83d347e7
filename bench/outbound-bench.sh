#!/usr/bin/env bash
# Outbound benchmark (issue 12): 5,000 queued 5 KiB messages to 50 recipient domains, all sent
# to one loopback Postfix smtp-sink, by Postern (`postern serve`, the domains' MX records from a
# loopback DNS server) and by a private Postfix instance (transport_maps to the sink: Postfix
# skips DNS), in one run; messages per second from the first message the sink accepted to the
# last, the ratio, and Postern's event-loop lag meanwhile (GET /healthz/stats). See
# bench/outbound-bench.ts. Runs as root (Postfix's master; smtp-sink -u nobody) on 127.0.0.1
# only and stops everything it started. Needs the Debian package postfix (smtp-sink, postsuper,
# postqueue). Extra arguments go to bench/outbound-bench.ts, e.g.
#   bench/outbound-bench.sh --messages 200 --domains 10   # a short run
#   bench/outbound-bench.sh --only postern                # Postern alone
#   bench/outbound-bench.sh --signed                      # Postern DKIM-signs each message (2 keys)
#   bench/outbound-bench.sh --json out.json               # figures as JSON too
#   SKIP_BUILD=1 bench/outbound-bench.sh                  # use the existing build
#   BUILD_DIR=.build/me bench/outbound-bench.sh           # build into another directory than dist/
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/bench-lib.sh
bench_need_root outbound-bench "postfix -c DIR start needs it"
bench_need_tools outbound-bench "postfix" smtp-sink postfix postsuper postqueue
bench_run outbound-bench.js "$@"
