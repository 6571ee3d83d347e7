// The differential harness itself: the response framing of ImapRawClient over a real loopback
// socket (literals, {0}, every split of the bytes), the normalisation rules, and the script
// parser. Needs no Dovecot: a failure here is a harness bug, not a server difference.

import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';
import { ImapRawClient } from '../helpers/imap-raw-client.js';
import {
  commandParts,
  compareAnswers,
  judgeDifferences,
  parseScript,
  type AcceptedDifference,
  type CommandAnswer,
} from './imap-differential/differential.js';
import { normaliseAnswer, normaliseLine } from './imap-differential/normalise.js';

const NOW = Date.UTC(2026, 0, 1);

/** A server that greets, then answers the first command with `reply` cut into `chunks` pieces. */
async function scriptedServer(
  reply: Buffer,
  cut: number[],
): Promise<{ port: number; close(): Promise<void> }> {
  const server = net.createServer((sock) => {
    sock.write('* OK ready\r\n');
    sock.once('data', () => {
      let at = 0;
      for (const c of [...cut, reply.length]) {
        sock.write(reply.subarray(at, c));
        at = c;
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

void test('ImapRawClient frames literals (including {0}) whatever the split of the bytes', async () => {
  const reply = Buffer.from(
    '* 1 FETCH (BODY[] {5}\r\nab\r\nc UID 1)\r\n* 2 FETCH (BODY[] {0}\r\n)\r\n' +
      '* 3 FETCH (BODY[] {3+}\r\nA01 X)\r\nA0001 OK done\r\n',
  );
  const want = [
    '* 1 FETCH (BODY[] {5}\r\nab\r\nc UID 1)',
    '* 2 FETCH (BODY[] {0}\r\n)',
    '* 3 FETCH (BODY[] {3+}\r\nA01 X)',
  ];
  // Every split into two pieces, plus one byte at a time.
  const cuts: number[][] = [];
  for (let i = 1; i < reply.length; i++) cuts.push([i]);
  cuts.push(Array.from({ length: reply.length - 1 }, (_, i) => i + 1));
  for (const cut of cuts) {
    const srv = await scriptedServer(reply, cut);
    const c = await ImapRawClient.connect(srv.port);
    const r = await c.command('FETCH 1:3 BODY[]', { timeoutMs: 5000 });
    assert.deepEqual(r.lines, want, `split at ${cut.join(',')}`);
    assert.equal(r.tagged, 'A0001 OK done');
    c.socket.destroy();
    await srv.close();
  }
});

void test('normalisation keeps what matters and folds what the RFCs leave open', () => {
  assert.equal(normaliseLine('A1 OK [READ-WRITE] Select completed (0.001 secs).', NOW), 'A1 OK [READ-WRITE]');
  assert.equal(normaliseLine('* OK [UIDVALIDITY 1795776989] UIDs valid', NOW), '* OK [UIDVALIDITY *]');
  assert.equal(normaliseLine('A2 OK [APPENDUID 17 3] done', NOW), 'A2 OK [APPENDUID * 3]');
  // Capability lists are sets: order and case do not matter, their content does.
  assert.equal(normaliseLine('* CAPABILITY IMAP4rev1 IDLE', NOW), '* CAPABILITY IDLE IMAP4REV1');
  assert.equal(
    normaliseLine('A1 OK [CAPABILITY idle IMAP4rev1 IDLE] Logged in', NOW),
    'A1 OK [CAPABILITY IDLE IMAP4REV1]',
  );
  assert.notEqual(
    normaliseLine('* CAPABILITY IMAP4rev1 IDLE', NOW),
    normaliseLine('* CAPABILITY IMAP4rev1', NOW),
  );
  assert.equal(
    normaliseLine('* 1 FETCH (UID 4 FLAGS (\\Seen \\Answered) BODY[] {2}\r\nhi)', NOW),
    '* 1 FETCH (BODY[] "hi" FLAGS (\\Answered \\Seen) UID 4)',
  );
  assert.equal(
    normaliseLine('* 1 FETCH (INTERNALDATE "15-Jan-2024 09:30:00 +0100")', NOW),
    '* 1 FETCH (INTERNALDATE "2024-01-15T08:30:00.000Z")',
  );
  assert.equal(
    normaliseLine('* LIST (\\Sent \\HasNoChildren) "/" Sent', NOW),
    '* LIST (\\HasNoChildren \\Sent) "/" "Sent"',
  );
  assert.equal(normaliseLine('* SEARCH 3 1 2', NOW), '* SEARCH 1 2 3');
  assert.equal(
    normaliseLine('* ESEARCH (TAG "A1") UID COUNT 3 ALL 1:3', NOW),
    '* ESEARCH (TAG "A1") UID ALL 1,2,3 COUNT 3',
  );
  assert.equal(
    normaliseLine('* 1 FETCH (BODYSTRUCTURE ("text" "plain" NIL NIL NIL "7bit" 3 1))', NOW),
    '* 1 FETCH (BODYSTRUCTURE ("TEXT" "PLAIN" NIL NIL NIL "7BIT" 3 1))',
  );
  // A different value is still a difference.
  assert.notEqual(
    normaliseLine('* 1 FETCH (FLAGS (\\Seen))', NOW),
    normaliseLine('* 1 FETCH (FLAGS ())', NOW),
  );
  // The same expunged messages, announced in two orders.
  assert.deepEqual(
    normaliseAnswer(['* 4 EXPUNGE', '* 3 EXPUNGE', '* 1 EXPUNGE', 'A1 OK'], NOW),
    normaliseAnswer(['* 1 EXPUNGE', '* 2 EXPUNGE', '* 2 EXPUNGE', 'A1 OK'], NOW),
  );
  assert.notDeepEqual(
    normaliseAnswer(['* 1 EXPUNGE', '* 1 EXPUNGE', 'A1 OK'], NOW),
    normaliseAnswer(['* 1 EXPUNGE', '* 2 EXPUNGE', 'A1 OK'], NOW),
  );
});

void test('scripts: connections, continuations, raw lines and literals', () => {
  const cmds = parseScript('# c\nLOGIN a b\n@2 IDLE\n>> DONE\n!raw x1 NOOP\n!sleep 10\n');
  assert.deepEqual(
    cmds.map((c) => [c.line, c.conn, c.kind, c.source, c.continuations]),
    [
      [2, 1, 'command', 'LOGIN a b', []],
      [3, 2, 'command', 'IDLE', ['DONE']],
      [5, 1, 'raw', 'x1 NOOP', []],
      [6, 1, 'sleep', '10', []],
    ],
  );
  const parts = commandParts('CREATE {{lit:a\\r\\nb\\x00}} x');
  assert.equal(parts.length, 3);
  assert.deepEqual(parts[1], { literal: Buffer.from('a\r\nb\0', 'latin1') });
});

function answer(key: string, lines: string[]): CommandAnswer {
  return { key, source: 'NOOP', raw: lines, normalised: normaliseAnswer(lines, NOW) };
}

void test('capabilities only one server announces are accepted by name, the rest compared as a set', () => {
  const caps = [
    { capability: 'SORT', only: 'dovecot' as const, reason: 'r' },
    { capability: 'IMAP4REV2', only: 'postern' as const, reason: 'r' },
  ];
  const dovecot = [answer('s:1', ['* CAPABILITY IMAP4rev1 SORT IDLE', 'A1 OK done'])];
  const same = compareAnswers(
    dovecot,
    [answer('s:1', ['* CAPABILITY IDLE IMAP4rev2 IMAP4rev1', 'A1 OK'])],
    caps,
  );
  assert.deepEqual(same.differences, []);
  assert.deepEqual([...same.capabilitiesSeen].sort(), ['IMAP4REV2', 'SORT']);
  // A capability missing on the Postern side, or one listed as Dovecot's only, is a difference.
  for (const postern of ['* CAPABILITY IMAP4rev1 IMAP4rev2', '* CAPABILITY IMAP4rev1 IDLE SORT']) {
    const c = compareAnswers(dovecot, [answer('s:1', [postern, 'A1 OK'])], caps);
    assert.equal(c.differences.length, 1, postern);
  }
  // Nothing seen when neither server announced the listed capabilities.
  const none = compareAnswers(
    [answer('s:1', ['* CAPABILITY IDLE', 'A1 OK'])],
    [answer('s:1', ['* CAPABILITY IDLE', 'A1 OK'])],
    caps,
  );
  assert.equal(none.capabilitiesSeen.size, 0);
});

void test('an accepted difference is accepted by its content only, at its own places', () => {
  const recent: AcceptedDifference = {
    name: 'RECENT repeated',
    reason: 'r',
    dovecot: [],
    postern: ['* 2 RECENT'],
    at: [
      ['s:1', 'NOOP'],
      ['s:9', 'NOOP'],
    ],
  };
  const dovecot = answer('s:1', ['* 3 EXISTS', 'A0007 OK NOOP completed']);
  const judge = (postern: string[], key = 's:1'): ReturnType<typeof judgeDifferences> =>
    judgeDifferences(compareAnswers([{ ...dovecot, key }], [answer(key, postern)]).differences, [recent]);
  // Exactly the accepted line: accepted (the other place did not differ: stale).
  const ok = judge(['* 3 EXISTS', '* 2 RECENT', 'A0007 OK']);
  assert.deepEqual(ok.unexpected, []);
  assert.deepEqual(
    ok.stale.map((s) => s.key),
    ['s:9'],
  );
  // The accepted line plus a wrong EXISTS, a missing EXISTS, another line, or another tagged
  // status: not accepted.
  for (const postern of [
    ['* 4 EXISTS', '* 2 RECENT', 'A0007 OK'],
    ['* 2 RECENT', 'A0007 OK'],
    ['* 3 EXISTS', '* 2 RECENT', '* 1 EXPUNGE', 'A0007 OK'],
    ['* 3 EXISTS', '* 2 RECENT', 'A0007 NO'],
    ['* 3 EXISTS', '* 3 RECENT', 'A0007 OK'],
  ]) {
    assert.deepEqual(
      judge(postern).unexpected.map((d) => d.key),
      ['s:1'],
      postern.join(' | '),
    );
  }
  // The same content at a place not listed: not accepted.
  assert.deepEqual(
    judge(['* 3 EXISTS', '* 2 RECENT', 'A0007 OK'], 's:5').unexpected.map((d) => d.key),
    ['s:5'],
  );
});
