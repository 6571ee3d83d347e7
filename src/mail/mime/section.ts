// Resolves an IMAP body section (RFC 9051 §6.4.5 FETCH BODY[<section>]) to a byte range of the
// stored message, from the part table alone: no re-parsing.
//
// Numbering rules: parts of a multipart are 1, 2, ...; a message/rfc822 part N holds a message
// whose parts are N.1, N.2 ... (or, when that message is not multipart, whose body is N.1); the
// body of a non-multipart message is its part 1, and its MIME header is then the message header.

import type { MimePart, MimeRecord } from './types.js';

/** The part-specifier text: "" (the part itself), MIME, HEADER or TEXT. HEADER.FIELDS[.NOT] read HEADER. */
export type SectionText = '' | 'MIME' | 'HEADER' | 'TEXT';

export interface ByteRange {
  start: number;
  end: number;
}

function isMessage(p: MimePart): boolean {
  return p.type === 'message' && (p.subtype === 'rfc822' || p.subtype === 'global');
}

/** Parses "1.2.3" into [1, 2, 3]; "" gives []; anything else gives null. */
export function parsePartNumber(part: string): number[] | null {
  if (part === '') return [];
  const out: number[] = [];
  for (const piece of part.split('.')) {
    if (!/^[1-9][0-9]{0,8}$/.test(piece)) return null;
    out.push(Number(piece));
  }
  return out;
}

/** Walks a part path; role "part" means the entity is addressed as a body part. */
function resolve(record: MimeRecord, path: number[]): { idx: number; role: 'message' | 'part' } | null {
  if (record.parts.length === 0) return null;
  let idx = 0;
  let role: 'message' | 'part' = 'message';
  for (const k of path) {
    if (!Number.isInteger(k) || k < 1) return null;
    let p = record.parts[idx];
    if (role === 'part' && isMessage(p)) {
      if (p.message === null) return null;
      idx = p.message.root;
      role = 'message';
      p = record.parts[idx];
    } else if (role === 'part' && p.type !== 'multipart') {
      return null;
    }
    if (p.type === 'multipart') {
      const child = p.children[k - 1];
      if (child === undefined) return null;
      idx = child;
      role = 'part';
    } else if (role === 'message' && k === 1) {
      role = 'part';
    } else {
      return null;
    }
  }
  return { idx, role };
}

/**
 * The byte range of BODY[part.text] or null when the message has no such section.
 * BODY[] is `sectionRange(r, '', '')`; BODY[HEADER] is `sectionRange(r, '', 'HEADER')`.
 */
export function sectionRange(
  record: MimeRecord,
  part: string | number[],
  text: SectionText,
): ByteRange | null {
  const path = typeof part === 'string' ? parsePartNumber(part) : part;
  if (path === null) return null;
  const at = resolve(record, path);
  if (at === null) return null;
  const { idx, role } = at;
  const p = record.parts[idx];
  switch (text) {
    case '':
      return role === 'message'
        ? { start: p.headerStart, end: p.bodyEnd }
        : { start: p.headerEnd, end: p.bodyEnd };
    case 'MIME':
      return role === 'message' ? null : { start: p.headerStart, end: p.headerEnd };
    case 'HEADER':
    case 'TEXT': {
      let m: MimePart = p;
      if (role === 'part') {
        if (!isMessage(p) || p.message === null) return null;
        m = record.parts[p.message.root];
      }
      return text === 'HEADER'
        ? { start: m.headerStart, end: m.headerEnd }
        : { start: m.headerEnd, end: m.bodyEnd };
    }
  }
}

/**
 * The entity whose body BODY[part] returns (for its type, encoding and charset), or null.
 * "" gives the message itself.
 */
export function findPart(record: MimeRecord, part: string | number[]): MimePart | null {
  const path = typeof part === 'string' ? parsePartNumber(part) : part;
  if (path === null) return null;
  const at = resolve(record, path);
  return at === null ? null : record.parts[at.idx];
}
