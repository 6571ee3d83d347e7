// `postern queue list|show|retry|hold|release|delete` against a data directory whose queue was
// filled through the store (as accepted SMTP mail is), with table and JSON output, several ids
// at once, and one-line errors for bad arguments and ids not in the queue.

import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { openStore } from '../../src/app/open-store.js';
import { loadConfig } from '../../src/config/load.js';
import { messageBlobOptions } from '../../src/delivery/local.js';
import type { OutboundEnvelope } from '../../src/store/types.js';
import { fails, ok, postern, tempDir } from './cli-harness.js';

function envelope(mailFrom: string, addresses: string[]): OutboundEnvelope {
  return {
    mailFrom,
    recipients: addresses.map((address) => ({ address, notify: null, orcpt: null })),
    envid: null,
    ret: null,
    body: '7BIT',
    smtputf8: false,
    accountId: null,
  };
}

interface ListEntry {
  id: number;
  mailFrom: string;
  size: number;
  counts: Record<string, number>;
  queuedAt: string;
  nextAttemptAt: string;
}

interface Detail {
  id: number;
  attempts: number;
  recipients: Array<{ id: number; address: string; domain: string; status: string; nextAttemptAt: string }>;
}

void test('postern queue: list, show, hold, release, retry, delete, with --json and clear errors', async (t) => {
  const dir = await tempDir(t);
  ok(postern(dir, ['init', '--domain', 'example.test']));
  const config = await loadConfig(path.join(dir, 'postern.toml'));
  const { store, blobs } = await openStore(config);
  const ids: number[] = [];
  try {
    const queue = async (from: string, to: string[], text: string): Promise<void> => {
      const blob = await blobs.write(Buffer.from(text), messageBlobOptions(config.limits));
      await store.append({ blob, targets: [], outbound: envelope(from, to) });
    };
    await queue('a@example.test', ['x@one.test', 'y@two.test'], 'Subject: 1\r\n\r\none\r\n');
    await queue('', ['z@two.test'], 'Subject: 2\r\n\r\ntwo\r\n');
    await queue('b@example.test', ['w@three.test'], 'Subject: 3\r\n\r\nthree\r\n');
    ids.push(...(await store.listOutbound()).map((m) => m.id));
  } finally {
    await store.close();
  }
  const [m1, m2, m3] = ids as [number, number, number];

  // list: a table, and JSON with counts per state.
  const table = ok(postern(dir, ['queue', 'list']));
  assert.match(table, /^\s*ID\s+QUEUED\s+SIZE\s+SENDER\s+NEXT ATTEMPT\s+RECIPIENTS\n/);
  assert.match(table, new RegExp(`^\\s*${m1}\\s.*a@example\\.test\\s.*2 queued$`, 'm'));
  assert.match(table, new RegExp(`^\\s*${m2}\\s.*<>\\s.*1 queued$`, 'm'));
  const all = JSON.parse(ok(postern(dir, ['queue', 'list', '--json']))) as ListEntry[];
  assert.deepEqual(
    all.map((e) => [e.id, e.mailFrom, e.counts]),
    [
      [m1, 'a@example.test', { queued: 2, deferred: 0, delivered: 0, failed: 0, held: 0 }],
      [m2, '', { queued: 1, deferred: 0, delivered: 0, failed: 0, held: 0 }],
      [m3, 'b@example.test', { queued: 1, deferred: 0, delivered: 0, failed: 0, held: 0 }],
    ],
  );
  assert.ok(!Number.isNaN(Date.parse(all[0]!.queuedAt)));
  const listIds = (args: string[]): number[] =>
    (JSON.parse(ok(postern(dir, ['queue', 'list', '--json', ...args]))) as ListEntry[]).map((e) => e.id);
  assert.deepEqual(listIds(['--domain', 'TWO.test']), [m1, m2]);
  assert.deepEqual(listIds(['--sender', '<>']), [m2]);
  assert.deepEqual(listIds(['--limit', '1', '--after', String(m1)]), [m2]);

  // show: the message and each recipient.
  const detail = JSON.parse(ok(postern(dir, ['queue', 'show', String(m1), '--json']))) as Detail;
  assert.equal(detail.id, m1);
  assert.deepEqual(
    detail.recipients.map((r) => [r.address, r.domain, r.status]),
    [
      ['x@one.test', 'one.test', 'queued'],
      ['y@two.test', 'two.test', 'queued'],
    ],
  );
  const shown = ok(postern(dir, ['queue', 'show', String(m1)]));
  assert.match(shown, /^sender: a@example\.test$/m);
  assert.match(shown, /^\s*\d+\s+x@one\.test\s+queued\s+0\s/m);

  // hold two messages at once, then release one; retry; delete.
  assert.equal(
    ok(postern(dir, ['queue', 'hold', String(m1), String(m2)])),
    `held ${m1} (2 recipients)\nheld ${m2} (1 recipient)\n`,
  );
  assert.deepEqual(listIds(['--status', 'held']), [m1, m2]);
  assert.deepEqual(JSON.parse(ok(postern(dir, ['queue', 'release', String(m2), '--json']))), [
    { id: m2, recipients: 1 },
  ]);
  assert.deepEqual(listIds(['--status', 'held']), [m1]);
  assert.deepEqual(listIds(['--status', 'queued']), [m2, m3]);
  assert.deepEqual(JSON.parse(ok(postern(dir, ['queue', 'retry', String(m3), '--json']))), [
    { id: m3, recipients: 1 },
  ]);
  assert.deepEqual(
    JSON.parse(ok(postern(dir, ['queue', 'retry', String(m1), '--json']))),
    [{ id: m1, recipients: 0 }],
    'held: not retried',
  );
  assert.equal(ok(postern(dir, ['queue', 'delete', String(m3)])), `deleted ${m3}\n`);
  assert.deepEqual(listIds([]), [m1, m2]);

  // Errors: one line, exit 1; ids that exist are still acted on.
  const r = postern(dir, ['queue', 'delete', String(m2), String(m3)]);
  assert.equal(r.stdout, `deleted ${m2}\n`);
  assert.equal(fails(r), `error: no such queued message: ${m3}`);
  assert.deepEqual(listIds([]), [m1]);
  assert.equal(fails(postern(dir, ['queue', 'show', '999999'])), 'error: no such queued message: 999999');
  assert.match(
    fails(postern(dir, ['queue', 'show', 'abc'])),
    /^error: expected a queue id \(a positive integer\), got "abc"$/,
  );
  assert.match(fails(postern(dir, ['queue', 'hold', '0'])), /expected a queue id/);
  assert.match(
    fails(postern(dir, ['queue', 'list', '--status', 'lost'])),
    /^error: --status: expected one of queued, deferred/,
  );
  assert.match(
    fails(postern(dir, ['queue', 'list', '--limit', '0'])),
    /^error: --limit: expected an integer from 1 to 10000/,
  );
  assert.match(fails(postern(dir, ['queue', 'list', '--domain', 'bad domain'])), /not a valid domain name/);
});
