// Message preview text in the spirit of RFC 8970 (IMAP PREVIEW): up to 200 characters of the
// first text part, transfer-decoded, charset-decoded, tags stripped for HTML, whitespace collapsed.
// Works on a bounded prefix of the body that the indexer captured; never throws.

import { decode as decodeCharset } from 'libmime/lib/charset.js';

export const PREVIEW_CHARS = 200;
/** Raw body bytes captured for a text/plain candidate. */
export const PLAIN_CAPTURE = 8 * 1024;
/** Raw body bytes captured for a text/html candidate (head and style often come first). */
export const HTML_CAPTURE = 64 * 1024;

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  return -1;
}

/** RFC 2045 §6.7 quoted-printable, lenient: a bad escape is kept as is. */
export function decodeQuotedPrintable(input: Uint8Array): Uint8Array {
  const out = new Uint8Array(input.length);
  let o = 0;
  const n = input.length;
  for (let i = 0; i < n; i++) {
    const c = input[i];
    if (c !== 0x3d) {
      out[o++] = c;
      continue;
    }
    // Soft line break: "=" then optional whitespace then (CR)LF.
    let j = i + 1;
    while (j < n && (input[j] === 0x20 || input[j] === 0x09)) j++;
    if (j < n && input[j] === 0x0d && j + 1 < n && input[j + 1] === 0x0a) {
      i = j + 1;
      continue;
    }
    if (j < n && input[j] === 0x0a) {
      i = j;
      continue;
    }
    if (j >= n) break; // a soft break cut off by the capture limit
    const h = i + 2 < n ? hexValue(input[i + 1]) : -1;
    const l = i + 2 < n ? hexValue(input[i + 2]) : -1;
    if (h >= 0 && l >= 0) {
      out[o++] = h * 16 + l;
      i += 2;
    } else {
      out[o++] = c;
    }
  }
  return out.subarray(0, o);
}

function transferDecode(raw: Uint8Array, encoding: string): Uint8Array {
  const buf = Buffer.from(raw.buffer, raw.byteOffset, raw.length);
  if (encoding === 'base64') return Buffer.from(buf.toString('latin1'), 'base64');
  if (encoding === 'quoted-printable') return decodeQuotedPrintable(raw);
  return raw;
}

const ENTITIES = new Map<string, string>([
  ['amp', '&'],
  ['lt', '<'],
  ['gt', '>'],
  ['quot', '"'],
  ['apos', "'"],
  ['nbsp', ' '],
]);

const INLINE = new Set([
  'a',
  'b',
  'i',
  'u',
  's',
  'em',
  'strong',
  'span',
  'font',
  'small',
  'big',
  'sub',
  'sup',
  'code',
]);

function isInlineTag(lower: string, at: number): boolean {
  let i = at;
  if (lower[i] === '/') i++;
  let name = '';
  while (i < lower.length && name.length < 8) {
    const c = lower.charCodeAt(i);
    if (c < 0x61 || c > 0x7a) break;
    name += lower[i];
    i++;
  }
  return INLINE.has(name);
}

/** Strips tags, comments, and head/script/style content, and decodes common entities. Linear. */
export function htmlToText(html: string): string {
  const lower = html.toLowerCase();
  let out = '';
  let i = 0;
  const n = html.length;
  while (i < n) {
    const c = html[i];
    if (c === '<') {
      if (lower.startsWith('<!--', i)) {
        const e = lower.indexOf('-->', i + 4);
        i = e === -1 ? n : e + 3;
        continue;
      }
      let skipTo: string | null = null;
      for (const tag of ['head', 'script', 'style', 'title']) {
        if (lower.startsWith(tag, i + 1)) {
          const after = lower[i + 1 + tag.length];
          if (after === '>' || after === ' ' || after === '\t' || after === '\r' || after === '\n') {
            skipTo = `</${tag}`;
          }
          break;
        }
      }
      if (skipTo !== null) {
        const e = lower.indexOf(skipTo, i + 1);
        if (e === -1) {
          i = n;
          continue;
        }
        i = e;
      }
      const e = html.indexOf('>', i + 1);
      // Inline elements join their text; anything else separates words.
      if (!isInlineTag(lower, i + 1)) out += ' ';
      i = e === -1 ? n : e + 1;
      continue;
    }
    if (c === '&') {
      const semi = html.indexOf(';', i + 1);
      if (semi !== -1 && semi - i <= 10) {
        const name = lower.slice(i + 1, semi);
        let rep: string | undefined = ENTITIES.get(name);
        if (rep === undefined && name.startsWith('#')) {
          const code = name[1] === 'x' ? parseInt(name.slice(2), 16) : parseInt(name.slice(1), 10);
          if (Number.isInteger(code) && code > 0 && code <= 0x10ffff && (code < 0xd800 || code > 0xdfff)) {
            rep = String.fromCodePoint(code);
          }
        }
        if (rep !== undefined) {
          out += rep;
          i = semi + 1;
          continue;
        }
      }
    }
    out += c;
    i++;
  }
  return out;
}

/** Collapses whitespace (including NBSP and control characters) and cuts to PREVIEW_CHARS code points. */
export function collapsePreview(text: string): string {
  let out = '';
  let count = 0;
  let space = false;
  for (const ch of text) {
    const cp = ch.codePointAt(0) ?? 0;
    if (cp <= 0x20 || cp === 0x7f || cp === 0xa0 || cp === 0xfeff || (cp >= 0x2000 && cp <= 0x200b)) {
      space = true;
      continue;
    }
    if (cp === 0xfffd) continue; // undecodable bytes (often a character cut by the capture limit)
    if (space && count > 0) {
      if (count + 1 >= PREVIEW_CHARS) break;
      out += ' ';
      count++;
    }
    space = false;
    out += ch;
    count++;
    if (count >= PREVIEW_CHARS) break;
  }
  return out;
}

/** Preview text from the captured start of a text body. */
export function previewText(
  raw: Uint8Array,
  opts: { encoding: string; charset: string | null; html: boolean },
): string {
  try {
    const bytes = transferDecode(raw, opts.encoding);
    // Unlabelled or US-ASCII text with 8-bit bytes is UTF-8 far more often than anything else.
    const charset = opts.charset === null || opts.charset === 'us-ascii' ? 'utf-8' : opts.charset;
    const text = decodeCharset(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length), charset);
    return collapsePreview(opts.html ? htmlToText(text) : text);
  } catch {
    return '';
  }
}
