// The outbound SMTP client over real sockets: against Postern's own SMTP server as the MX (STARTTLS
// with a certificate made for the test server, BDAT, PIPELINING), and against a small scripted
// server written here for what Postern never does (4xx/5xx at each step, no extensions, a drop
// after the dot, silence, an endless reply line). The codecs are fed split at every byte.

import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startSmtpServer, type SmtpTestServer } from '../../test/integration/smtp-harness.js';
import { DotStuffer } from './dot-stuffer.js';
import { ReplyReader, SmtpProtocolError } from './reply-reader.js';
import {
  SmtpClientConnection,
  SmtpClientError,
  type RecipientOutcome,
  type SmtpClientOpenOptions,
  type SmtpMessage,
} from './smtp-client.js';

const FAST = {
  greeting: 2000,
  ehlo: 2000,
  mail: 2000,
  rcpt: 2000,
  dataInit: 2000,
  dataBlock: 2000,
  dataFinal: 2000,
};
/**
 * Against the real server: long enough that a loaded machine (the whole suite in parallel)
 * cannot turn a slow 3 MiB commit into a failure; the timeout tests use FAST.
 */
const REAL_SERVER = {
  greeting: 30_000,
  ehlo: 30_000,
  mail: 30_000,
  rcpt: 30_000,
  dataInit: 30_000,
  dataBlock: 30_000,
  dataFinal: 30_000,
};

// -- codecs ---------------------------------------------------------------------------------

void test('DotStuffer doubles leading dots at any split and ends data as RFC 5321 asks', () => {
  const cases: [string, string][] = [
    ['.a\r\n..b\r\nc.\r\n.\r\n', '..a\r\n...b\r\nc.\r\n..\r\n.\r\n'],
    ['no final crlf\r\n.', 'no final crlf\r\n..\r\n.\r\n'],
    ['bare\n.lf', 'bare\n..lf\r\n.\r\n'],
    ['', '.\r\n'],
    ['x\r\n', 'x\r\n.\r\n'],
  ];
  for (const [input, expected] of cases) {
    const bytes = Buffer.from(input);
    for (let split = 0; split <= bytes.length; split++) {
      const s = new DotStuffer();
      const out = Buffer.concat([s.push(bytes.subarray(0, split)), s.push(bytes.subarray(split)), s.end()]);
      assert.equal(out.toString(), expected, `${JSON.stringify(input)} split at ${split}`);
    }
    const s = new DotStuffer();
    const parts = [...bytes].map((b) => s.push(Uint8Array.of(b)));
    assert.equal(Buffer.concat([...parts, s.end()]).toString(), expected, 'one byte at a time');
  }
});

void test('ReplyReader: multi-line replies, enhanced codes, bounds, any split', () => {
  const input = Buffer.from('220 hi\r\n250-mx\r\n250-SIZE 10\r\n250 2.0.0 ok\r\n550 5.1.1 no such user\n');
  for (let split = 0; split <= input.length; split++) {
    const r = new ReplyReader();
    r.push(input.subarray(0, split));
    r.push(input.subarray(split));
    assert.deepEqual(r.shift(), { code: 220, enhanced: null, lines: ['hi'] });
    assert.deepEqual(r.shift(), { code: 250, enhanced: '2.0.0', lines: ['mx', 'SIZE 10', '2.0.0 ok'] });
    assert.deepEqual(r.shift(), { code: 550, enhanced: '5.1.1', lines: ['5.1.1 no such user'] });
    assert.equal(r.shift(), undefined);
  }
  assert.throws(
    () => new ReplyReader({ maxLineOctets: 100 }).push(Buffer.alloc(101, 0x41)),
    SmtpProtocolError,
  );
  const many = new ReplyReader({ maxLines: 3 });
  assert.throws(() => many.push(Buffer.from('250-a\r\n250-b\r\n250-c\r\n250-d\r\n')), /longer than 3 lines/);
  assert.throws(() => new ReplyReader().push(Buffer.from('250-a\r\n251 b\r\n')), /code changed/);
  assert.throws(() => new ReplyReader().push(Buffer.from('hello\r\n')), /malformed/);
  const mismatch = new ReplyReader();
  mismatch.push(Buffer.from('450 5.1.1 class mismatch\r\n'));
  assert.equal(mismatch.shift()?.enhanced, null, 'an enhanced code of another class is not one');
});

// -- a scripted server -----------------------------------------------------------------------

interface ScriptOptions {
  /** Listen address; default 127.0.0.1. */
  host?: string;
  banner?: string | null;
  /** EHLO reply: extension lines, or a whole reply such as "502 5.5.1 no". */
  ehlo?: string[] | string;
  /** Replies by command verb (MAIL, RCPT, DATA, DOT, BDAT, RSET); a function sees the line. */
  replies?: Partial<Record<string, string | ((line: string) => string)>>;
  /** Close the socket instead of answering the end of data. */
  dropAfterDot?: boolean;
  /** After the banner, answer `EHLO` with a line that never ends. */
  endlessLine?: boolean;
}

interface ScriptServer {
  port: number;
  commands: string[];
  /** Raw DATA bytes (still dot-stuffed, without the final ".\r\n") or BDAT payloads, per message. */
  messages: Buffer[];
  /** The data events that carried the first MAIL command. */
  mailPackets: string[];
  quits: number;
  close(): Promise<void>;
}

async function startScript(opts: ScriptOptions): Promise<ScriptServer> {
  const commands: string[] = [];
  const messages: Buffer[] = [];
  const mailPackets: string[] = [];
  const sockets = new Set<net.Socket>();
  const state = { quits: 0 };
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    let buf = Buffer.alloc(0);
    let mode: 'cmd' | 'data' | { bdat: number; last: boolean } = 'cmd';
    let bdatParts: Buffer[] = [];
    const reply = (verb: string, line: string, dflt: string): string => {
      const r = opts.replies?.[verb];
      const text = r === undefined ? dflt : typeof r === 'string' ? r : r(line);
      if (text !== '') socket.write(text + '\r\n'); // '': never answer
      return text;
    };
    if (opts.banner !== null) socket.write((opts.banner ?? '220 script.test ESMTP') + '\r\n');
    socket.on('data', (chunk: Buffer) => {
      if (chunk.includes('MAIL FROM')) mailPackets.push(chunk.toString());
      buf = Buffer.concat([buf, chunk]);
      for (;;) {
        if (mode === 'data') {
          const end = buf.subarray(0, 3).equals(Buffer.from('.\r\n')) ? -2 : buf.indexOf('\r\n.\r\n');
          if (end === -1) return;
          messages.push(buf.subarray(0, end + 2));
          buf = buf.subarray(end + 5);
          mode = 'cmd';
          if (opts.dropAfterDot === true) {
            socket.destroy();
            return;
          }
          reply('DOT', '', '250 2.0.0 queued as 1');
          continue;
        }
        if (typeof mode === 'object') {
          if (buf.length < mode.bdat) return;
          bdatParts.push(buf.subarray(0, mode.bdat));
          buf = buf.subarray(mode.bdat);
          const last = mode.last;
          mode = 'cmd';
          if (last) {
            messages.push(Buffer.concat(bdatParts));
            bdatParts = [];
            if (opts.dropAfterDot === true) {
              socket.destroy();
              return;
            }
            reply('DOT', '', '250 2.0.0 queued as 1');
          } else reply('BDAT', '', '250 2.0.0 chunk ok');
          continue;
        }
        const nl = buf.indexOf('\r\n');
        if (nl < 0) return;
        const line = buf.subarray(0, nl).toString();
        buf = buf.subarray(nl + 2);
        commands.push(line);
        const verb = line.split(' ')[0].toUpperCase();
        if (verb === 'EHLO') {
          if (opts.endlessLine === true) {
            const spam = Buffer.alloc(64 * 1024, 0x41);
            socket.write('250-');
            const again = (): void => {
              if (!socket.destroyed && socket.write(spam)) setImmediate(again);
              else if (!socket.destroyed) socket.once('drain', again);
            };
            again();
            return;
          }
          const e = opts.ehlo ?? [];
          if (typeof e === 'string') socket.write(e + '\r\n');
          else
            socket.write(
              ['script.test', ...e]
                .map((l, i, a) => `250${i === a.length - 1 ? ' ' : '-'}${l}`)
                .join('\r\n') + '\r\n',
            );
        } else if (verb === 'HELO') reply('HELO', line, '250 script.test');
        else if (verb === 'MAIL') reply('MAIL', line, '250 2.1.0 ok');
        else if (verb === 'RCPT') reply('RCPT', line, '250 2.1.5 ok');
        else if (verb === 'RSET') reply('RSET', line, '250 2.0.0 ok');
        else if (verb === 'NOOP') reply('NOOP', line, '250 2.0.0 ok');
        else if (verb === 'QUIT') {
          state.quits++;
          socket.end('221 2.0.0 bye\r\n');
        } else if (verb === 'DATA') {
          if (reply('DATA', line, '354 go ahead').startsWith('354')) mode = 'data';
        } else if (verb === 'BDAT') {
          const [, n, last] = line.split(' ');
          mode = { bdat: Number(n), last: last === 'LAST' };
        } else socket.write('502 5.5.1 unknown\r\n');
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, opts.host ?? '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    commands,
    messages,
    mailPackets,
    get quits() {
      return state.quits;
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function clientOptions(port: number, over: Partial<SmtpClientOpenOptions> = {}): SmtpClientOpenOptions {
  return {
    host: 'mx.script.test',
    ip: '127.0.0.1',
    port,
    heloName: 'client.example.net',
    tls: { servername: 'mx.script.test', requireTls: false, verify: 'opportunistic' },
    timeouts: FAST,
    ...over,
  };
}

function message(body: string | Buffer, over: Partial<SmtpMessage> = {}): SmtpMessage {
  const bytes = typeof body === 'string' ? Buffer.from(body) : body;
  return {
    mailFrom: 'sender@client.example.net',
    recipients: [{ address: 'rcpt@script.test' }],
    body: () => bytes,
    size: bytes.length,
    bodyType: '7BIT',
    smtputf8: false,
    ...over,
  };
}

function kinds(outcomes: RecipientOutcome[]): string[] {
  return outcomes.map((o) =>
    o.kind === 'refused'
      ? `${o.address} refused ${o.code} ${o.enhanced ?? '-'} ${o.temporary ? 'temp' : 'perm'}`
      : `${o.address} ${o.kind}`,
  );
}

const BODY = 'Subject: dots\r\n\r\n.leading dot\r\n..two dots\r\nmiddle . dot\r\n.\r\nlast line without CRLF';

void describe('against a scripted server', () => {
  void test('no extensions: HELO after EHLO 502, one command at a time, DATA dot-stuffed, CRLF added at the end', async () => {
    const s = await startScript({ ehlo: '502 5.5.1 EHLO not here' });
    try {
      const c = await SmtpClientConnection.open(clientOptions(s.port));
      assert.equal(c.extensions.pipelining, false);
      assert.equal(c.tls.active, false);
      const out = await c.send(
        message(BODY, { recipients: [{ address: 'a@script.test' }, { address: 'b@script.test' }] }),
      );
      assert.deepEqual(kinds(out), ['a@script.test accepted', 'b@script.test accepted']);
      assert.equal(out[0].kind === 'accepted' && out[0].reply.lines[0], '2.0.0 queued as 1');
      assert.deepEqual(s.commands, [
        'EHLO client.example.net',
        'HELO client.example.net',
        'MAIL FROM:<sender@client.example.net>',
        'RCPT TO:<a@script.test>',
        'RCPT TO:<b@script.test>',
        'DATA',
      ]);
      assert.equal(
        s.messages[0].toString(),
        'Subject: dots\r\n\r\n..leading dot\r\n...two dots\r\nmiddle . dot\r\n..\r\nlast line without CRLF\r\n',
      );
      assert.ok(!s.mailPackets[0].includes('RCPT'), 'MAIL was sent alone');
      await c.close();
      assert.equal(s.quits, 1);
    } finally {
      await s.close();
    }
  });

  void test('PIPELINING: MAIL and RCPTs in one write, replies in order, per-recipient outcomes, parameters', async () => {
    const s = await startScript({
      ehlo: ['PIPELINING', 'SIZE 100000', '8BITMIME', 'SMTPUTF8', 'DSN', 'ENHANCEDSTATUSCODES'],
      replies: {
        RCPT: (line) =>
          line.includes('<gone@')
            ? '550 5.1.1 no such user'
            : line.includes('<full@')
              ? '452 4.2.2 mailbox full'
              : '250 2.1.5 ok',
      },
    });
    try {
      const c = await SmtpClientConnection.open(clientOptions(s.port));
      assert.equal(c.extensions.size, 100000);
      const body = 'Subject: caf\u00e9\r\n\r\n8-bit \u00e9\r\n';
      const out = await c.send(
        message(body, {
          mailFrom: 'j\u00f6rg@client.example.net',
          bodyType: '8BITMIME',
          smtputf8: true,
          ret: 'HDRS',
          envid: 'id+1=2',
          recipients: [
            { address: 'ok@script.test', notify: ['SUCCESS', 'FAILURE'], orcpt: 'rfc822;ok@script.test' },
            { address: 'gone@script.test' },
            { address: 'full@script.test', notify: ['NEVER'] },
          ],
        }),
      );
      assert.deepEqual(kinds(out), [
        'ok@script.test accepted',
        'gone@script.test refused 550 5.1.1 perm',
        'full@script.test refused 452 4.2.2 temp',
      ]);
      assert.equal(s.mailPackets.length, 1);
      assert.match(
        s.mailPackets[0],
        /^MAIL FROM:.*\r\nRCPT TO:<ok@.*\r\nRCPT TO:<gone@.*\r\nRCPT TO:<full@.*\r\n$/,
      );
      assert.equal(
        s.commands[1],
        `MAIL FROM:<j\u00f6rg@client.example.net> SIZE=${Buffer.byteLength(body)} BODY=8BITMIME SMTPUTF8 RET=HDRS ENVID=id+2B1+3D2`,
      );
      assert.equal(
        s.commands[2],
        'RCPT TO:<ok@script.test> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;ok@script.test',
      );
      assert.equal(s.commands[4], 'RCPT TO:<full@script.test> NOTIFY=NEVER');
      assert.deepEqual(s.messages[0], Buffer.from(body));
      await c.close();
    } finally {
      await s.close();
    }
  });

  void test('refused before sending: 8-bit without 8BITMIME, SMTPUTF8 without SMTPUTF8, over SIZE, REQUIRETLS in clear', async () => {
    const s = await startScript({ ehlo: ['PIPELINING', 'SIZE 1000'] });
    try {
      const c = await SmtpClientConnection.open(clientOptions(s.port));
      const cases: [Partial<SmtpMessage>, string][] = [
        [{ bodyType: '8BITMIME' }, '554 5.6.3 perm'],
        [{ bodyType: 'BINARYMIME' }, '554 5.6.3 perm'],
        [{ smtputf8: true }, '554 5.6.9 perm'],
        [{ mailFrom: 'j\u00f6rg@client.example.net' }, '553 5.6.7 perm'],
        [{ size: 1001 }, '552 5.3.4 perm'],
        [{ requireTls: true }, '550 5.7.30 perm'],
      ];
      for (const [over, expected] of cases) {
        const out = await c.send(message('x\r\n', over));
        assert.deepEqual(kinds(out), [`rcpt@script.test refused ${expected}`], JSON.stringify(over));
      }
      assert.deepEqual(s.commands, ['EHLO client.example.net'], 'nothing of the message was sent');
      await assert.rejects(c.send(message('x', { mailFrom: 'a b@c' })), TypeError);
      await assert.rejects(c.send(message('x', { recipients: [{ address: 'x@y>\r\nRSET' }] })), TypeError);
      const ok = await c.send(message('x\r\n'));
      assert.deepEqual(kinds(ok), ['rcpt@script.test accepted']);
      await c.close();
    } finally {
      await s.close();
    }
  });

  void test('4xx/5xx at MAIL, DATA and the final dot give every recipient that outcome; the connection is reused', async () => {
    let mailReply = '451 4.3.0 try later';
    let dataReply = '354 go';
    let dotReply = '250 2.0.0 ok';
    const s = await startScript({
      ehlo: ['PIPELINING'],
      replies: { MAIL: () => mailReply, DATA: () => dataReply, DOT: () => dotReply },
    });
    try {
      const c = await SmtpClientConnection.open(clientOptions(s.port));
      const two = { recipients: [{ address: 'a@script.test' }, { address: 'b@script.test' }] };
      assert.deepEqual(kinds(await c.send(message('m\r\n', two))), [
        'a@script.test refused 451 4.3.0 temp',
        'b@script.test refused 451 4.3.0 temp',
      ]);
      mailReply = '250 ok';
      dataReply = '554 5.7.1 no data for you';
      const dataOut = await c.send(message('m\r\n', two));
      assert.deepEqual(kinds(dataOut), [
        'a@script.test refused 554 5.7.1 perm',
        'b@script.test refused 554 5.7.1 perm',
      ]);
      assert.equal(dataOut[0].kind === 'refused' && dataOut[0].stage, 'data');
      dataReply = '354 go';
      dotReply = '452 4.3.1 out of space';
      assert.deepEqual(kinds(await c.send(message('m\r\n', two))), [
        'a@script.test refused 452 4.3.1 temp',
        'b@script.test refused 452 4.3.1 temp',
      ]);
      dotReply = '250 2.0.0 fine';
      assert.deepEqual(kinds(await c.send(message('m\r\n', two))), [
        'a@script.test accepted',
        'b@script.test accepted',
      ]);
      // A transaction refused at DATA is reset before the next MAIL.
      assert.ok(s.commands.includes('RSET'));
      await c.reset();
      assert.equal(c.usable, true);
      await c.close();
    } finally {
      await s.close();
    }
  });

  void test('a connection lost after the final dot is "unknown"; lost before the end it is temporary', async () => {
    const s = await startScript({ ehlo: ['PIPELINING'], dropAfterDot: true });
    try {
      const c = await SmtpClientConnection.open(clientOptions(s.port));
      const out = await c.send(message('m\r\n'));
      assert.equal(out[0].kind, 'unknown');
      assert.equal(s.messages.length, 1);
      assert.equal(c.usable, false);
      const again = await c.send(message('m\r\n'));
      assert.deepEqual(kinds(again), ['rcpt@script.test refused 421 4.4.2 temp']);
    } finally {
      await s.close();
    }
    const s2 = await startScript({ ehlo: [], replies: { RCPT: '250 ok' } });
    try {
      const c = await SmtpClientConnection.open(clientOptions(s2.port));
      async function* slowBody(): AsyncIterable<Uint8Array> {
        yield Buffer.from('first\r\n');
        await new Promise((r) => setTimeout(r, 50));
        await s2.close();
        await new Promise((r) => setTimeout(r, 50));
        yield Buffer.from('second\r\n');
      }
      const out = await c.send({ ...message(''), body: slowBody });
      assert.equal(out[0].kind, 'refused');
      assert.equal(out[0].kind === 'refused' && out[0].temporary, true);
    } finally {
      await s2.close().catch(() => {});
    }
  });

  void test('a server that never answers times out; so does one that stops after DATA', async () => {
    const silent = await startScript({ banner: null });
    try {
      const started = Date.now();
      const err = await SmtpClientConnection.open(
        clientOptions(silent.port, { timeouts: { ...FAST, greeting: 200 } }),
      ).then(
        () => null,
        (e: unknown) => e,
      );
      assert.ok(err instanceof SmtpClientError);
      assert.equal(err.stage, 'greeting');
      assert.equal(err.temporary, true);
      assert.ok(Date.now() - started < 2000);
    } finally {
      await silent.close();
    }
    const mute = await startScript({ ehlo: [], replies: { DOT: '' } });
    try {
      const c = await SmtpClientConnection.open(
        clientOptions(mute.port, { timeouts: { ...FAST, dataFinal: 200 } }),
      );
      const out = await c.send(message('m\r\n'));
      assert.equal(out[0].kind, 'unknown', 'no reply to the dot: may have been delivered');
    } finally {
      await mute.close();
    }
  });

  void test('a reply line that never ends fails the connection at the bound', async () => {
    const s = await startScript({ endlessLine: true });
    try {
      await assert.rejects(
        SmtpClientConnection.open(clientOptions(s.port, { limits: { maxLineOctets: 8192 } })),
        (e: unknown) => e instanceof SmtpClientError && e.temporary && /longer than 8192/.test(e.message),
      );
    } finally {
      await s.close();
    }
  });

  void test('requireTls without STARTTLS fails temporarily and sends no message; a 554 banner fails permanently', async () => {
    const s = await startScript({ ehlo: ['PIPELINING'] });
    try {
      const opts = clientOptions(s.port);
      await assert.rejects(
        SmtpClientConnection.open({ ...opts, tls: { ...opts.tls, requireTls: true } }),
        (e: unknown) => e instanceof SmtpClientError && e.stage === 'starttls' && e.temporary,
      );
      assert.deepEqual(
        s.commands.filter((c) => !c.startsWith('EHLO') && c !== 'QUIT'),
        [],
      );
    } finally {
      await s.close();
    }
    const b = await startScript({ banner: '554 5.7.1 go away' });
    try {
      await assert.rejects(
        SmtpClientConnection.open(clientOptions(b.port)),
        (e: unknown) =>
          e instanceof SmtpClientError && e.stage === 'greeting' && !e.temporary && e.reply?.code === 554,
      );
    } finally {
      await b.close();
    }
  });

  void test('CHUNKING: BDAT chunks carry the bytes unstuffed, the last one marked LAST; BINARYMIME', async () => {
    const s = await startScript({ ehlo: ['PIPELINING', 'CHUNKING', 'BINARYMIME', '8BITMIME'] });
    try {
      const c = await SmtpClientConnection.open(clientOptions(s.port, { limits: { bdatChunkOctets: 10 } }));
      const bytes = Buffer.from('.a\r\nline two is long\r\n.\r\n\x00\xff binary');
      async function* pieces(): AsyncIterable<Uint8Array> {
        for (let i = 0; i < bytes.length; i += 7) yield bytes.subarray(i, i + 7);
      }
      const out = await c.send({ ...message(bytes, { bodyType: 'BINARYMIME' }), body: pieces });
      assert.deepEqual(kinds(out), ['rcpt@script.test accepted']);
      assert.deepEqual(s.messages[0], bytes);
      const bdats = s.commands.filter((l) => l.startsWith('BDAT'));
      assert.ok(bdats.length >= 3, bdats.join());
      assert.ok(bdats.slice(0, -1).every((l) => !l.endsWith('LAST')));
      assert.match(bdats[bdats.length - 1], /^BDAT \d+ LAST$/);
      assert.match(
        s.commands.find((l) => l.startsWith('MAIL'))!,
        /BODY=BINARYMIME/,
      );
      await c.close();
    } finally {
      await s.close();
    }
  });

  void test('IPv6, from a given local address', async () => {
    const s = await startScript({ host: '::1', ehlo: ['PIPELINING'] });
    try {
      const c = await SmtpClientConnection.open(clientOptions(s.port, { ip: '::1', localAddress: '::1' }));
      assert.deepEqual(kinds(await c.send(message('m\r\n'))), ['rcpt@script.test accepted']);
      await c.close();
      assert.equal(s.messages.length, 1);
    } finally {
      await s.close();
    }
  });

  void test('a RCPT never answered times out as a temporary failure; one operation at a time; close() mid-send', async () => {
    const s = await startScript({ ehlo: ['PIPELINING'], replies: { RCPT: '' } });
    try {
      const c = await SmtpClientConnection.open(clientOptions(s.port, { timeouts: { ...FAST, rcpt: 200 } }));
      const started = Date.now();
      const pending = c.send(message('m\r\n'));
      await assert.rejects(
        c.send(message('m\r\n')),
        (e: unknown) => e instanceof SmtpClientError && e.stage === 'busy',
      );
      assert.deepEqual(kinds(await pending), ['rcpt@script.test refused 421 4.4.2 temp']);
      assert.ok(Date.now() - started < 2000);
      assert.equal(c.usable, false);

      const c2 = await SmtpClientConnection.open(clientOptions(s.port));
      const during = c2.send(message('m\r\n'));
      await new Promise((r) => setTimeout(r, 50));
      await c2.close();
      assert.deepEqual(kinds(await during), ['rcpt@script.test refused 421 4.4.2 temp']);
    } finally {
      await s.close();
    }
  });

  void test('an idle connection is closed with QUIT', async () => {
    const s = await startScript({ ehlo: [] });
    try {
      const c = await SmtpClientConnection.open(clientOptions(s.port, { timeouts: { ...FAST, idle: 100 } }));
      const deadline = Date.now() + 3000;
      while (s.quits === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      assert.equal(s.quits, 1);
      assert.equal(c.usable, false);
    } finally {
      await s.close();
    }
  });
});

// -- against Postern --------------------------------------------------------------------------

void describe("against Postern's SMTP server as the MX", () => {
  let server: SmtpTestServer;
  let ca: string;
  before(async () => {
    server = await startSmtpServer({ smtp: { unknownRecipientDelay: 0 } });
    ca = await readFile(path.join(server.dir, 'tls', 'cert.pem'), 'utf8');
  });
  after(async () => {
    await server.close();
  });

  const posternOptions = (over: Partial<SmtpClientOpenOptions['tls']> = {}): SmtpClientOpenOptions => ({
    host: 'mail.example.test',
    ip: '127.0.0.1',
    port: server.ports.smtp,
    heloName: 'client.example.net',
    tls: { servername: 'mail.example.test', ca, requireTls: true, verify: 'strict', ...over },
    timeouts: REAL_SERVER,
  });

  void test('STARTTLS verified, two messages on one connection, stored byte for byte', async () => {
    const c = await SmtpClientConnection.open(posternOptions());
    assert.equal(c.tls.active, true);
    assert.equal(c.tls.verified, true);
    assert.match(c.tls.version ?? '', /^TLSv1\.[23]$/);
    assert.ok((c.tls.cipher ?? '').length > 0);
    assert.match(c.tls.peerCertificate?.subject ?? '', /CN=mail\.example\.test/);
    assert.equal(c.extensions.starttls, false, 'no STARTTLS offered once TLS is up');
    assert.equal(c.extensions.pipelining && c.extensions.chunking && c.extensions.smtpUtf8, true);
    const before = (await server.inbox('bob@example.test')).length;
    const first = Buffer.from(
      'From: sender@client.example.net\r\nTo: bob@example.test\r\nSubject: one\r\n\r\n.dot line\r\n..\r\n.\r\nend\r\n',
    );
    const second = Buffer.from('From: sender@client.example.net\r\nSubject: two\r\n\r\nsecond message\r\n');
    const out1 = await c.send(
      message(first, {
        mailFrom: 'sender@client.example.net',
        recipients: [{ address: 'bob@example.test' }, { address: 'nobody@example.test' }],
      }),
    );
    assert.equal(out1[0].kind, 'accepted');
    assert.equal(
      out1[1].kind === 'refused' && `${out1[1].code} ${out1[1].enhanced} ${out1[1].temporary}`,
      '550 5.1.1 false',
    );
    const out2 = await c.send(
      message(second, {
        mailFrom: 'sender@client.example.net',
        recipients: [{ address: 'bob@example.test' }],
      }),
    );
    assert.equal(out2[0].kind, 'accepted');
    await c.close();
    const inbox = (await server.inbox('bob@example.test')).slice(before);
    assert.equal(inbox.length, 2);
    assert.deepEqual(inbox[0].subarray(inbox[0].length - first.length), first);
    assert.deepEqual(inbox[1].subarray(inbox[1].length - second.length), second);
  });

  for (const discard of [['CHUNKING'], ['CHUNKING', 'PIPELINING'], []] as const) {
    void test(`a 3 MiB message streamed in pieces (${discard.length === 0 ? 'BDAT' : 'DATA'}, without ${discard.join(', ') || 'nothing'})`, async () => {
      const c = await SmtpClientConnection.open({ ...posternOptions(), discardExtensions: discard });
      assert.equal(c.extensions.chunking, !discard.includes('CHUNKING' as never));
      assert.equal(c.extensions.pipelining, !discard.includes('PIPELINING' as never));
      // Lines that start with "." (and a lone ".") every few lines: each must come back unstuffed.
      const line = Buffer.from(
        '.line that starts with a dot, then some text to fill it up to a length\r\n.\r\nplain\r\n',
      );
      const header = Buffer.from('From: sender@client.example.net\r\nSubject: big\r\n\r\n');
      const count = Math.ceil((3 * 1024 * 1024) / line.length);
      const size = header.length + count * line.length;
      let yielded = 0;
      async function* body(): AsyncIterable<Uint8Array> {
        yield header;
        const block = Buffer.concat(Array.from({ length: 100 }, () => line));
        for (let i = 0; i < count; i += 100) {
          const n = Math.min(100, count - i);
          yielded += n;
          // Odd cut points: a chunk may end inside "\r\n" or just before a ".".
          const piece = block.subarray(0, n * line.length);
          yield piece.subarray(0, 7);
          yield piece.subarray(7);
        }
      }
      const before = (await server.inbox('bob@example.test')).length;
      const out = await c.send({
        ...message(Buffer.alloc(0), { recipients: [{ address: 'bob@example.test' }] }),
        body,
        size,
      });
      assert.equal(out[0].kind, 'accepted', JSON.stringify(out[0]));
      assert.equal(yielded, count);
      await c.close();
      const stored = (await server.inbox('bob@example.test')).slice(before);
      assert.equal(stored.length, 1);
      const expected = Buffer.concat([header, ...Array.from({ length: count }, () => line)]);
      assert.equal(stored[0].length - expected.length > 0, true);
      assert.ok(
        stored[0].subarray(stored[0].length - expected.length).equals(expected),
        'stored byte for byte',
      );
    });
  }

  void test('a certificate that does not match: strict fails, opportunistic reports it and delivers', async () => {
    await assert.rejects(
      SmtpClientConnection.open(posternOptions({ servername: 'other.example.test' })),
      (e: unknown) => e instanceof SmtpClientError && e.stage === 'tls' && e.temporary,
    );
    const c = await SmtpClientConnection.open(
      posternOptions({ servername: 'other.example.test', verify: 'opportunistic', ca: undefined }),
    );
    assert.equal(c.tls.active, true);
    assert.equal(c.tls.verified, false);
    assert.ok(c.tls.verifyError !== null);
    const out = await c.send(
      message('Subject: x\r\n\r\nx\r\n', { recipients: [{ address: 'bob@example.test' }] }),
    );
    assert.equal(out[0].kind, 'accepted');
    await c.close();
  });

  void test('the TLS check sees the chain right after the handshake; a refusal ends before MAIL', async () => {
    const seen: number[] = [];
    const refused = await SmtpClientConnection.open(
      posternOptions({
        check: (info) => {
          seen.push(info.peerChain.length);
          return 'not the key we expected';
        },
      }),
    ).then(
      () => null,
      (e: unknown) => e,
    );
    assert.ok(refused instanceof SmtpClientError);
    assert.equal(refused.stage, 'tls');
    assert.equal(refused.temporary, true);
    assert.match(refused.message, /not the key we expected/);
    assert.equal(refused.tls?.active, true);
    assert.equal(refused.tls?.peerChain[0]?.fingerprint256, refused.tls?.peerCertificate?.fingerprint256);
    assert.ok((seen[0] ?? 0) >= 1);
    const c = await SmtpClientConnection.open(posternOptions({ check: () => null }));
    assert.ok(c.tls.peerChain.length >= 1, 'the chain is still there after EHLO');
    await c.close();
  });
});
