#!/usr/bin/env bash
# POP3 download benchmark (issue 5): 20 concurrent clients, each downloading its own
# 1,000-message mailbox (RETR every message, QUIT without DELE), against Postern and against
# Debian's Dovecot (private instance, Maildir filled directly with the same messages), in one
# run; prints messages/s of each and the ratio. Runs as root (Dovecot's mail processes run as
# nobody), on 127.0.0.1 only, and stops everything it started. Needs the Debian packages
# dovecot-core and dovecot-pop3d (see .ci/run). Extra arguments go to bench/pop3-download.ts:
#   bench/pop3-bench.sh --messages 200          # a shorter run
#   bench/pop3-bench.sh --workers 2             # Postern with two worker processes
#   bench/pop3-bench.sh --only postern          # Postern alone
#   SKIP_BUILD=1 bench/pop3-bench.sh            # use the existing build
#   BUILD_DIR=.build/me bench/pop3-bench.sh     # build into another directory than dist/
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/bench-lib.sh
bench_need_root pop3-bench "Dovecot's mail processes run as nobody"
bench_need_tools pop3-bench "dovecot-core dovecot-pop3d" dovecot
bench_run pop3-download.js "$@"
