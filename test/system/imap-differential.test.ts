// The IMAP differential test (issue 4): every scripted session of test/system/imap-differential
// runs against a private Debian Dovecot and against the real `postern serve`, over real
// sockets on 127.0.0.1; the answers are normalised (see imap-differential/normalise.ts) and
// compared command by command. The test accepts exactly the differences listed in
// imap-differential/accepted.ts, each by its content at the places listed (each explained in
// docs/imap.md, "Differences from Dovecot"), capability lists as sets less the capabilities
// listed there, and fails on any other difference, and on a listed one that no longer occurs. The Markdown report of
// every difference is written to $IMAP_DIFF_REPORT when set (the failure message says where).
// Needs Debian's dovecot-imapd and root (Dovecot's mail processes run as nobody).

import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { startDovecot, type DovecotInstance } from '../helpers/dovecot.js';
import { startPosternImap, type PosternImapServer } from '../helpers/postern-imap.js';
import { ACCEPTED_CAPABILITIES, ACCEPTED_DIFFERENCES } from './imap-differential/accepted.js';
import {
  dataDir,
  judgeDifferences,
  parseScript,
  renderDifferences,
  scriptNames,
  writeReport,
} from './imap-differential/differential.js';
import { allAccounts, DOVECOT_METADATA_CONFIG, runDifferential } from './imap-differential/harness.js';
import { readFileSync } from 'node:fs';

let dovecot: DovecotInstance | null = null;
let postern: PosternImapServer | null = null;

before(async () => {
  [dovecot, postern] = await Promise.all([
    startDovecot({
      users: allAccounts(),
      authPenalty: false,
      authFailureDelaySeconds: 0,
      extraConfig: DOVECOT_METADATA_CONFIG,
    }),
    startPosternImap({
      domains: ['example.test'],
      users: allAccounts().map((u) => ({ address: u.user, password: u.password })),
      // No failure delay and no ban: the scripts fail logins on purpose, from one address.
      extraToml: '[limits]\nauth_failure_delay = 0\nauth_failures_before_ban = 1000',
    }),
  ]);
});

after(async () => {
  await postern?.stop();
  await dovecot?.stop();
});

void test('the scripts hold at least 200 commands and every accepted difference names its command', () => {
  let commands = 0;
  const sources = new Map<string, string>();
  for (const name of scriptNames()) {
    for (const c of parseScript(readFileSync(path.join(dataDir(), name), 'utf8'))) {
      if (c.kind === 'sleep') continue;
      commands++;
      sources.set(`${name}:${c.line}`, c.source);
    }
  }
  assert.ok(commands >= 200, `only ${commands} commands`);
  for (const entry of ACCEPTED_DIFFERENCES) {
    assert.ok(entry.dovecot.length + entry.postern.length > 0, `${entry.name}: no content`);
    for (const [key, source] of entry.at) {
      assert.equal(
        sources.get(key),
        source,
        `accepted difference ${entry.name} at ${key} does not name its command`,
      );
    }
  }
  const capabilities = ACCEPTED_CAPABILITIES.map((c) => c.capability);
  assert.equal(new Set(capabilities).size, capabilities.length, 'a capability is listed twice');
});

void test('Postern answers every scripted command like Dovecot, except the accepted differences', async () => {
  const r = await runDifferential(dovecot!.imapPort, postern!.imapPort, {
    capabilities: ACCEPTED_CAPABILITIES,
  });
  const judgement = judgeDifferences(r.differences, ACCEPTED_DIFFERENCES);
  const staleCapabilities = ACCEPTED_CAPABILITIES.filter((c) => !r.capabilitiesSeen.has(c.capability));
  const report = renderDifferences(judgement, {
    title: `IMAP differential report: Dovecot vs Postern (${new Date().toISOString()})`,
    total: r.total,
    referenceName: 'Dovecot',
    subjectName: 'Postern',
    staleCapabilities,
  });
  // The report stays on disk only when the test fails (its path is in the failure message).
  const ownDir =
    process.env.IMAP_DIFF_REPORT === undefined
      ? await mkdtemp(path.join(os.tmpdir(), 'postern-imap-diff-'))
      : null;
  const file = process.env.IMAP_DIFF_REPORT ?? path.join(ownDir!, 'imap-differences.md');
  await writeReport(file, report);
  const unexpected = judgement.unexpected.map((d) => d.key);
  const stale = [
    ...judgement.stale.map((s) => `${s.key} (${s.name})`),
    ...staleCapabilities.map((c) => `capability ${c.capability}`),
  ];
  assert.ok(r.total >= 200, `only ${r.total} commands ran`);
  if (ownDir !== null && unexpected.length === 0 && stale.length === 0)
    await rm(ownDir, { recursive: true, force: true });
  assert.deepEqual(
    { unexpected, stale },
    { unexpected: [], stale: [] },
    `${unexpected.length} differences not accepted and ${stale.length} accepted ones not seen; report: ${file}`,
  );
});
