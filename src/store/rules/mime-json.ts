// The stored form of a MIME record (mail/mime/types.ts): JSON without the fields that hold their
// default (null, false, empty lists, a Sender or Reply-To equal to From), which decodeMime puts
// back. A tiny message's record shrinks from about 1.2 KB to about half: its blob row fits in
// its b-tree page (no overflow page per message) and fewer pages split per append.
// Invariants:
// - decodeMime(encodeMime(r)) deep-equals r for every record the indexer makes (tested on the
//   MIME corpus);
// - decodeMime reads the full form too (records stored before this encoding): a field that is
//   present is kept as it is, only missing ones get their default.

import type {
  Envelope,
  ImapAddress,
  MailAddress,
  MimePart,
  MimeRecord,
  SearchHeaders,
} from '../../mail/mime/types.js';

type Json = Record<string, unknown>;

/** `o` without its keys whose value is null or false, nor those of `lists` holding an empty array. */
function strip(o: object, lists: ReadonlySet<string> = NO_LISTS): Json {
  const out: Json = {};
  for (const [k, v] of Object.entries(o)) {
    if (v === null || v === false || (Array.isArray(v) && v.length === 0 && lists.has(k))) continue;
    out[k] = v;
  }
  return out;
}

const NO_LISTS: ReadonlySet<string> = new Set();
/** The list fields whose default is [] (decodeMime gives [] for them when missing). */
const PART_LISTS: ReadonlySet<string> = new Set(['children', 'params']);
const HEADER_LISTS: ReadonlySet<string> = new Set(['from', 'to', 'cc', 'bcc', 'references', 'names']);

function sameAddresses(a: ImapAddress[] | null, b: ImapAddress[] | null): boolean {
  return a !== null && JSON.stringify(a) === JSON.stringify(b);
}

function encodeEnvelope(e: Envelope): Json {
  const out = strip({
    ...e,
    from: e.from?.map((a) => strip(a)) ?? null,
    to: e.to?.map((a) => strip(a)) ?? null,
    cc: e.cc?.map((a) => strip(a)) ?? null,
    bcc: e.bcc?.map((a) => strip(a)) ?? null,
    sender: e.sender?.map((a) => strip(a)) ?? null,
    replyTo: e.replyTo?.map((a) => strip(a)) ?? null,
  });
  // Sender and Reply-To default to From (RFC 9051 §7.5.2): "=" says so.
  if (sameAddresses(e.sender, e.from)) out.sender = '=';
  if (sameAddresses(e.replyTo, e.from)) out.replyTo = '=';
  return out;
}

function encodePart(p: MimePart): Json {
  const message = p.message === null ? null : { ...p.message, envelope: encodeEnvelope(p.message.envelope) };
  const out = strip({ ...p, message }, PART_LISTS);
  // Sizes that follow from the offsets, and a zero depth or start, are left to decodeMime.
  if (p.headerSize === p.headerEnd - p.headerStart) delete out.headerSize;
  if (p.bodySize === p.bodyEnd - p.headerEnd) delete out.bodySize;
  if (p.depth === 0) delete out.depth;
  if (p.headerStart === 0) delete out.headerStart;
  return out;
}

function encodeHeaders(h: SearchHeaders): Json {
  const addresses = (list: MailAddress[]): Json[] =>
    list.map((a) => {
      const o: Json = { address: a.address };
      if (a.name !== '') o.name = a.name;
      if (a.group === true) o.group = true;
      return o;
    });
  const lists = { from: addresses(h.from), to: addresses(h.to), cc: addresses(h.cc), bcc: addresses(h.bcc) };
  return strip({ ...h, ...lists }, HEADER_LISTS);
}

/** A record the indexer made (fabricated ones in unit tests are stored and read as they are). */
function isIndexed(o: Partial<MimeRecord>): boolean {
  return (
    Array.isArray(o.parts) &&
    typeof o.headers === 'object' &&
    o.headers !== null &&
    typeof o.envelope === 'object'
  );
}

/** The stored JSON of a MIME record. */
export function encodeMime(r: MimeRecord): string {
  if (!isIndexed(r)) return JSON.stringify(r);
  const out: Json = {
    size: r.size,
    envelope: encodeEnvelope(r.envelope),
    parts: r.parts.map(encodePart),
    headers: encodeHeaders(r.headers),
  };
  if (r.preview !== '') out.preview = r.preview;
  if (r.truncated) out.truncated = true;
  return JSON.stringify(out);
}

function address(o: Json): ImapAddress {
  return {
    name: (o.name as string | undefined) ?? null,
    adl: (o.adl as string | undefined) ?? null,
    mailbox: (o.mailbox as string | undefined) ?? null,
    host: (o.host as string | undefined) ?? null,
  };
}

function addressList(v: unknown): ImapAddress[] | null {
  return Array.isArray(v) ? (v as Json[]).map(address) : null;
}

function envelope(o: Json): Envelope {
  const from = addressList(o.from);
  const alias = (v: unknown): ImapAddress[] | null => (v === '=' ? addressList(o.from) : addressList(v));
  return {
    date: (o.date as string | undefined) ?? null,
    subject: (o.subject as string | undefined) ?? null,
    from,
    sender: alias(o.sender),
    replyTo: alias(o.replyTo),
    to: addressList(o.to),
    cc: addressList(o.cc),
    bcc: addressList(o.bcc),
    inReplyTo: (o.inReplyTo as string | undefined) ?? null,
    messageId: (o.messageId as string | undefined) ?? null,
  };
}

function part(o: Json): MimePart {
  const message = o.message as { envelope: Json; root: number } | null | undefined;
  const headerStart = (o.headerStart as number | undefined) ?? 0;
  const headerEnd = o.headerEnd as number;
  const bodyEnd = o.bodyEnd as number;
  return {
    part: o.part as string,
    kind: o.kind as MimePart['kind'],
    parent: o.parent as number,
    children: (o.children as number[] | undefined) ?? [],
    depth: (o.depth as number | undefined) ?? 0,
    headerStart,
    headerEnd,
    bodyEnd,
    headerSize: (o.headerSize as number | undefined) ?? headerEnd - headerStart,
    bodySize: (o.bodySize as number | undefined) ?? bodyEnd - headerEnd,
    bodyLines: (o.bodyLines as number | undefined) ?? 0,
    type: o.type as string,
    subtype: o.subtype as string,
    params: (o.params as MimePart['params'] | undefined) ?? [],
    charset: (o.charset as string | undefined) ?? null,
    id: (o.id as string | undefined) ?? null,
    description: (o.description as string | undefined) ?? null,
    encoding: o.encoding as string,
    disposition: (o.disposition as MimePart['disposition'] | undefined) ?? null,
    language: (o.language as string[] | undefined) ?? null,
    location: (o.location as string | undefined) ?? null,
    md5: (o.md5 as string | undefined) ?? null,
    filename: (o.filename as string | undefined) ?? null,
    message: message == null ? null : { envelope: envelope(message.envelope), root: message.root },
    opaque: o.opaque === true,
  };
}

function mailAddresses(v: unknown): MailAddress[] {
  if (!Array.isArray(v)) return [];
  return (v as Json[]).map((o) => {
    const a: MailAddress = { name: (o.name as string | undefined) ?? '', address: o.address as string };
    if (o.group === true) a.group = true;
    return a;
  });
}

function headers(o: Json): SearchHeaders {
  return {
    subject: (o.subject as string | undefined) ?? '',
    baseSubject: (o.baseSubject as string | undefined) ?? '',
    from: mailAddresses(o.from),
    to: mailAddresses(o.to),
    cc: mailAddresses(o.cc),
    bcc: mailAddresses(o.bcc),
    date: (o.date as number | undefined) ?? null,
    messageId: (o.messageId as string | undefined) ?? null,
    inReplyTo: (o.inReplyTo as string | undefined) ?? null,
    references: (o.references as string[] | undefined) ?? [],
    listId: (o.listId as string | undefined) ?? null,
    names: (o.names as string[] | undefined) ?? [],
  };
}

/** A MIME record from its stored JSON (either form). */
export function decodeMime(text: string): MimeRecord {
  const o = JSON.parse(text) as Json;
  if (!isIndexed(o as Partial<MimeRecord>)) return o as unknown as MimeRecord;
  return {
    size: o.size as number,
    envelope: envelope(o.envelope as Json),
    parts: (o.parts as Json[]).map(part),
    headers: headers(o.headers as Json),
    preview: (o.preview as string | undefined) ?? '',
    truncated: o.truncated === true,
  };
}
