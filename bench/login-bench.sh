#!/usr/bin/env bash
# IMAP login benchmark (issue 10, finding 7): L logins (default 2,000) by U users (default 100),
# each a fresh connection doing LOGIN then LOGOUT, C clients at once (default 20), against
# Postern (default scrypt cost, ln=15) and Debian's Dovecot (private instance) in one run, on
# 127.0.0.1 only. Postern is measured with its credential cache off (auth.cache_ttl = 0, every
# login runs scrypt), then with the cache on: first pass (cache cold), second pass (warm).
# Prints logins/s of each and the ratios. Runs as root (Dovecot's mail processes run as nobody)
# and stops everything it started. Needs dovecot-core and dovecot-imapd. Extra arguments go to
# bench/login-bench.ts:
#   bench/login-bench.sh --logins 500          # a shorter run
#   bench/login-bench.sh --skip nocache        # without the cache-off run (the slow one)
#   bench/login-bench.sh --only postern        # Postern alone
#   SKIP_BUILD=1 bench/login-bench.sh          # use the existing build
#   BUILD_DIR=.build/me bench/login-bench.sh   # build into another directory than dist/
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/bench-lib.sh
bench_need_root login-bench "Dovecot's mail processes run as nobody"
bench_need_tools login-bench "dovecot-core dovecot-imapd" dovecot
bench_run login-bench.js "$@"
