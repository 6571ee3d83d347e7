// What IMAP SEARCH compares against for the five address/subject keys (RFC 9051 §6.4.4: SUBJECT,
// FROM, TO, CC, BCC match the decoded field case-insensitively), computed once per blob from the
// MIME record, so the store can keep it beside the blob and match it without parsing the
// record again; and where the text parts are (BODY searches them).
// Both sides of a comparison are folded with foldSearchText: a case-insensitive substring test
// is then `haystack.includes(needle)`, or SQLite's instr() on the stored text.

import type { MailAddress, MimePart, MimeRecord } from './types.js';

export type SearchField = 'subject' | 'from' | 'to' | 'cc' | 'bcc';
export const SEARCH_FIELDS: readonly SearchField[] = ['subject', 'from', 'to', 'cc', 'bcc'];

/**
 * Stored in place of a field's text when the field exists but its addresses could not be
 * parsed: the caller must read the header itself to decide.
 */
export const FIELD_UNPARSED = '\u0001';

/** Case folding for SEARCH (RFC 9051 §6.4.4 "case-insensitive"). */
export function foldSearchText(s: string): string {
  return s.toLowerCase();
}

/** An address list as searched: `Name <addr>` joined by ", ", a group's start as `name:`. */
export function addressText(list: readonly MailAddress[]): string {
  let out = '';
  for (const a of list) {
    if (out !== '') out += ', ';
    out += a.group === true ? `${a.name}:` : a.name === '' ? a.address : `${a.name} <${a.address}>`;
  }
  return out;
}

/** Folded text of a field, null when the message has no such field, or FIELD_UNPARSED. */
export function searchFieldText(record: MimeRecord, field: SearchField): string | null {
  const h = record.headers;
  if (field === 'subject') return h.names.includes('subject') ? foldSearchText(h.subject) : null;
  const list = h[field];
  if (list.length > 0) return foldSearchText(addressText(list));
  return h.names.includes(field) ? FIELD_UNPARSED : null;
}

/** A text part's body: [start, end) byte offsets, transfer encoding, charset. */
export type TextPartRange = [start: number, end: number, encoding: string, charset: string | null];

/** A leaf entity whose body is text: text/* parts, and a top-level message that is not multipart. */
export function isTextLeaf(part: MimePart): boolean {
  return part.children.length === 0 && !part.opaque && part.type === 'text';
}

export function textPartRanges(record: MimeRecord): TextPartRange[] {
  const out: TextPartRange[] = [];
  for (const part of record.parts) {
    if (isTextLeaf(part)) out.push([part.headerEnd, part.bodyEnd, part.encoding, part.charset]);
  }
  return out;
}
