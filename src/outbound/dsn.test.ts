import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runPython } from '../../test/helpers/python.js';
import {
  buildDsn,
  decodeXtext,
  dsnBytesToRead,
  mayBounceTo,
  MAX_DIAGNOSTIC,
  notifyWants,
  rfc5322Date,
  type DsnInput,
} from './dsn.js';

// Python's email package reads the report back: the outer header fields, each part's type and
// transfer encoding, every field of every delivery-status block (message/global-delivery-status
// is not known to Python, so its blocks are parsed here as header sections), and the returned
// message or headers.
const PARSE = String.raw`
import sys, json, re
from email import policy
from email.parser import BytesParser, Parser
raw = sys.stdin.buffer.read()
m = BytesParser(policy=policy.default).parsebytes(raw)
def own_body(i):
    # The bytes of part i between its header section and the next boundary line.
    segment = raw.split(b'\r\n--' + m.get_boundary().encode())[i + 1]
    return segment.split(b'\r\n\r\n', 1)[1]
def fields(msg):
    return [[k, ' '.join(str(v).split())] for k, v in msg.items()]
out = {'headers': fields(m), 'type': m.get_content_type(), 'params': dict(m['content-type'].params),
       'defects': [repr(d) for d in m.defects], 'parts': [],
       'longest_line': max(len(l) for l in raw.split(b'\r\n')), 'bare_lf': raw.replace(b'\r\n', b'').count(b'\n')}
for p in m.iter_parts():
    d = {'type': p.get_content_type(), 'cte': p.get('content-transfer-encoding'), 'defects': [repr(x) for x in p.defects]}
    t = p.get_content_type()
    if t == 'text/plain':
        d['text'] = p.get_content()
    elif t == 'message/delivery-status':
        d['blocks'] = [fields(b) for b in p.get_payload()]
    elif t == 'message/global-delivery-status':
        # Python parses any other message/* as an encapsulated message and loses its UTF-8: read
        # this part's own bytes (between its boundary lines) and parse each block as UTF-8.
        text = own_body(len(out['parts'])).decode('utf-8')
        blocks = [b for b in re.split(r'\r\n\r\n', text) if b.strip()]
        d['blocks'] = [fields(Parser(policy=policy.default).parsestr(b + '\r\n\r\n', headersonly=True)) for b in blocks]
    elif t in ('message/rfc822', 'message/global'):
        inner = p.get_payload(0)
        d['inner_headers'] = fields(inner)
        d['inner_body'] = inner.get_payload()
    else:
        d['raw'] = own_body(len(out['parts'])).decode('utf-8')
    out['parts'].append(d)
print(json.dumps(out))
`;

interface Parsed {
  headers: Array<[string, string]>;
  type: string;
  params: Record<string, string>;
  defects: string[];
  longest_line: number;
  bare_lf: number;
  parts: Array<{
    type: string;
    cte: string | null;
    defects: string[];
    text?: string;
    blocks?: Array<Array<[string, string]>>;
    inner_headers?: Array<[string, string]>;
    inner_body?: string;
    raw?: string;
  }>;
}

async function parse(bytes: Buffer): Promise<Parsed> {
  const out = await runPython(PARSE, bytes);
  const parsed = JSON.parse(out) as Parsed;
  assert.deepEqual(parsed.defects, []);
  for (const p of parsed.parts) assert.deepEqual(p.defects, [], p.type);
  assert.ok(parsed.longest_line <= 998, `line of ${parsed.longest_line} octets`);
  assert.equal(parsed.bare_lf, 0, 'CRLF line endings only');
  return parsed;
}

/** The values of a field (every occurrence, in order). */
function all(fields: Array<[string, string]> | undefined, name: string): string[] {
  return (fields ?? []).filter(([k]) => k.toLowerCase() === name.toLowerCase()).map(([, v]) => v);
}

function one(fields: Array<[string, string]> | undefined, name: string): string {
  const v = all(fields, name);
  assert.equal(v.length, 1, `${name}: ${JSON.stringify(v)}`);
  return v[0] ?? '';
}

const arrival = new Date(Date.UTC(2026, 11, 6, 22, 1, 2));
const attempt = new Date(Date.UTC(2026, 11, 7, 3, 4, 5));
const original = Buffer.from(
  'From: Alice <alice@local.test>\r\nTo: bob@remote.test\r\nSubject: hello\r\nMessage-ID: <m1@local.test>\r\n\r\n' +
    'Hi Bob,\r\n--not-a-boundary\r\nbye\r\n',
);

function base(over: Partial<DsnInput> = {}): DsnInput {
  return {
    reportingMta: 'mx.local.test',
    envelopeSender: 'alice@local.test',
    envid: 'QQ+2B314',
    ret: null,
    arrivalDate: arrival,
    recipients: [
      {
        finalRecipient: 'bob@remote.test',
        orcpt: 'rfc822;Bob+2BTag@remote.test',
        action: 'failed',
        status: '5.1.1',
        remoteMta: 'mx1.remote.test',
        diagnostic: '550 5.1.1 <bob@remote.test>: no such user',
        lastAttemptDate: attempt,
      },
      {
        finalRecipient: 'carol@remote.test',
        action: 'failed',
        status: '5.4.4',
        diagnostic: null,
      },
    ],
    original,
    originalSize: original.length,
    date: attempt,
    messageId: 'dsn1@mx.local.test',
    ...over,
  };
}

void test('a failure report: multipart/report with every RFC 3464 field, the original returned whole', async () => {
  const dsn = buildDsn(base());
  assert.equal(dsn.smtputf8, false);
  assert.equal(dsn.eightBit, false);
  const p = await parse(dsn.bytes);
  assert.equal(one(p.headers, 'From'), 'Mail Delivery System <MAILER-DAEMON@mx.local.test>');
  assert.equal(one(p.headers, 'To'), 'alice@local.test');
  assert.ok(dsn.bytes.includes('\r\nTo: <alice@local.test>\r\n'));
  assert.equal(one(p.headers, 'Subject'), 'Undelivered Mail Returned to Sender');
  assert.equal(one(p.headers, 'Auto-Submitted'), 'auto-replied');
  assert.equal(one(p.headers, 'Date'), 'Mon, 07 Dec 2026 03:04:05 +0000');
  assert.equal(one(p.headers, 'Message-ID'), '<dsn1@mx.local.test>');
  assert.equal(one(p.headers, 'MIME-Version'), '1.0');
  assert.equal(p.type, 'multipart/report');
  assert.equal(p.params['report-type'], 'delivery-status');
  assert.deepEqual(
    p.parts.map((x) => [x.type, x.cte]),
    [
      ['text/plain', '7bit'],
      ['message/delivery-status', '7bit'],
      ['message/rfc822', '7bit'],
    ],
  );
  const text = p.parts[0]?.text ?? '';
  assert.match(text, /mx\.local\.test/);
  assert.match(text, /<bob@remote\.test>: 550 5\.1\.1 <bob@remote\.test>: no such user/);
  assert.match(text, /<carol@remote\.test>: 5\.4\.4/);

  const blocks = p.parts[1]?.blocks ?? [];
  assert.equal(blocks.length, 3);
  assert.deepEqual(blocks[0], [
    ['Reporting-MTA', 'dns; mx.local.test'],
    ['Original-Envelope-Id', 'QQ+314'],
    ['Arrival-Date', 'Sun, 06 Dec 2026 22:01:02 +0000'],
  ]);
  assert.deepEqual(blocks[1], [
    ['Original-Recipient', 'rfc822; Bob+Tag@remote.test'],
    ['Final-Recipient', 'rfc822; bob@remote.test'],
    ['Action', 'failed'],
    ['Status', '5.1.1'],
    ['Remote-MTA', 'dns; mx1.remote.test'],
    ['Diagnostic-Code', 'smtp; 550 5.1.1 <bob@remote.test>: no such user'],
    ['Last-Attempt-Date', 'Mon, 07 Dec 2026 03:04:05 +0000'],
  ]);
  assert.deepEqual(blocks[2], [
    ['Final-Recipient', 'rfc822; carol@remote.test'],
    ['Action', 'failed'],
    ['Status', '5.4.4'],
  ]);
  const returned = p.parts[2];
  assert.equal(one(returned?.inner_headers, 'Subject'), 'hello');
  assert.equal(one(returned?.inner_headers, 'Message-ID'), '<m1@local.test>');
  assert.equal(returned?.inner_body, 'Hi Bob,\r\n--not-a-boundary\r\nbye\r\n');
  // The original's bytes are in the report unchanged.
  assert.ok(dsn.bytes.includes(original));
});

void test('a hostile remote reply cannot add fields or lines; long replies are folded and bounded', async () => {
  const dsn = buildDsn(
    base({
      recipients: [
        {
          finalRecipient: 'bob@remote.test',
          action: 'failed',
          status: '5.0.0',
          remoteMta: 'mx1.remote.test',
          diagnostic: `550 no\r\nAction: delivered\r\n\r\nFinal-Recipient: rfc822; x@y\0\t${'word '.repeat(400)}${'z'.repeat(700)}`,
        },
      ],
    }),
  );
  const p = await parse(dsn.bytes);
  const blocks = p.parts[1]?.blocks ?? [];
  assert.equal(blocks.length, 2);
  assert.deepEqual(all(blocks[1], 'Action'), ['failed']);
  assert.deepEqual(all(blocks[1], 'Final-Recipient'), ['rfc822; bob@remote.test']);
  const diag = one(blocks[1], 'Diagnostic-Code');
  assert.ok(diag.startsWith('smtp; 550 no Action: delivered Final-Recipient: rfc822; x@y word word'), diag);
  assert.ok(diag.length <= 'smtp; '.length + MAX_DIAGNOSTIC + 10, `diagnostic of ${diag.length}`);
});

void test('a delay report: Will-Retry-Until, headers only even with RET=FULL, and a success report', async () => {
  const until = new Date(Date.UTC(2026, 11, 11, 22, 1, 2));
  const p = await parse(
    buildDsn(
      base({
        ret: 'FULL',
        recipients: [
          {
            finalRecipient: 'bob@remote.test',
            action: 'delayed',
            status: '4.4.1',
            remoteMta: 'mx1.remote.test',
            diagnostic: '421 4.4.1 try later',
            lastAttemptDate: attempt,
            willRetryUntil: until,
          },
        ],
      }),
    ).bytes,
  );
  assert.equal(one(p.headers, 'Subject'), 'Delayed Mail (still being retried)');
  const block = p.parts[1]?.blocks?.[1];
  assert.equal(one(block, 'Action'), 'delayed');
  assert.equal(one(block, 'Status'), '4.4.1');
  assert.equal(one(block, 'Will-Retry-Until'), 'Fri, 11 Dec 2026 22:01:02 +0000');
  assert.equal(p.parts[2]?.type, 'text/rfc822-headers');
  assert.equal(
    p.parts[2]?.raw,
    'From: Alice <alice@local.test>\r\nTo: bob@remote.test\r\nSubject: hello\r\nMessage-ID: <m1@local.test>\r\n',
  );

  const ok = await parse(
    buildDsn(
      base({
        recipients: [
          {
            finalRecipient: 'bob@remote.test',
            action: 'relayed',
            status: '2.0.0',
            remoteMta: 'mx1.remote.test',
          },
          { finalRecipient: 'dan@remote.test', action: 'delivered', status: '2.1.5' },
          { finalRecipient: 'list@remote.test', action: 'expanded', status: '2.0.0' },
        ],
      }),
    ).bytes,
  );
  assert.equal(one(ok.headers, 'Subject'), 'Successful Mail Delivery Report');
  assert.deepEqual(
    (ok.parts[1]?.blocks ?? []).slice(1).map((b) => one(b, 'Action')),
    ['relayed', 'delivered', 'expanded'],
  );
  assert.equal(ok.parts[2]?.type, 'text/rfc822-headers');
});

void test('RET=HDRS and large messages return the header section only, bounded in size', async () => {
  const hdrs = await parse(buildDsn(base({ ret: 'HDRS' })).bytes);
  assert.equal(hdrs.parts[2]?.type, 'text/rfc822-headers');
  assert.doesNotMatch(hdrs.parts[2]?.raw ?? '', /Hi Bob/);

  // 5 MB message: the caller reads only what dsnBytesToRead says.
  const big = Buffer.concat([
    original.subarray(0, original.indexOf('\r\n\r\n') + 4),
    Buffer.alloc(5_000_000, 0x61),
  ]);
  const toRead = dsnBytesToRead(big.length);
  assert.equal(toRead, 64 * 1024);
  assert.equal(dsnBytesToRead(1000), 1000);
  const dsn = buildDsn(base({ original: big.subarray(0, toRead), originalSize: big.length, ret: 'FULL' }));
  assert.ok(dsn.bytes.length < 8 * 1024, `DSN of ${dsn.bytes.length} bytes`);
  const p = await parse(dsn.bytes);
  assert.equal(p.parts[2]?.type, 'text/rfc822-headers');
  assert.match(p.parts[2]?.raw ?? '', /^From: Alice/);

  // A header section larger than the bound is cut after a whole line.
  const hugeHeader = Buffer.from(`Subject: x\r\n${'X-Pad: 0123456789\r\n'.repeat(10000)}\r\nbody\r\n`);
  const cut = buildDsn(
    base({ original: hugeHeader, originalSize: hugeHeader.length, maxHeaderBytes: 1000, maxFullBytes: 100 }),
  );
  const q = await parse(cut.bytes);
  const raw = q.parts[2]?.raw ?? '';
  assert.ok(raw.length <= 1000 && raw.length > 900, `${raw.length}`);
  assert.match(raw, /^Subject: x\r\n(X-Pad: 0123456789\r\n)+$/);
});

void test('UTF-8 addresses or message: message/global-delivery-status and message/global (RFC 6533)', async () => {
  const utf8Original = Buffer.from('From: Jörg <jörg@local.test>\r\nSubject: Grüße\r\n\r\nHallo\r\n');
  const dsn = buildDsn(
    base({
      envelopeSender: 'jörg@local.test',
      original: utf8Original,
      originalSize: utf8Original.length,
      recipients: [
        {
          finalRecipient: 'σωκράτης@remote.test',
          orcpt: 'utf-8;\\x{3C3}\\x{3C9}\\x{3BA}r+2Bx@remote.test',
          action: 'failed',
          status: '5.1.1',
          remoteMta: 'mx1.remote.test',
          diagnostic: '550 5.1.1 unbekannter Empfänger',
        },
      ],
    }),
  );
  assert.equal(dsn.smtputf8, true);
  assert.equal(dsn.eightBit, true);
  const p = await parse(dsn.bytes);
  assert.equal(one(p.headers, 'To'), 'jörg@local.test');
  assert.equal(p.params['report-type'], 'global-delivery-status');
  assert.deepEqual(
    p.parts.map((x) => x.type),
    ['text/plain', 'message/global-delivery-status', 'message/global'],
  );
  const blocks = p.parts[1]?.blocks ?? [];
  assert.equal(one(blocks[0], 'Reporting-MTA'), 'dns; mx.local.test');
  assert.deepEqual(blocks[1], [
    ['Original-Recipient', 'utf-8; σωκr+x@remote.test'],
    ['Final-Recipient', 'utf-8; σωκράτης@remote.test'],
    ['Action', 'failed'],
    ['Status', '5.1.1'],
    ['Remote-MTA', 'dns; mx1.remote.test'],
    ['Diagnostic-Code', 'smtp; 550 5.1.1 unbekannter Empfänger'],
  ]);
  assert.equal(one(p.parts[2]?.inner_headers, 'Subject'), 'Grüße');
  assert.equal(p.parts[2]?.inner_body, 'Hallo\r\n');
  assert.ok(dsn.bytes.includes(utf8Original));

  // An ASCII envelope with a UTF-8 header section returns message/global-headers.
  const h = await parse(
    buildDsn(base({ ret: 'HDRS', original: utf8Original, originalSize: utf8Original.length })).bytes,
  );
  assert.equal(h.parts[2]?.type, 'message/global-headers');
  assert.equal(h.params['report-type'], 'global-delivery-status');
});

void test('never to the null sender; NOTIFY decides which actions are reported; bad input is refused', () => {
  for (const s of ['', '<>', ' ', null, undefined]) assert.equal(mayBounceTo(s), false);
  assert.equal(mayBounceTo('alice@local.test'), true);
  assert.throws(() => buildDsn(base({ envelopeSender: '<>' })), /null reverse-path/);
  assert.throws(() => buildDsn(base({ envelopeSender: '' })), /null reverse-path/);

  assert.equal(notifyWants(null, 'failed'), true);
  assert.equal(notifyWants(null, 'delayed'), true);
  assert.equal(notifyWants(null, 'delivered'), false);
  assert.equal(notifyWants(['NEVER'], 'failed'), false);
  assert.equal(notifyWants(['SUCCESS'], 'relayed'), true);
  assert.equal(notifyWants(['SUCCESS'], 'failed'), false);
  assert.equal(notifyWants(['FAILURE'], 'delayed'), false);
  assert.equal(notifyWants(['delay'], 'delayed'), true);

  const r = base().recipients[0];
  assert.ok(r !== undefined);
  const bad = (over: Partial<typeof r>): DsnInput => base({ recipients: [{ ...r, ...over }] });
  assert.throws(() => buildDsn(bad({ status: '5.1' })), /bad status/);
  assert.throws(() => buildDsn(bad({ status: '4.1.1' })), /does not fit/);
  assert.throws(() => buildDsn(bad({ action: 'delivered' })), /does not fit/);
  assert.throws(() => buildDsn(bad({ willRetryUntil: attempt })), /only for delayed/);
  assert.throws(() => buildDsn(bad({ finalRecipient: 'a b@c' })), /bad recipient address/);
  assert.throws(() => buildDsn(bad({ remoteMta: 'mx\r\nX: y' })), /bad host name/);
  assert.throws(() => buildDsn(base({ envelopeSender: 'x\r\nBcc: y@z' })), /bad envelope sender/);
  assert.throws(() => buildDsn(base({ recipients: [] })), /no recipient/);
  assert.throws(() => buildDsn(base({ reportingMta: 'a host' })), /bad host name/);
  assert.throws(() => buildDsn(base({ originalSize: 3 })), /originalSize/);
  assert.throws(() => buildDsn(base({ arrivalDate: new Date(NaN) })), /invalid date/);

  assert.equal(decodeXtext('a+2Bb+3Dc+'), 'a+b=c+');
  // An ENVID that decodes to controls or UTF-8 stays in its (ASCII) xtext form.
  const env = buildDsn(base({ envid: 'a+0D+0AReporting-MTA:+20x+C3+A9' })).bytes.toString('utf8');
  assert.match(env, /\r\nOriginal-Envelope-Id: a\+0D\+0AReporting-MTA:\+20x\+C3\+A9\r\n/);
  assert.equal(rfc5322Date(new Date(Date.UTC(2027, 0, 3, 4, 5, 6))), 'Sun, 03 Jan 2027 04:05:06 +0000');
});
