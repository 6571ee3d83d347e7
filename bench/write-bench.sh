#!/usr/bin/env bash
# IMAP write-path benchmark (issue 11): Postern and Debian's Dovecot in one run, on 127.0.0.1
# only: (a) 20 clients for 30 s on shared mailboxes, a mixed workload with STORE, COPY, MOVE,
# APPEND and EXPUNGE (commands/s, mean and p99 per command; Postern's event-loop lag and its
# fsyncs and commits per command); (b) 4,000 APPENDs by 20 clients; (c) 20,000 pipelined
# APPENDs (LITERAL+) by one client; (d) one client's sequential APPEND latency; (e) FETCH 1:*
# (FLAGS) on the 20,000 messages of (c). Prints each figure for both and the ratio; see
# bench/write-bench.ts. Runs as root (Dovecot's mail processes run as nobody) and stops
# everything it started. Needs the Debian packages dovecot-core and dovecot-imapd, and openssl.
# Extra arguments go to bench/write-bench.ts, e.g.
#   bench/write-bench.sh --duration 5 --appends 400 --pipelined 2000   # a short run
#   bench/write-bench.sh --only postern --skip b,c,e                    # Postern, (a) and (d) only
#   bench/write-bench.sh --json out.json                                # figures as JSON too
#   SKIP_BUILD=1 bench/write-bench.sh                                   # use the existing build
#   BUILD_DIR=.build/me bench/write-bench.sh                            # build into another directory
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/bench-lib.sh
bench_need_root write-bench "Dovecot's mail processes run as nobody"
bench_need_tools write-bench "dovecot-core dovecot-imapd" dovecot
bench_run write-bench.js "$@"
