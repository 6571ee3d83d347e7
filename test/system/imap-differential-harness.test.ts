// The differential harness itself: the response framing of ImapRawClient over a real loopback
// socket (literals, {0}, every split of the bytes), the normalisation rules, and the script
// parser. Needs no Dovecot: a failure here is a harness bug, not a server difference.

import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';
import { ImapRawClient } from '../helpers/imap-raw-client.js';
import { commandParts, parseScript } from './imap-differential/differential.js';
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
  assert.equal(normaliseLine('* CAPABILITY IMAP4rev1 IDLE', NOW), '* CAPABILITY');
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
