// The MIME content header fields of one entity (RFC 2045 §5-§8, RFC 2183, RFC 3282, RFC 2557,
// RFC 1864), with parameters decoded by libmime (RFC 2231 continuations and charsets).

import libmime from 'libmime';
import { decodeWords } from './address.js';
import type { MimeDisposition, MimeParam } from './types.js';

export interface ContentFields {
  type: string;
  subtype: string;
  params: MimeParam[];
  charset: string | null;
  id: string | null;
  description: string | null;
  encoding: string;
  disposition: MimeDisposition | null;
  language: string[] | null;
  location: string | null;
  md5: string | null;
  filename: string | null;
}

interface Parsed {
  value: string;
  params: MimeParam[];
  /** Names of params whose values came from RFC 2231 and are already decoded. */
  decoded: Set<string>;
}

function parseValue(raw: string): Parsed {
  try {
    const p = libmime.parseHeaderValue(raw, { stripComments: true });
    const params: MimeParam[] = [];
    for (const name of Object.keys(p.params)) {
      const v = p.params[name];
      if (typeof v === 'string') params.push([name, v]);
    }
    return { value: p.value, params, decoded: new Set(p.decodedParams ?? []) };
  } catch {
    return { value: '', params: [], decoded: new Set() };
  }
}

function param(p: Parsed, name: string): string | null {
  for (const [k, v] of p.params) if (k === name) return v;
  return null;
}

/** RFC 2045 §5.1 token: printable US-ASCII except SP and tspecials. */
function isToken(s: string): boolean {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c <= 0x20 || c >= 0x7f || '()<>@,;:\\"/[]?='.includes(s[i])) return false;
  }
  return true;
}

function fileName(p: Parsed, name: string): string | null {
  const v = param(p, name);
  if (v === null || v === '') return null;
  // RFC 2231 values are decoded already; plain ones may still carry RFC 2047 words (common in practice).
  return p.decoded.has(name) ? v : decodeWords(v);
}

/** Reads the content fields from the first value of each header field of an entity. */
export function contentFields(
  fields: Map<string, string>,
  defaultType: { type: string; subtype: string },
): ContentFields {
  let type = defaultType.type;
  let subtype = defaultType.subtype;
  let params: MimeParam[] = defaultType.type === 'text' ? [['charset', 'us-ascii']] : [];
  let ct: Parsed | null = null;
  const ctRaw = fields.get('content-type');
  if (ctRaw !== undefined) {
    const p = parseValue(ctRaw);
    const slash = p.value.indexOf('/');
    const t = slash === -1 ? '' : p.value.slice(0, slash).trim().toLowerCase();
    const st =
      slash === -1
        ? ''
        : p.value
            .slice(slash + 1)
            .trim()
            .toLowerCase();
    // RFC 2045 §5.2: an invalid Content-Type is treated as the default.
    if (isToken(t) && isToken(st)) {
      type = t;
      subtype = st;
      params = p.params;
      ct = p;
    }
  }
  let charset: string | null = null;
  for (const [k, v] of params) if (k === 'charset' && v.trim() !== '') charset = v.trim().toLowerCase();

  let disposition: MimeDisposition | null = null;
  let dp: Parsed | null = null;
  const cdRaw = fields.get('content-disposition');
  if (cdRaw !== undefined) {
    dp = parseValue(cdRaw);
    const t = dp.value.trim().toLowerCase();
    if (t !== '') disposition = { type: t, params: dp.params };
  }

  const encRaw = fields.get('content-transfer-encoding');
  let encoding = '7bit';
  if (encRaw !== undefined) {
    const e = parseValue(encRaw).value.trim().toLowerCase();
    if (e !== '') encoding = e;
  }

  let language: string[] | null = null;
  const langRaw = fields.get('content-language');
  if (langRaw !== undefined) {
    const tags = parseValue(langRaw.replace(/;/g, ' ')).value.split(',');
    const list: string[] = [];
    for (const tag of tags) {
      const t = tag.trim();
      if (t !== '') list.push(t);
    }
    if (list.length > 0) language = list;
  }

  const filename =
    (dp !== null ? fileName(dp, 'filename') : null) ?? (ct !== null ? fileName(ct, 'name') : null);

  return {
    type,
    subtype,
    params,
    charset,
    id: fields.get('content-id') ?? null,
    description: fields.get('content-description') ?? null,
    encoding,
    disposition,
    language,
    location: fields.get('content-location') ?? null,
    md5: fields.get('content-md5') ?? null,
    filename,
  };
}
