// IMAP BODY and BODYSTRUCTURE (RFC 9051 §7.5.2, RFC 3501 §7.4.2) from the part table, without
// re-parsing the message. `bodystructure()` returns a plain nested value in the order IMAP sends
// the fields; `formatBodystructure()` writes it as IMAP text, minding the two places where the
// grammar puts lists next to each other without a space (the bodies of body-type-mpart and the
// addresses of an address list).

import { EMPTY_ENVELOPE } from './envelope.js';
import type { Envelope, ImapAddress, MimeParam, MimePart, MimeRecord } from './types.js';

/** An IMAP value: a string, a number, NIL (null) or a parenthesized list. */
export type ImapValue = string | number | null | ImapValue[];

export interface BodystructureOptions {
  /** BODYSTRUCTURE (true) carries extension data; BODY (false) does not. */
  extended: boolean;
  /**
   * The client may receive UTF-8 (IMAP4rev2, or UTF8=ACCEPT enabled). Otherwise parameter values with
   * non-ASCII characters are sent in RFC 2231 form (name*=utf-8''...).
   */
  utf8?: boolean;
}

/** RFC 3501 §7.4.2: a multipart must have at least one body; an empty one gets this placeholder. */
function emptyBody(): ImapValue[] {
  return ['TEXT', 'PLAIN', ['CHARSET', 'US-ASCII'], null, null, '7BIT', 0, 0];
}

/** Nesting guard: the indexer bounds depth by limits.mimeDepth, this bounds a corrupted record too. */
const MAX_DEPTH = 256;

function isAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7e) return false;
  return true;
}

/** RFC 2231 §4 extended value for a parameter, as UTF-8 percent-encoded bytes. */
function rfc2231(value: string): string {
  let out = "utf-8''";
  for (const byte of Buffer.from(value, 'utf8')) {
    const ch = String.fromCharCode(byte);
    // attribute-char: any CHAR except SPACE, CTLs, "*", "'", "%", or tspecials.
    if (byte > 0x20 && byte < 0x7f && !'*\'%()<>@,;:\\"/[]?='.includes(ch)) out += ch;
    else out += '%' + byte.toString(16).toUpperCase().padStart(2, '0');
  }
  return out;
}

function paramList(params: MimeParam[], utf8: boolean): ImapValue {
  if (params.length === 0) return null;
  const out: ImapValue[] = [];
  for (const [name, value] of params) {
    if (!utf8 && !isAscii(value)) out.push(`${name}*`, rfc2231(value));
    else out.push(name, value);
  }
  return out;
}

function disposition(p: MimePart, utf8: boolean): ImapValue {
  if (p.disposition === null) return null;
  return [p.disposition.type.toUpperCase(), paramList(p.disposition.params, utf8)];
}

function language(p: MimePart): ImapValue {
  if (p.language === null || p.language.length === 0) return null;
  return p.language.length === 1 ? p.language[0] : [...p.language];
}

function addressList(list: ImapAddress[] | null): ImapValue {
  if (list === null || list.length === 0) return null;
  return list.map((a) => [a.name, a.adl, a.mailbox, a.host]);
}

/** The ENVELOPE value (RFC 9051 §7.5.2), also used for FETCH ENVELOPE. */
export function envelopeValue(e: Envelope): ImapValue[] {
  return [
    e.date,
    e.subject,
    addressList(e.from),
    addressList(e.sender),
    addressList(e.replyTo),
    addressList(e.to),
    addressList(e.cc),
    addressList(e.bcc),
    e.inReplyTo,
    e.messageId,
  ];
}

function isMessage(p: MimePart): boolean {
  return p.type === 'message' && (p.subtype === 'rfc822' || p.subtype === 'global');
}

function describe(record: MimeRecord, idx: number, opts: BodystructureOptions, depth: number): ImapValue[] {
  const p = record.parts[idx];
  if (p === undefined || depth > MAX_DEPTH) return emptyBody();
  const utf8 = opts.utf8 === true;
  if (p.type === 'multipart') {
    const out: ImapValue[] = [];
    for (const c of p.children) out.push(describe(record, c, opts, depth + 1));
    if (out.length === 0) out.push(emptyBody());
    out.push(p.subtype.toUpperCase());
    if (opts.extended) out.push(paramList(p.params, utf8), disposition(p, utf8), language(p), p.location);
    return out;
  }
  const out: ImapValue[] = [
    p.type.toUpperCase(),
    p.subtype.toUpperCase(),
    paramList(p.params, utf8),
    p.id,
    p.description,
    p.encoding.toUpperCase(),
    p.bodySize,
  ];
  if (isMessage(p)) {
    if (p.message !== null) {
      out.push(envelopeValue(p.message.envelope), describe(record, p.message.root, opts, depth + 1));
    } else {
      // Not indexed (encoded, or beyond a limit): the grammar still needs an envelope and a body.
      out.push(envelopeValue(EMPTY_ENVELOPE), emptyBody());
    }
    out.push(p.bodyLines);
  } else if (p.type === 'text') {
    out.push(p.bodyLines);
  }
  if (opts.extended) out.push(p.md5, disposition(p, utf8), language(p), p.location);
  return out;
}

/** The BODY (extended: false) or BODYSTRUCTURE (extended: true) value of a message. */
export function bodystructure(record: MimeRecord, opts: BodystructureOptions): ImapValue[] {
  if (record.parts.length === 0) return emptyBody();
  return describe(record, 0, opts, 0);
}

/** An IMAP string: quoted when it can be, a literal otherwise (CR, LF, NUL, or 8-bit without utf8). */
export function imapString(s: string, utf8 = false): string {
  let quotable = s.length <= 1024;
  for (let i = 0; quotable && i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0 || c === 0x0a || c === 0x0d || (!utf8 && c > 0x7e)) quotable = false;
  }
  if (quotable) return `"${s.replace(/[\\"]/g, (m) => `\\${m}`)}"`;
  return `{${Buffer.byteLength(s, 'utf8')}}\r\n${s}`;
}

function atomOrString(v: ImapValue, utf8: boolean): string {
  if (v === null) return 'NIL';
  if (typeof v === 'number') return String(v);
  if (typeof v === 'string') return imapString(v, utf8);
  return `(${v.map((x) => atomOrString(x, utf8)).join(' ')})`;
}

function formatAddressList(v: ImapValue, utf8: boolean): string {
  if (!Array.isArray(v)) return atomOrString(v, utf8);
  return `(${v.map((a) => atomOrString(a, utf8)).join('')})`;
}

/** Writes an ENVELOPE value as IMAP text. */
export function formatEnvelope(v: ImapValue, utf8 = false): string {
  if (!Array.isArray(v)) return atomOrString(v, utf8);
  return `(${v.map((x, i) => (i >= 2 && i <= 7 ? formatAddressList(x, utf8) : atomOrString(x, utf8))).join(' ')})`;
}

/** Writes a BODY / BODYSTRUCTURE value as IMAP text. */
export function formatBodystructure(v: ImapValue, utf8 = false): string {
  if (!Array.isArray(v)) return atomOrString(v, utf8);
  if (v.length > 0 && Array.isArray(v[0])) {
    // body-type-mpart = 1*body SP media-subtype [SP body-ext-mpart]
    let bodies = '';
    let i = 0;
    while (i < v.length && Array.isArray(v[i])) bodies += formatBodystructure(v[i++], utf8);
    const rest = v.slice(i).map((x) => atomOrString(x, utf8));
    return `(${[bodies, ...rest].join(' ')})`;
  }
  const message =
    typeof v[0] === 'string' &&
    v[0].toUpperCase() === 'MESSAGE' &&
    typeof v[1] === 'string' &&
    (v[1].toUpperCase() === 'RFC822' || v[1].toUpperCase() === 'GLOBAL') &&
    v.length >= 10;
  const items = v.map((x, i) => {
    if (message && i === 7) return formatEnvelope(x, utf8);
    if (message && i === 8) return formatBodystructure(x, utf8);
    return atomOrString(x, utf8);
  });
  return `(${items.join(' ')})`;
}
