// Delivery status notifications: RFC 3464 message/delivery-status inside an RFC 6522
// multipart/report, with RFC 6533's message/global-delivery-status when an address or the
// returned message needs UTF-8. Built in memory as the bytes to store and send.
// Invariants:
// - every field value comes out on its own line(s): CR, LF and other controls from the remote
//   reply, the addresses or the ENVID never reach the output; folded lines stay under 998 octets;
// - the size is bounded: the original is returned whole only when it is at most maxFullBytes
//   (and the report is about a failure), else its header section, cut at maxHeaderBytes; the
//   diagnostic of each recipient is cut at MAX_DIAGNOSTIC characters, and recipients at
//   MAX_RECIPIENTS;
// - the boundary occurs in no part (checked);
// - a DSN is never addressed to the null reverse-path: buildDsn refuses it (mayBounceTo says
//   beforehand, RFC 3461 §6.2 / RFC 5321 §4.5.5), so bounces cannot loop.

import { randomBytes } from 'node:crypto';

export type DsnAction = 'failed' | 'delayed' | 'delivered' | 'relayed' | 'expanded';

export interface DsnRecipient {
  /** The address we tried (RCPT TO), without angle brackets. */
  finalRecipient: string;
  /** The ORCPT parameter as received, "addr-type;xtext" (RFC 3461 §4.2), or null. */
  orcpt?: string | null;
  action: DsnAction;
  /** RFC 3463 status, "x.y.z"; its class must fit the action (5 failed, 4 delayed, 2 otherwise). */
  status: string;
  /** The host name of the remote MTA that gave `diagnostic`, if any. */
  remoteMta?: string | null;
  /** The remote SMTP reply ("550 5.1.1 no such user"); the lines of a multi-line reply are joined. */
  diagnostic?: string | null;
  lastAttemptDate?: Date | null;
  /** Only for `delayed`: when we give up. */
  willRetryUntil?: Date | null;
}

export interface DsnInput {
  /** Our host name (Reporting-MTA, the From domain, the Message-ID). */
  reportingMta: string;
  /** The original reverse-path; must not be empty (the null sender gets no DSN). */
  envelopeSender: string;
  /** The ENVID parameter as received (xtext), or null. */
  envid?: string | null;
  /** The RET parameter (RFC 3461 §4.3), or null when not given. */
  ret?: 'FULL' | 'HDRS' | null;
  arrivalDate: Date;
  recipients: DsnRecipient[];
  /** The original message as stored, or at least its first dsnBytesToRead(...) bytes. */
  original: Uint8Array;
  /** The size of the whole original message. */
  originalSize: number;
  /** Largest original returned whole (default 1 MiB); larger ones return their headers. */
  maxFullBytes?: number;
  /** Largest header section returned (default 64 KiB). */
  maxHeaderBytes?: number;
  /** For tests: the Date header, the Message-ID and the boundary. */
  date?: Date;
  messageId?: string;
  boundary?: string;
}

export interface Dsn {
  bytes: Buffer;
  /** The report carries UTF-8 in header fields or addresses: send with SMTPUTF8 (RFC 6531). */
  smtputf8: boolean;
  /** Some part is 8bit: send with BODY=8BITMIME (RFC 6152). */
  eightBit: boolean;
}

export const DSN_DEFAULTS = { maxFullBytes: 1024 * 1024, maxHeaderBytes: 64 * 1024 } as const;

/** Most per-recipient blocks in one report (the rest are summarised in the text part). */
export const MAX_RECIPIENTS = 1000;
/** Longest Diagnostic-Code text kept, in characters. */
export const MAX_DIAGNOSTIC = 1000;

/** RFC 3461 §6.2, RFC 5321 §4.5.5: no notification is ever sent to the null reverse-path. */
export function mayBounceTo(envelopeSender: string | null | undefined): boolean {
  if (envelopeSender === null || envelopeSender === undefined) return false;
  const s = envelopeSender.trim();
  return s !== '' && s !== '<>';
}

/**
 * RFC 3461 §4.1: whether the recipient's NOTIFY asks for a report of this action. Without
 * NOTIFY, failures and delays are reported (§4.1: "as if NOTIFY=FAILURE,DELAY").
 */
export function notifyWants(notify: readonly string[] | null | undefined, action: DsnAction): boolean {
  const set = new Set((notify ?? ['FAILURE', 'DELAY']).map((n) => n.toUpperCase()));
  if (set.has('NEVER')) return false;
  if (action === 'failed') return set.has('FAILURE');
  if (action === 'delayed') return set.has('DELAY');
  return set.has('SUCCESS');
}

/** How many bytes of the original buildDsn may use: read this many from the stored message. */
export function dsnBytesToRead(
  originalSize: number,
  opts: { maxFullBytes?: number; maxHeaderBytes?: number } = {},
): number {
  const full = opts.maxFullBytes ?? DSN_DEFAULTS.maxFullBytes;
  const headers = opts.maxHeaderBytes ?? DSN_DEFAULTS.maxHeaderBytes;
  return originalSize <= full ? originalSize : Math.min(originalSize, headers);
}

const STATUS = /^([245])\.(\d{1,3})\.(\d{1,3})$/;
const CLASS_OF: Readonly<Record<DsnAction, string>> = {
  failed: '5',
  delayed: '4',
  delivered: '2',
  relayed: '2',
  expanded: '2',
};

export function buildDsn(input: DsnInput): Dsn {
  if (!mayBounceTo(input.envelopeSender)) {
    throw new Error('DSN: the null reverse-path never gets a notification');
  }
  const host = hostName(input.reportingMta);
  if (input.recipients.length === 0) throw new Error('DSN: no recipient to report');
  const maxFull = input.maxFullBytes ?? DSN_DEFAULTS.maxFullBytes;
  const maxHeader = input.maxHeaderBytes ?? DSN_DEFAULTS.maxHeaderBytes;
  if (!Number.isInteger(input.originalSize) || input.originalSize < input.original.length) {
    throw new Error('DSN: originalSize must be the whole message size');
  }

  const sender = addressText(input.envelopeSender, 'envelope sender');
  const recipients = input.recipients.slice(0, MAX_RECIPIENTS).map((r) => recipientFields(r));
  const anyFailed = input.recipients.some((r) => r.action === 'failed');
  const actions = new Set(input.recipients.map((r) => r.action));

  // What of the original goes back (RFC 3461 §4.3; headers only for reports without a failure).
  const full =
    anyFailed &&
    input.ret !== 'HDRS' &&
    input.originalSize <= maxFull &&
    input.original.length === input.originalSize;
  const returned = full ? Buffer.from(input.original) : headerSection(input.original, maxHeader);
  const originalUtf8 = hasNonAscii(full ? headerSection(input.original, maxHeader) : returned);
  const originalEightBit = hasNonAscii(returned);

  const global =
    !isAscii(sender) || recipients.some((r) => r.utf8) || originalUtf8 || !isAscii(input.envid ?? '');

  // Per-message fields (RFC 3464 §2.2).
  const perMessage: string[] = [`Reporting-MTA: dns; ${host}`];
  if (input.envid !== null && input.envid !== undefined && input.envid !== '') {
    perMessage.push(`Original-Envelope-Id: ${envelopeId(input.envid)}`);
  }
  perMessage.push(`Arrival-Date: ${rfc5322Date(input.arrivalDate)}`);
  const statusBody = [perMessage, ...recipients.map((r) => r.lines)]
    .map((block) => block.map((l) => fold(l)).join('\r\n') + '\r\n')
    .join('\r\n');

  // The human-readable part.
  const text = humanText(host, input.recipients.length, recipients, actions);
  const textEightBit = !isAscii(text);

  const parts: Array<{ headers: string[]; body: Buffer }> = [
    {
      headers: [
        'Content-Type: text/plain; charset=utf-8',
        `Content-Transfer-Encoding: ${textEightBit ? '8bit' : '7bit'}`,
      ],
      body: Buffer.from(text, 'utf8'),
    },
    {
      headers: [
        `Content-Type: message/${global ? 'global-delivery-status' : 'delivery-status'}`,
        `Content-Transfer-Encoding: ${isAscii(statusBody) ? '7bit' : '8bit'}`,
      ],
      body: Buffer.from(statusBody, 'utf8'),
    },
  ];
  const returnedType = full
    ? originalUtf8
      ? 'message/global'
      : 'message/rfc822'
    : originalUtf8
      ? 'message/global-headers'
      : 'text/rfc822-headers';
  parts.push({
    headers: [
      `Content-Type: ${returnedType}`,
      `Content-Transfer-Encoding: ${originalEightBit ? '8bit' : '7bit'}`,
      ...(full ? [] : ['Content-Description: the header section of the original message']),
    ],
    body: returned,
  });

  const boundary = input.boundary ?? pickBoundary(parts.map((p) => p.body));
  if (!/^[0-9A-Za-z'()+_,./:=?-]{1,69}[0-9A-Za-z'()+_,./:=?-]$/.test(boundary)) {
    throw new Error('DSN: bad boundary');
  }
  if (parts.some((p) => p.body.includes(`--${boundary}`))) throw new Error('DSN: boundary occurs in a part');

  const subject = anyFailed
    ? 'Undelivered Mail Returned to Sender'
    : actions.has('delayed')
      ? 'Delayed Mail (still being retried)'
      : 'Successful Mail Delivery Report';
  const date = input.date ?? new Date();
  const messageId = input.messageId ?? `${randomBytes(12).toString('hex')}@${host}`;
  const eightBit = textEightBit || global || originalEightBit;
  const head = [
    `From: Mail Delivery System <MAILER-DAEMON@${host}>`,
    `To: <${sender}>`,
    `Subject: ${subject}`,
    `Date: ${rfc5322Date(date)}`,
    `Message-ID: <${messageId}>`,
    // RFC 3834 §5: a response generated automatically.
    'Auto-Submitted: auto-replied',
    'MIME-Version: 1.0',
    `Content-Type: multipart/report; report-type=${global ? 'global-delivery-status' : 'delivery-status'};`,
    `\tboundary="${boundary}"`,
    `Content-Transfer-Encoding: ${eightBit ? '8bit' : '7bit'}`,
  ];
  const chunks: Buffer[] = [
    Buffer.from(
      head.join('\r\n') + '\r\n\r\nThis is a MIME-encapsulated delivery status notification.\r\n',
      'utf8',
    ),
  ];
  for (const p of parts) {
    chunks.push(Buffer.from(`\r\n--${boundary}\r\n${p.headers.join('\r\n')}\r\n\r\n`, 'utf8'), p.body);
    if (p.body.length > 0 && !endsWithLineBreak(p.body)) chunks.push(Buffer.from('\r\n'));
  }
  chunks.push(Buffer.from(`\r\n--${boundary}--\r\n`));
  return { bytes: Buffer.concat(chunks), smtputf8: !isAscii(sender) || global, eightBit };
}

interface RecipientFields {
  lines: string[];
  utf8: boolean;
  summary: string;
}

function recipientFields(r: DsnRecipient): RecipientFields {
  const m = STATUS.exec(r.status);
  if (m === null) throw new Error(`DSN: bad status ${JSON.stringify(r.status)}`);
  if (CLASS_OF[r.action] !== m[1]) {
    throw new Error(`DSN: status ${r.status} does not fit action ${r.action}`);
  }
  const finalAddr = addressText(r.finalRecipient, 'recipient');
  const lines: string[] = [];
  let utf8 = !isAscii(finalAddr);
  if (r.orcpt !== null && r.orcpt !== undefined && r.orcpt !== '') {
    const orcpt = originalRecipient(r.orcpt);
    if (orcpt !== null) {
      if (!isAscii(orcpt)) utf8 = true;
      lines.push(`Original-Recipient: ${orcpt}`);
    }
  }
  // RFC 6533 §3: a UTF-8 address is of type utf-8.
  lines.push(`Final-Recipient: ${isAscii(finalAddr) ? 'rfc822' : 'utf-8'}; ${finalAddr}`);
  lines.push(`Action: ${r.action}`);
  lines.push(`Status: ${r.status}`);
  if (r.remoteMta !== null && r.remoteMta !== undefined && r.remoteMta !== '') {
    lines.push(`Remote-MTA: dns; ${hostName(r.remoteMta)}`);
  }
  let diagnostic: string | null = null;
  if (r.diagnostic !== null && r.diagnostic !== undefined && r.diagnostic !== '') {
    diagnostic = cleanText(r.diagnostic, MAX_DIAGNOSTIC);
    if (!isAscii(diagnostic)) utf8 = true;
    lines.push(`Diagnostic-Code: smtp; ${diagnostic}`);
  }
  if (r.lastAttemptDate) lines.push(`Last-Attempt-Date: ${rfc5322Date(r.lastAttemptDate)}`);
  if (r.willRetryUntil) {
    if (r.action !== 'delayed') throw new Error('DSN: Will-Retry-Until is only for delayed recipients');
    lines.push(`Will-Retry-Until: ${rfc5322Date(r.willRetryUntil)}`);
  }
  const summary = `<${finalAddr}>: ${diagnostic ?? r.status}`;
  return { lines, utf8, summary };
}

function humanText(
  host: string,
  total: number,
  recipients: RecipientFields[],
  actions: Set<DsnAction>,
): string {
  const out: string[] = [`This is the mail system at host ${host}.`, ''];
  if (actions.has('failed')) {
    out.push('Your message could not be delivered to one or more recipients.');
    out.push('It (or its header section) is attached below. The mail system said:');
  } else if (actions.has('delayed')) {
    out.push('Your message has not been delivered yet to one or more recipients.');
    out.push('The mail system will keep trying; you need not send it again. It said:');
  } else {
    out.push('Your message was delivered (or passed on) as you asked to be told:');
  }
  out.push('');
  for (const r of recipients) out.push(r.summary);
  if (total > recipients.length) out.push(`(and ${total - recipients.length} more recipients)`);
  out.push('');
  return out.map((l) => fold(l)).join('\r\n');
}

/** RFC 3464 §2.3.1: the ORCPT value with its xtext decoded; null when unusable. */
function originalRecipient(orcpt: string): string | null {
  const semi = orcpt.indexOf(';');
  if (semi <= 0) return null;
  const type = orcpt.slice(0, semi).trim();
  if (!/^[A-Za-z0-9-]{1,40}$/.test(type)) return null;
  let value = decodeXtext(orcpt.slice(semi + 1));
  // RFC 6533 §3: utf-8-addr-xtext writes non-ASCII as \x{HEX}.
  if (type.toLowerCase() === 'utf-8') value = decodeUnicodeEscapes(value);
  const clean = cleanText(value, 500);
  if (clean === '') return null;
  return `${type}; ${clean}`;
}

/**
 * RFC 3464 §2.2.1: the ENVID with its xtext decoded; kept in xtext form when the decoded value
 * is not printable ASCII (the field is ASCII in message/delivery-status).
 */
function envelopeId(envid: string): string {
  const decoded = decodeXtext(envid);
  const printableAscii = /^[\x21-\x7e]+$/.test(decoded);
  return printableAscii ? decoded : cleanText(envid, 200);
}

/** RFC 3461 §4: "+" and two upper-case hex digits stand for that octet. */
export function decodeXtext(xtext: string): string {
  const bytes: number[] = [];
  for (let i = 0; i < xtext.length; i++) {
    const c = xtext.charCodeAt(i);
    if (c === 0x2b && /^[0-9A-Fa-f]{2}$/.test(xtext.slice(i + 1, i + 3))) {
      bytes.push(parseInt(xtext.slice(i + 1, i + 3), 16));
      i += 2;
    } else {
      for (const b of Buffer.from(xtext[i] ?? '', 'utf8')) bytes.push(b);
    }
  }
  return Buffer.from(bytes).toString('utf8');
}

function decodeUnicodeEscapes(s: string): string {
  return s.replace(/\\x\{([0-9A-Fa-f]{1,6})\}/g, (all, hex: string) => {
    const cp = parseInt(hex, 16);
    return cp <= 0x10ffff && (cp < 0xd800 || cp > 0xdfff) ? String.fromCodePoint(cp) : all;
  });
}

/** An address for a field: no angle brackets, no controls or spaces, bounded. */
function addressText(address: string, what: string): string {
  let a = address.trim();
  if (a.startsWith('<') && a.endsWith('>')) a = a.slice(1, -1);
  if (a.length === 0 || a.length > 512 || /[\x00-\x20\x7f<>]/.test(a)) {
    throw new Error(`DSN: bad ${what} address ${JSON.stringify(address.slice(0, 100))}`);
  }
  return a;
}

function hostName(name: string): string {
  const h = name.endsWith('.') ? name.slice(0, -1) : name;
  if (!/^[A-Za-z0-9._:[\]-]{1,253}$/.test(h))
    throw new Error(`DSN: bad host name ${JSON.stringify(name.slice(0, 100))}`);
  return h;
}

/** One line of text: controls (CR, LF, TAB, NUL...) become spaces, runs collapse, bounded. */
function cleanText(s: string, max: number): string {
  let out = '';
  let space = false;
  for (const ch of s) {
    const c = ch.codePointAt(0) ?? 0;
    const isSpace = c <= 0x20 || c === 0x7f || (c >= 0x80 && c < 0xa0) || c === 0xfffd;
    if (isSpace) {
      space = out.length > 0;
      continue;
    }
    if (space) out += ' ';
    space = false;
    out += ch;
    if (out.length >= max) break;
  }
  return out;
}

/**
 * Folds a field at spaces so lines stay near 78 characters and never reach 998 octets
 * (RFC 5322 §2.1.1, §2.2.3). A word longer than HARD_BREAK characters is broken (unfolding then
 * shows a space inside it): bounded output matters more than that word.
 */
function fold(line: string): string {
  if (Buffer.byteLength(line) <= 78) return line;
  const lines: string[] = [];
  let cur = '';
  for (let word of line.split(' ')) {
    while (word.length > HARD_BREAK) {
      if (cur !== '') lines.push(cur);
      cur = '';
      lines.push(word.slice(0, HARD_BREAK));
      word = word.slice(HARD_BREAK);
    }
    if (cur === '') cur = word;
    else if (Buffer.byteLength(cur) + 1 + Buffer.byteLength(word) <= 78) cur += ' ' + word;
    else {
      lines.push(cur);
      cur = word;
    }
  }
  lines.push(cur);
  return lines.join('\r\n ');
}

/** Characters per hard-broken piece: at most 4 octets each in UTF-8, so under 998 octets. */
const HARD_BREAK = 200;

/** The header section of a message (up to and including its blank line), cut at `max` bytes. */
function headerSection(msg: Uint8Array, max: number): Buffer {
  const buf = Buffer.from(msg.buffer, msg.byteOffset, Math.min(msg.length, max + 4));
  for (let i = 0; i < buf.length; i++) {
    if (buf[i] !== 0x0a) continue;
    // A line that is empty (LF or CRLF) ends the header section.
    if (buf[i + 1] === 0x0a) return cutAtLine(Buffer.from(buf.subarray(0, i + 1)), max);
    if (buf[i + 1] === 0x0d && buf[i + 2] === 0x0a) {
      return cutAtLine(Buffer.from(buf.subarray(0, i + 1)), max);
    }
  }
  return cutAtLine(Buffer.from(buf.subarray(0, Math.min(buf.length, max))), max);
}

/** At most `max` bytes, ending after the last whole line (a header is never cut mid-line). */
function cutAtLine(b: Buffer, max: number): Buffer {
  if (b.length <= max && endsWithLineBreak(b)) return b;
  const part = b.subarray(0, Math.min(b.length, max));
  const lf = part.lastIndexOf(0x0a);
  return lf < 0 ? Buffer.alloc(0) : Buffer.from(part.subarray(0, lf + 1));
}

function endsWithLineBreak(b: Buffer): boolean {
  return b.length > 0 && b[b.length - 1] === 0x0a;
}

function pickBoundary(bodies: Buffer[]): string {
  for (let i = 0; i < 8; i++) {
    const b = `=_dsn_${randomBytes(18).toString('base64url')}`;
    if (!bodies.some((p) => p.includes(`--${b}`))) return b;
  }
  throw new Error('DSN: no boundary found');
}

/** RFC 5322 §3.3 date-time in UTC: "Mon, 07 Dec 2026 00:05:34 +0000". */
export function rfc5322Date(d: Date): string {
  if (Number.isNaN(d.getTime())) throw new Error('DSN: invalid date');
  const days = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
  const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
  const p = (n: number): string => String(n).padStart(2, '0');
  return (
    `${days[d.getUTCDay()] ?? ''}, ${p(d.getUTCDate())} ${months[d.getUTCMonth()] ?? ''} ${d.getUTCFullYear()} ` +
    `${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} +0000`
  );
}

function isAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) return false;
  return true;
}

function hasNonAscii(b: Buffer): boolean {
  for (const x of b) if (x > 0x7f) return true;
  return false;
}
