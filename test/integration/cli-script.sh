#!/usr/bin/env bash
# The command-line walkthrough an operator would type: init, domains, users, aliases, mailbox
# status (the six default mailboxes), then the import of a 1,000-message mbox and of a small
# Maildir, after which mailbox status shows them.
#   usage: cli-script.sh WORKDIR
#   POSTERN_CLI: the CLI entry point (default: <repo>/dist/src/cli/main.js)
# Sections are marked with "== name" lines so test/integration/cli.test.ts can check each one.
set -euo pipefail

work="${1:?usage: cli-script.sh WORKDIR}"
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cli="${POSTERN_CLI:-$repo/dist/src/cli/main.js}"
postern() { node "$cli" "$@"; }

cd "$work"
unset POSTERN_CONFIG

echo "== init"
postern init --domain example.test --hostname mail.example.test
echo "== domain add"
postern domain add Example.ORG
echo "== domain list"
postern domain list
echo "== user add"
printf 'correct horse battery staple\n' | postern user add demo@example.test --password-stdin
postern user add other@example.org --password 'another secret' --quota 500M
echo "== user list"
postern user list
echo "== alias add"
postern alias add postmaster@example.test demo@example.test
postern alias add @example.org other@example.org
echo "== alias list"
postern alias list
echo "== mailbox status (new account)"
postern mailbox status demo@example.test

# 1,000 messages; each body has an mboxrd-escaped ">From " line and a "From " line that does
# not follow a blank line (so it is not a separator).
mbox="$work/archive.mbox"
: >"$mbox"
for i in $(seq 1 1000); do
  printf 'From sender%d@example.org Mon Jan  1 00:00:00 2024\nFrom: Sender %d <sender%d@example.org>\nTo: demo@example.test\nSubject: message %d\nDate: Mon, 1 Jan 2024 00:00:00 +0000\nMessage-ID: <%d@example.org>\n\nBody of message %d.\n>From here on, an escaped line.\nFrom the middle of a paragraph.\n\n' \
    "$i" "$i" "$i" "$i" "$i" "$i" >>"$mbox"
done
echo "== import mbox"
postern import demo@example.test "$mbox"

# A Maildir: two seen messages in cur/, one new one.
md="$work/Maildir"
mkdir -p "$md/cur" "$md/new" "$md/tmp"
printf 'Subject: old 1\n\nseen\n' >"$md/cur/1700000001.M1P1.host:2,S"
printf 'Subject: old 2\n\nseen and answered\n' >"$md/cur/1700000002.M2P1.host:2,RS"
printf 'Subject: new\n\nunseen\n' >"$md/new/1700000003.M3P1.host"
echo "== import maildir"
postern import demo@example.test "$md" --mailbox Archive

echo "== mailbox status (after import)"
postern mailbox status demo@example.test
echo "== mailbox status json"
postern mailbox status demo@example.test --json
