// The no-stall battery, messages to the MX: each attack runs while the bystanders (fixture.ts)
// probe IMAP, SMTP and POP3 on other connections, and every probe must be answered within
// 100 ms. The server may refuse a message (4xx/5xx) or accept it; it may not stall.

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { Bystanders, sendToMx, startHostileServer, type HostileServer } from './fixture.js';

const MiB = 1024 * 1024;

/** Yields `total` bytes of `unit` repeated, in chunks of about 64 KiB. */
function* repeated(unit: string, total: number): Generator<Buffer> {
  const chunk = Buffer.from(unit.repeat(Math.max(1, Math.floor(65536 / unit.length))));
  let left = total;
  while (left >= chunk.length) {
    yield chunk;
    left -= chunk.length;
  }
  const rest = Math.floor(left / unit.length);
  if (rest > 0) yield Buffer.from(unit.repeat(rest));
}

/**
 * Sends the same attack again and again, at least `times` times and for at least `minMs` (a
 * quick one would end before the probes can see it); resolves with the last result and the count.
 */
async function repeatedly<T>(
  times: number,
  send: () => Promise<T>,
  minMs = 500,
): Promise<T & { sent: number }> {
  const began = Date.now();
  let last = await send();
  let sent = 1;
  while (sent < times || Date.now() - began < minMs) {
    last = await send();
    sent++;
  }
  return { ...last, sent };
}

function* message(header: string, parts: Iterable<Buffer>, trailer = ''): Generator<Buffer> {
  yield Buffer.from(header);
  yield* parts;
  if (trailer !== '') yield Buffer.from(trailer);
}

void describe('no stall while hostile messages arrive at the MX', () => {
  let server: HostileServer;
  let bystanders: Bystanders;

  before(async () => {
    server = await startHostileServer({
      // The 50 MB message of short lines must fit; verification is cut off after 10 s. The
      // header section limit is raised so that verification itself (the worker pool), not the
      // early 552, meets the header attacks; the default limit has its own suite below.
      limits: { messageSize: 64 * MiB, verifyTimeout: 10, messageHeaderSize: 64 * MiB },
    });
    bystanders = await Bystanders.connect(server);
  });
  after(async () => {
    bystanders.close();
    await server.close();
  });

  void it('a 20 MB header field folded over 270,000 lines', async () => {
    const header =
      'From: <sender@attacker.test>\r\nTo: <alice@example.test>\r\nSubject: folded\r\nX-Fold: a\r\n';
    const fold = ` ${'x'.repeat(72)}\r\n`;
    const { result, worstMs } = await bystanders.during(() =>
      sendToMx(server, message(header, repeated(fold, 20 * MiB), '\r\nbody\r\n')),
    );
    // Refused (a header size limit, or 451 when verification is cut off) or accepted: not stalled.
    assert.ok(
      result.code === 250 || (result.code >= 400 && result.code < 600),
      `${result.code} ${result.text}`,
    );
    if (result.code === 250 || result.code === 451) assert.ok(result.usable, 'the session is still usable');
    console.log(`folded header: ${result.code} ${result.text}; worst probe ${worstMs.toFixed(1)} ms`);
  });

  void it('a 50 MB message of 1-byte lines', async () => {
    const header = 'From: <sender@attacker.test>\r\nTo: <alice@example.test>\r\nSubject: lines\r\n\r\n';
    let dataSent = 0;
    const began = Date.now();
    const { result, worstMs } = await bystanders.during(() =>
      sendToMx(server, message(header, repeated('x\r\n', 50 * MiB)), {
        onDataSent: () => (dataSent = Date.now() - began),
      }),
    );
    console.log(`1-byte lines: end of data sent at +${dataSent} ms, answered at +${Date.now() - began} ms`);
    assert.equal(result.code, 250, result.text);
    assert.ok(result.usable);
    console.log(`1-byte lines: ${result.code}; worst probe ${worstMs.toFixed(1)} ms`);
  });

  void it('a message of 10,000 MIME parts', async () => {
    const header =
      'From: <sender@attacker.test>\r\nTo: <alice@example.test>\r\nSubject: parts\r\n' +
      'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b"\r\n\r\n';
    function* parts(): Generator<Buffer> {
      for (let i = 0; i < 10_000; i += 100) {
        let text = '';
        for (let j = i; j < i + 100; j++) text += `--b\r\nContent-Type: text/plain\r\n\r\npart ${j}\r\n`;
        yield Buffer.from(text);
      }
    }
    const { result, worstMs } = await bystanders.during(() =>
      sendToMx(server, message(header, parts(), '--b--\r\n')),
    );
    assert.equal(result.code, 250, result.text);
    assert.ok(result.usable);
    console.log(`10,000 parts: ${result.code}; worst probe ${worstMs.toFixed(1)} ms`);
  });

  void it('a message with 5,000 DKIM-Signature fields of distinct d=: at most 5 key lookups', async () => {
    const body = 'hello\r\n';
    // The right body hash (relaxed canonicalization of this body is itself): each one costs a lookup.
    const bh = createHash('sha256').update(body).digest('base64');
    let signatures = '';
    for (let i = 0; i < 5000; i++) {
      signatures +=
        `DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=d${i}.attacker.test; s=sel;\r\n` +
        ` h=from:subject; bh=${bh}; b=${Buffer.from(`signature ${i}`).toString('base64')}\r\n`;
    }
    const header = `${signatures}From: <sender@attacker.test>\r\nTo: <alice@example.test>\r\nSubject: sigs\r\n\r\n`;
    const logStart = server.dns.log.length;
    const { result, worstMs } = await bystanders.during(() => sendToMx(server, [Buffer.from(header + body)]));
    assert.equal(result.code, 250, result.text);
    assert.ok(result.usable);
    const lookups = server.dns.log.slice(logStart).filter((q) => q.includes('._domainkey.'));
    assert.ok(lookups.length <= 5, `${lookups.length} DKIM key lookups`);
    console.log(
      `5,000 signatures: ${result.code}; ${lookups.length} key lookups; worst probe ${worstMs.toFixed(1)} ms`,
    );
  });
});

void describe('no stall while oversized header sections are refused at the MX (default limits)', () => {
  let server: HostileServer;
  let bystanders: Bystanders;

  before(async () => {
    server = await startHostileServer({ limits: { messageSize: 64 * MiB } });
    bystanders = await Bystanders.connect(server);
  });
  after(async () => {
    bystanders.close();
    await server.close();
  });

  void it('a 20 MB folded header is refused with 552 5.3.4 before any verification', async () => {
    const header =
      'From: <sender@attacker.test>\r\nTo: <alice@example.test>\r\nSubject: folded\r\nX-Fold: a\r\n';
    const fold = ` ${'x'.repeat(72)}\r\n`;
    const logStart = server.dns.log.length;
    const { result, worstMs } = await bystanders.during(() =>
      sendToMx(server, message(header, repeated(fold, 20 * MiB), '\r\nbody\r\n')),
    );
    assert.equal(result.code, 552, result.text);
    assert.match(result.text, /^5\.3\.4 /);
    assert.ok(result.usable, 'the session is still usable');
    // Nothing was verified: no SPF, DKIM or DMARC query was made for it.
    assert.deepEqual(server.dns.log.slice(logStart), []);
    console.log(`folded header, default limits: ${result.code}; worst probe ${worstMs.toFixed(1)} ms`);
  });

  // Messages up to limits.verify_inline_size (64 KiB) are verified on the event loop: the worst
  // of them must still leave every probe under 100 ms.
  void it('a 60 KiB folded header, verified on the event loop', async () => {
    const header =
      'From: <sender@attacker.test>\r\nTo: <alice@example.test>\r\nSubject: folded\r\nX-Fold: a\r\n';
    const fold = ` ${'x'.repeat(72)}\r\n`;
    const { result, worstMs } = await bystanders.during(() =>
      repeatedly(10, () => sendToMx(server, message(header, repeated(fold, 60 * 1024), '\r\nbody\r\n'))),
    );
    assert.equal(result.code, 250, result.text);
    assert.ok(result.usable);
    console.log(`60 KiB folded header: ${result.code}; worst probe ${worstMs.toFixed(1)} ms`);
  });

  void it('550 DKIM-Signature fields in 60 KiB, verified on the event loop: at most 5 lookups each', async () => {
    const body = 'hello\r\n';
    const bh = createHash('sha256').update(body).digest('base64');
    let signatures = '';
    for (let i = 0; i < 550; i++) {
      signatures += `DKIM-Signature: v=1; a=rsa-sha256; d=e${i}.attacker.test; s=s; h=from; bh=${bh}; b=eQ==\r\n`;
    }
    const logStart = server.dns.log.length;
    const { result, worstMs } = await bystanders.during(() =>
      repeatedly(1, () =>
        sendToMx(server, [
          Buffer.from(`${signatures}From: <sender@attacker.test>\r\nSubject: sigs\r\n\r\n${body}`),
        ]),
      ),
    );
    assert.equal(result.code, 250, result.text);
    assert.ok(result.usable);
    const lookups = server.dns.log.slice(logStart).filter((q) => q.includes('._domainkey.'));
    // At most five key lookups per message (the resolver's cache may answer some).
    assert.ok(
      lookups.length <= 5 * result.sent,
      `${lookups.length} DKIM key lookups for ${result.sent} messages`,
    );
    console.log(
      `550 signatures in 60 KiB: ${result.sent} messages, ${lookups.length} lookups; worst probe ${worstMs.toFixed(1)} ms`,
    );
  });

  void it('5,000 DKIM-Signature fields are refused with 552 5.3.4 and cost no lookup', async () => {
    let signatures = '';
    for (let i = 0; i < 5000; i++) {
      signatures += `DKIM-Signature: v=1; a=rsa-sha256; d=d${i}.attacker.test; s=sel; h=from; bh=x; b=y\r\n`;
    }
    const logStart = server.dns.log.length;
    const { result, worstMs } = await bystanders.during(() =>
      repeatedly(5, () =>
        sendToMx(server, [
          Buffer.from(`${signatures}From: <sender@attacker.test>\r\nSubject: sigs\r\n\r\nhello\r\n`),
        ]),
      ),
    );
    assert.equal(result.code, 552, result.text);
    assert.ok(result.usable);
    assert.deepEqual(server.dns.log.slice(logStart), []);
    console.log(`5,000 signatures, default limits: ${result.code}; worst probe ${worstMs.toFixed(1)} ms`);
  });
});
