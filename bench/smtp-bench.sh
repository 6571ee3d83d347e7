#!/usr/bin/env bash
# SMTP ingest benchmark (issue 3): smtp-source (20 sessions, 4 KiB, 10,000 messages) against
# Postern and against Debian's Postfix delivering into Debian's Dovecot through LMTP, in one
# run; prints both rates and their ratio. Runs as root (Postfix's master), on 127.0.0.1 only,
# and stops everything it started. Needs the Debian packages postfix, dovecot-core and
# dovecot-lmtpd (see .ci/run). Extra arguments go to bench/smtp-ingest.ts, e.g.
#   bench/smtp-bench.sh --messages 2000          # a shorter run
#   bench/smtp-bench.sh --only reference         # the reference stack alone
#   SKIP_BUILD=1 bench/smtp-bench.sh             # use the existing build
#   BUILD_DIR=.build/me bench/smtp-bench.sh      # build into another directory than dist/
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/bench-lib.sh
bench_need_root smtp-bench "postfix -c DIR start needs it"
bench_need_tools smtp-bench "postfix dovecot-core dovecot-lmtpd" smtp-source postfix dovecot
bench_run smtp-ingest.js "$@"
