// RFC 5322 §3.4 address lists, split into the IMAP ENVELOPE address structure (RFC 9051 §7.5.2):
// name, adl (source route), mailbox, host, with group syntax as start/end markers.
// One linear pass over tokens; comments nest but are tracked with a counter, never by recursion.

import libmime from 'libmime';
import type { ImapAddress, MailAddress } from './types.js';

type Token =
  | { t: 'word'; v: string; raw: string } // atom, dot-atom or quoted-string (v unquoted, raw as written)
  | { t: 'comment'; v: string }
  | { t: 'literal'; v: string } // domain literal, brackets included
  | { t: 'special'; v: string };

const SPECIALS = '<>@,;:.';

function tokenize(s: string): Token[] {
  const out: Token[] = [];
  const n = s.length;
  let i = 0;
  while (i < n) {
    const c = s[i];
    if (c === ' ' || c === '\t' || c === '\r' || c === '\n') {
      i++;
    } else if (c === '"') {
      let v = '';
      let j = i + 1;
      while (j < n && s[j] !== '"') {
        if (s[j] === '\\' && j + 1 < n) j++;
        v += s[j];
        j++;
      }
      out.push({ t: 'word', v, raw: s.slice(i, Math.min(j + 1, n)) });
      i = j + 1;
    } else if (c === '(') {
      let depth = 1;
      let j = i + 1;
      let v = '';
      while (j < n && depth > 0) {
        const d = s[j];
        if (d === '\\' && j + 1 < n) {
          v += s[j + 1];
          j += 2;
          continue;
        }
        if (d === '(') depth++;
        else if (d === ')') depth--;
        if (depth > 0) v += d;
        j++;
      }
      out.push({ t: 'comment', v: v.trim() });
      i = j;
    } else if (c === '[') {
      let j = i + 1;
      while (j < n && s[j] !== ']') {
        if (s[j] === '\\' && j + 1 < n) j++;
        j++;
      }
      out.push({ t: 'literal', v: s.slice(i, Math.min(j + 1, n)) });
      i = j + 1;
    } else if (SPECIALS.includes(c)) {
      out.push({ t: 'special', v: c });
      i++;
    } else {
      let j = i;
      while (j < n) {
        const d = s[j];
        if (d === ' ' || d === '\t' || d === '\r' || d === '\n' || d === '"' || d === '(' || d === '[') break;
        if (SPECIALS.includes(d) && !(d === '.' && j > i)) break;
        j++;
      }
      if (j === i) j = i + 1; // a lone ')' or ']' and the like
      // Keep dots inside atoms (dot-atom, obs-phrase); a leading dot is a special.
      const v = s.slice(i, j);
      out.push({ t: 'word', v, raw: v });
      i = j;
    }
  }
  return out;
}

/** Joins phrase tokens: words separated by one space, quoted strings unquoted. */
function phrase(tokens: Token[]): string | null {
  const words: string[] = [];
  for (const tk of tokens) {
    if (tk.t === 'word' || tk.t === 'literal') words.push(tk.v);
    else if (tk.t === 'special' && tk.v === '.') words.push('.');
  }
  const s = words.join(' ').replace(/ \. /g, '. ');
  return s === '' ? null : s;
}

/** Joins addr-spec tokens without spaces; quoted local parts keep their quotes. */
function compact(tokens: Token[]): string {
  let s = '';
  for (const tk of tokens) {
    if (tk.t === 'word') s += tk.raw;
    else if (tk.t === 'literal' || tk.t === 'special') s += tk.v;
  }
  return s;
}

function firstComment(tokens: Token[]): string | null {
  for (const tk of tokens) if (tk.t === 'comment' && tk.v !== '') return tk.v;
  return null;
}

/** One mailbox from its tokens (no group, no comma). Returns null when there is nothing in it. */
function mailbox(tokens: Token[]): ImapAddress | null {
  const lt = tokens.findIndex((tk) => tk.t === 'special' && tk.v === '<');
  let name: string | null;
  let adl: string | null = null;
  let spec: Token[];
  if (lt !== -1) {
    name = phrase(tokens.slice(0, lt));
    let gt = tokens.findIndex((tk, k) => k > lt && tk.t === 'special' && tk.v === '>');
    if (gt === -1) gt = tokens.length;
    spec = tokens.slice(lt + 1, gt).filter((tk) => tk.t !== 'comment');
    // Obsolete source route: "<@a,@b:user@host>" (RFC 5322 §4.4).
    const colon = spec.findIndex((tk) => tk.t === 'special' && tk.v === ':');
    if (colon !== -1 && spec.length > 0 && spec[0].t === 'special' && spec[0].v === '@') {
      adl = compact(spec.slice(0, colon));
      spec = spec.slice(colon + 1);
    }
    if (name === null) name = firstComment(tokens);
  } else {
    spec = tokens.filter((tk) => tk.t !== 'comment');
    // Old style "user@host (Real Name)".
    name = firstComment(tokens);
  }
  let at = -1;
  for (let k = spec.length - 1; k >= 0; k--) {
    if (spec[k].t === 'special' && spec[k].v === '@') {
      at = k;
      break;
    }
  }
  let local: string;
  let host: string;
  if (at === -1) {
    local = compact(spec);
    host = '';
  } else {
    local = compact(spec.slice(0, at));
    host = compact(spec.slice(at + 1));
  }
  if (local === '' && host === '' && name === null) return null;
  return { name, adl, mailbox: local, host };
}

/**
 * Parses an address-list header value into IMAP address structures. Returns null when the list is
 * empty, as IMAP sends NIL for an absent or empty address header.
 */
export function parseAddressList(value: string): ImapAddress[] | null {
  const tokens = tokenize(value);
  const out: ImapAddress[] = [];
  let current: Token[] = [];
  let inGroup = false;
  let inAngle = false;
  const flushMailbox = (): void => {
    const a = mailbox(current);
    if (a !== null) out.push(a);
    current = [];
  };
  for (const tk of tokens) {
    if (tk.t === 'special') {
      if (tk.v === '<') inAngle = true;
      else if (tk.v === '>') inAngle = false;
      else if (!inAngle && tk.v === ',') {
        flushMailbox();
        continue;
      } else if (!inAngle && tk.v === ':' && !inGroup) {
        // RFC 5322 §3.4: group = display-name ":" [group-list] ";"
        out.push({ name: null, adl: null, mailbox: phrase(current) ?? '', host: null });
        current = [];
        inGroup = true;
        continue;
      } else if (!inAngle && tk.v === ';' && inGroup) {
        flushMailbox();
        out.push({ name: null, adl: null, mailbox: null, host: null });
        inGroup = false;
        continue;
      }
    }
    current.push(tk);
  }
  flushMailbox();
  if (inGroup) out.push({ name: null, adl: null, mailbox: null, host: null });
  return out.length === 0 ? null : out;
}

/** Decodes RFC 2047 words, never throwing. */
export function decodeWords(s: string): string {
  try {
    return libmime.decodeWords(s);
  } catch {
    return s;
  }
}

/**
 * Decoded addresses for SEARCH and SORT. A group (RFC 5322 §3.4 `name: members;`) appears as its
 * start, `{ name, address: '', group: true }`, before its members (SEARCH TO matches a group's
 * name, as Dovecot does); its end marker is left out.
 */
export function mailAddresses(list: ImapAddress[] | null): MailAddress[] {
  const out: MailAddress[] = [];
  if (list === null) return out;
  for (const a of list) {
    if (a.host === null) {
      // Start of a group: (NIL NIL name NIL); end: (NIL NIL NIL NIL) (RFC 9051 §7.5.2 ENVELOPE).
      if (a.mailbox !== null) out.push({ name: decodeWords(a.mailbox), address: '', group: true });
      continue;
    }
    const mbox = a.mailbox ?? '';
    out.push({
      name: a.name === null ? '' : decodeWords(a.name),
      address: a.host === '' ? mbox : `${mbox}@${a.host}`,
    });
  }
  return out;
}
