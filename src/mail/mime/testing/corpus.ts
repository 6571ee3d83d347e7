// Test-corpus generator for the MIME indexer: builds messages from a small tree description and
// records, independently of the indexer, where every entity's header and body lie, its IMAP part
// number and its line count, so tests can slice the bytes and compare.

import iconv from 'iconv-lite';

export type Eol = '\r\n' | '\n';

export interface GenEntity {
  /** Header lines, without line breaks (a folded line may contain eol + SP itself). */
  headers: Array<string | Uint8Array>;
  /** Omit the blank line after the headers (broken input). */
  noBlankLine?: boolean;
  /** Leaf body, raw. */
  body?: string | Uint8Array;
  /** Multipart: the boundary and the body parts. */
  multipart?: {
    boundary: string;
    parts: GenEntity[];
    preamble?: string;
    epilogue?: string;
    /** Default true; false leaves the close delimiter out (broken input). */
    close?: boolean;
    /** Transport padding written after each delimiter. */
    padding?: string;
  };
  /** message/rfc822: the embedded message. */
  message?: GenEntity;
}

export interface ExpectedEntity {
  part: string;
  kind: 'message' | 'part';
  headerStart: number;
  headerEnd: number;
  bodyEnd: number;
  lines: number;
}

export interface Generated {
  bytes: Uint8Array;
  expected: ExpectedEntity[];
}

function toBytes(s: string | Uint8Array): Uint8Array {
  return typeof s === 'string' ? Buffer.from(s, 'utf8') : s;
}

/** Lines as the indexer counts them: line ends plus one for a last line without one. */
export function countLines(bytes: Uint8Array): number {
  let n = 0;
  for (const b of bytes) if (b === 0x0a) n++;
  if (bytes.length > 0 && bytes[bytes.length - 1] !== 0x0a) n++;
  return n;
}

class Writer {
  chunks: Uint8Array[] = [];
  length = 0;
  write(s: string | Uint8Array): void {
    const b = toBytes(s);
    this.chunks.push(b);
    this.length += b.length;
  }
  bytes(): Uint8Array {
    return Buffer.concat(this.chunks);
  }
}

/** Serialises an entity tree; `expected` lists the entities in document order. */
export function generate(root: GenEntity, eol: Eol = '\r\n'): Generated {
  const w = new Writer();
  const expected: ExpectedEntity[] = [];
  const bodyStarts: number[] = [];
  const emit = (e: GenEntity, part: string, kind: 'message' | 'part'): number => {
    const idx = expected.length;
    const headerStart = w.length;
    expected.push({ part, kind, headerStart, headerEnd: 0, bodyEnd: 0, lines: 0 });
    for (const h of e.headers) {
      w.write(h);
      w.write(eol);
    }
    if (e.noBlankLine !== true) w.write(eol);
    expected[idx].headerEnd = w.length;
    bodyStarts[idx] = w.length;
    if (e.multipart !== undefined) {
      const mp = e.multipart;
      const prefix = part === '' ? '' : `${part}.`;
      if (mp.preamble !== undefined) {
        w.write(mp.preamble);
        w.write(eol);
      }
      mp.parts.forEach((child, i) => {
        if (i > 0) w.write(eol); // the line break before a delimiter belongs to it
        w.write(`--${mp.boundary}${mp.padding ?? ''}${eol}`);
        emit(child, prefix + String(i + 1), 'part');
      });
      if (mp.close !== false) {
        if (mp.parts.length > 0) w.write(eol);
        w.write(`--${mp.boundary}--`);
        if (mp.epilogue !== undefined) {
          w.write(eol);
          w.write(mp.epilogue);
        }
      }
    } else if (e.message !== undefined) {
      const inner = kind === 'message' ? (part === '' ? '1' : `${part}.1`) : part;
      emit(e.message, inner, 'message');
    } else if (e.body !== undefined) {
      w.write(e.body);
    }
    expected[idx].bodyEnd = w.length;
    return idx;
  };
  emit(root, '', 'message');
  const bytes = w.bytes();
  for (let i = 0; i < expected.length; i++) {
    const x = expected[i];
    x.lines = countLines(bytes.subarray(x.headerEnd, x.bodyEnd));
  }
  return { bytes, expected };
}

/** An RFC 2047 B-encoded word of `text` in `charset`. */
export function bWord(text: string, charset: string): string {
  return `=?${charset}?B?${iconv.encode(text, charset).toString('base64')}?=`;
}

/** An RFC 2047 Q-encoded word of `text` in `charset`. */
export function qWord(text: string, charset: string): string {
  let out = '';
  for (const b of iconv.encode(text, charset)) {
    const ch = String.fromCharCode(b);
    if (b === 0x20) out += '_';
    else if (/[A-Za-z0-9]/.test(ch)) out += ch;
    else out += '=' + b.toString(16).toUpperCase().padStart(2, '0');
  }
  return `=?${charset}?Q?${out}?=`;
}

/** ISO-2022-JP is not encodable with iconv-lite: "テスト" as its JIS bytes, B-encoded. */
export const ISO_2022_JP_TESUTO = { text: 'テスト', word: '=?ISO-2022-JP?B?GyRCJUYlOSVIGyhC?=' };

/** RFC 2231 continuation lines for a parameter, percent-encoding `value` in `charset`. */
export function rfc2231Param(name: string, value: string, charset: string, pieceBytes = 8): string[] {
  const bytes = iconv.encode(value, charset);
  const pieces: string[] = [];
  for (let i = 0; i < bytes.length; i += pieceBytes) {
    let enc = '';
    for (const b of bytes.subarray(i, i + pieceBytes)) {
      const ch = String.fromCharCode(b);
      enc += /[A-Za-z0-9.]/.test(ch) ? ch : '%' + b.toString(16).toUpperCase().padStart(2, '0');
    }
    pieces.push(enc);
  }
  return pieces.map(
    (p, i) => ` ${name}*${i}*=${i === 0 ? `${charset}''` : ''}${p}${i < pieces.length - 1 ? ';' : ''}`,
  );
}

/** Quoted-printable encoding of UTF-8 text (soft breaks every 60 characters). */
export function qp(text: string, eol: Eol = '\r\n'): string {
  let out = '';
  let line = 0;
  for (const b of Buffer.from(text, 'utf8')) {
    const ch = String.fromCharCode(b);
    const piece =
      b === 0x0a
        ? '\n'
        : b >= 0x21 && b <= 0x7e && ch !== '='
          ? ch
          : b === 0x20
            ? ' '
            : `=${b.toString(16).toUpperCase().padStart(2, '0')}`;
    if (piece === '\n') {
      out += eol;
      line = 0;
      continue;
    }
    if (line + piece.length > 60) {
      out += `=${eol}`;
      line = 0;
    }
    out += piece;
    line += piece.length;
  }
  return out;
}

/** Base64 in 76-character lines. */
export function base64Lines(data: Uint8Array | string, eol: Eol = '\r\n'): string {
  const s = Buffer.from(toBytes(data)).toString('base64');
  const lines: string[] = [];
  for (let i = 0; i < s.length; i += 76) lines.push(s.slice(i, i + 76));
  return lines.join(eol);
}

/** Feeds `bytes` to `sink` in chunks of `size`. */
export function* chunks(bytes: Uint8Array, size: number): Generator<Uint8Array> {
  for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size);
}
