// The IMAP URLs (RFC 5092) that CATENATE (RFC 4469 §3) accepts: one message, or one section of
// it, in a mailbox of the logged-in user on this server. Forms:
//   /<mailbox>[;UIDVALIDITY=n]/;UID=n[/;SECTION=s][/;PARTIAL=o[.l]]
//   imap://[user[;AUTH=m]@]host[:port]/<same path>
// Names are case-insensitive (RFC 4469's own example writes `;section=`); the mailbox name is
// UTF-8 percent-encoded (RFC 5092 §9). Refused (null): other forms, URLAUTH (RFC 4467: not
// offered), HEADER.FIELDS sections, and anything malformed. The parser is linear: no regular
// expression that can backtrack on hostile input.

export interface ImapUrl {
  /** Absolute URL only: the user named before `@` (percent-decoded), or null. */
  user: string | null;
  /** Absolute URL only: the host (lower case, without port), or null for a relative URL. */
  host: string | null;
  mailbox: string;
  uidValidity: number | null;
  uid: number;
  /** The part number path ([] for the message itself). */
  part: number[];
  /** What of that part: the whole, its MIME header, or (of a message) its HEADER or TEXT. */
  text: '' | 'MIME' | 'HEADER' | 'TEXT';
  partial: { offset: number; length: number | null } | null;
}

const MAX_URL_LENGTH = 4096;
const MAX_NUMBER = 4294967295;

/** Percent-decodes `s` as UTF-8; null when an escape is malformed or the bytes are not UTF-8. */
function percentDecode(s: string): string | null {
  const bytes: number[] = [];
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x25) {
      const hex = s.slice(i + 1, i + 3);
      if (hex.length !== 2 || !/^[0-9A-Fa-f]{2}$/.test(hex)) return null;
      bytes.push(parseInt(hex, 16));
      i += 2;
    } else if (c > 0x20 && c < 0x7f) bytes.push(c);
    else return null;
  }
  const buf = Buffer.from(bytes);
  const text = buf.toString('utf8');
  return Buffer.from(text, 'utf8').equals(buf) ? text : null;
}

function number(text: string, opts: { zero: boolean }): number | null {
  if (text.length === 0 || text.length > 10) return null;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return null;
  }
  const n = Number(text);
  if (n > MAX_NUMBER || (n === 0 && !opts.zero)) return null;
  return n;
}

/** `;NAME=value` (NAME matched without case); the value, or null when `piece` is not that. */
function param(piece: string, name: string): string | null {
  const prefix = `;${name}=`;
  return piece.length >= prefix.length && piece.slice(0, prefix.length).toUpperCase() === prefix
    ? piece.slice(prefix.length)
    : null;
}

/** RFC 9051 section-spec limited to what CATENATE needs: part numbers, MIME, HEADER, TEXT. */
function parseSection(text: string): Pick<ImapUrl, 'part' | 'text'> | null {
  const pieces = text.split('.');
  const part: number[] = [];
  let i = 0;
  for (; i < pieces.length; i++) {
    const n = number(pieces[i]!, { zero: false });
    if (n === null) break;
    part.push(n);
  }
  const rest = pieces.slice(i);
  if (rest.length === 0) return part.length === 0 ? null : { part, text: '' };
  if (rest.length !== 1) return null;
  const name = rest[0]!.toUpperCase();
  if (name === 'MIME') return part.length === 0 ? null : { part, text: 'MIME' };
  if (name === 'HEADER' || name === 'TEXT') return { part, text: name };
  return null;
}

/** Parses a CATENATE URL; null when it is not one this server can resolve. */
export function parseImapUrl(url: string): ImapUrl | null {
  if (url.length === 0 || url.length > MAX_URL_LENGTH) return null;
  let user: string | null = null;
  let host: string | null = null;
  let path = url;
  if (url.slice(0, 7).toLowerCase() === 'imap://') {
    const slash = url.indexOf('/', 7);
    if (slash < 0) return null;
    let authority = url.slice(7, slash);
    const at = authority.lastIndexOf('@');
    if (at >= 0) {
      let userinfo = authority.slice(0, at);
      const auth = userinfo.toUpperCase().indexOf(';AUTH=');
      if (auth >= 0) userinfo = userinfo.slice(0, auth);
      user = percentDecode(userinfo);
      if (user === null || user.length === 0) return null;
      authority = authority.slice(at + 1);
    }
    // host[:port]; an IPv6 literal keeps its brackets.
    const colon = authority.startsWith('[')
      ? authority.indexOf(':', authority.indexOf(']'))
      : authority.indexOf(':');
    host = (colon >= 0 ? authority.slice(0, colon) : authority).toLowerCase();
    if (host.length === 0) return null;
    path = url.slice(slash);
  }
  if (!path.startsWith('/')) return null;
  const pieces = path.slice(1).split('/');
  // pieces: mailbox[;UIDVALIDITY=n], ;UID=n, then optional ;SECTION=s and ;PARTIAL=o.l
  const boxPiece = pieces[0]!;
  let boxText = boxPiece;
  let uidValidity: number | null = null;
  const semi = boxPiece.indexOf(';');
  if (semi >= 0) {
    const v = param(boxPiece.slice(semi), 'UIDVALIDITY');
    if (v === null) return null;
    uidValidity = number(v, { zero: false });
    if (uidValidity === null) return null;
    boxText = boxPiece.slice(0, semi);
  }
  const mailbox = percentDecode(boxText);
  if (mailbox === null || mailbox.length === 0) return null;
  const uidText = pieces[1] === undefined ? null : param(pieces[1], 'UID');
  const uid = uidText === null ? null : number(uidText, { zero: false });
  if (uid === null) return null;
  let section: Pick<ImapUrl, 'part' | 'text'> = { part: [], text: '' };
  let partial: ImapUrl['partial'] = null;
  let next = 2;
  const sectionText = pieces[next] === undefined ? null : param(pieces[next]!, 'SECTION');
  if (sectionText !== null) {
    const decoded = percentDecode(sectionText);
    const parsed = decoded === null ? null : parseSection(decoded);
    if (parsed === null) return null;
    section = parsed;
    next++;
  }
  const partialText = pieces[next] === undefined ? null : param(pieces[next]!, 'PARTIAL');
  if (partialText !== null) {
    const dot = partialText.indexOf('.');
    const offset = number(dot < 0 ? partialText : partialText.slice(0, dot), { zero: true });
    const length = dot < 0 ? null : number(partialText.slice(dot + 1), { zero: false });
    if (offset === null || (dot >= 0 && length === null)) return null;
    partial = { offset, length };
    next++;
  }
  // Anything left (;URLAUTH=, ;EXPIRE=, a second section...) is refused.
  if (next !== pieces.length) return null;
  return { user, host, mailbox, uidValidity, uid, ...section, partial };
}
