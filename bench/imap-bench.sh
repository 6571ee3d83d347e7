#!/usr/bin/env bash
# IMAP benchmark (issue 4): Postern and Debian's Dovecot in one run, on 127.0.0.1 only:
# (a) SELECT, UID FETCH 1:* (UID FLAGS), SEARCH SUBJECT and SEARCH BODY on a mailbox of
# 100,000 messages; (b) 20 concurrent clients running a mixed workload; (c) memory per
# connection with 5,000 connections in IDLE. Prints each figure for both and the ratio; see
# bench/imap-bench.ts. Runs as root (Dovecot's mail processes run as nobody) and stops
# everything it started. Needs the Debian packages dovecot-core and dovecot-imapd, and openssl.
# Extra arguments go to bench/imap-bench.ts, e.g.
#   bench/imap-bench.sh --messages 10000 --idle 500    # a shorter run
#   bench/imap-bench.sh --only dovecot                 # the reference alone
#   bench/imap-bench.sh --skip c --json out.json       # no idle test; figures as JSON too
#   bench/imap-bench.sh --scenario sort                # issue 13: SORT, THREAD, QRESYNC SELECT
#   SKIP_BUILD=1 bench/imap-bench.sh                   # use the existing build
#   BUILD_DIR=.build/me bench/imap-bench.sh            # build into another directory than dist/
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/bench-lib.sh
bench_need_root imap-bench "Dovecot's mail processes run as nobody"
bench_need_tools imap-bench "dovecot-core dovecot-imapd" dovecot
# 5,000 client sockets in this process and 5,000 server sockets in Postern's.
ulimit -n 20000 2>/dev/null || ulimit -n "$(ulimit -Hn)"
bench_run imap-bench.js "$@"
