// Parsing of one POP3 command line (without its line ending) into a typed command.
// Grammar: RFC 1939 §3-§7 (commands and states), RFC 2449 §4-§5 (CAPA, 40-octet arguments),
// RFC 5034 §4 (AUTH), RFC 2595 §4 (STLS), RFC 6856 §2-§3 (UTF8, LANG).
// Invariants: the parser never throws on input (refusals are returned as Pop3Err values), uses
// no regular expression and walks each line a bounded number of times. Whether PASS follows
// USER, or STLS / AUTH are offered, is the session's business, not the parser's.

/** RFC 1939 §3: the states in which commands are read (UPDATE reads none). */
export type Pop3State = 'authorization' | 'transaction';

export type Pop3Command =
  | { verb: 'USER'; name: string }
  | { verb: 'PASS'; password: string }
  | { verb: 'APOP'; name: string; digest: string }
  | { verb: 'AUTH'; mechanism: string | null; initialResponse: string | null }
  | { verb: 'STLS' }
  | { verb: 'UTF8' }
  | { verb: 'CAPA' }
  | { verb: 'QUIT' }
  | { verb: 'NOOP' }
  | { verb: 'RSET' }
  | { verb: 'STAT' }
  | { verb: 'LIST' | 'UIDL'; msg: number | null }
  | { verb: 'RETR' | 'DELE'; msg: number }
  | { verb: 'TOP'; msg: number; lines: number }
  | { verb: 'LANG'; tag: string | null };

/** RFC 2449 §8 response codes (and those of RFC 3206, RFC 6856), or any extension code. */
export type Pop3ResponseCode =
  'IN-USE' | 'LOGIN-DELAY' | 'SYS/TEMP' | 'SYS/PERM' | 'AUTH' | 'UTF8' | (string & {});

export type Pop3ErrReason = 'unknownCommand' | 'wrongState' | 'syntax' | 'lineTooLong';

/** A refused command: the session answers "-ERR" with `message` (and `code` when set). */
export class Pop3Err extends Error {
  /** Stable reason, for logs and metrics. */
  readonly reason: Pop3ErrReason;
  /** Response code to put in brackets (RFC 2449 §8), or null. */
  readonly code: Pop3ResponseCode | null;
  constructor(reason: Pop3ErrReason, message: string, code: Pop3ResponseCode | null = null) {
    super(message);
    this.name = 'Pop3Err';
    this.reason = reason;
    this.code = code;
  }
}

export interface ParsePop3Options {
  state: Pop3State;
}

/** RFC 2449 §4: each argument is at most 40 octets. */
export const MAX_ARGUMENT = 40;
/** Message numbers and TOP line counts: at most this many digits, at most 2^31 - 1. */
const MAX_DIGITS = 10;
const MAX_NUMBER = 0x7fffffff;
/** RFC 4422 §3.1 / RFC 5034 §4: SASL mechanism names are 1*20 characters. */
const MAX_MECHANISM = 20;

const utf8 = new TextDecoder('utf-8', { fatal: true });

const AUTHORIZATION_VERBS = new Set(['USER', 'PASS', 'APOP', 'AUTH', 'STLS', 'UTF8', 'CAPA', 'QUIT', 'LANG']);
const TRANSACTION_VERBS = new Set([
  'STAT',
  'LIST',
  'RETR',
  'DELE',
  'NOOP',
  'RSET',
  'TOP',
  'UIDL',
  'CAPA',
  'QUIT',
  'LANG',
]);

function syntax(message: string): Pop3Err {
  return new Pop3Err('syntax', message);
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

function isAlpha(c: number): boolean {
  return (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
}

/**
 * A message number or line count: decimal digits only (no sign, no spaces), at most 10 of
 * them, at most 2^31 - 1. Returns null when malformed or too large.
 */
export function parsePop3Number(s: string): number | null {
  if (s.length === 0 || s.length > MAX_DIGITS) return null;
  for (let i = 0; i < s.length; i++) if (!isDigit(s.charCodeAt(i))) return null;
  const n = Number(s);
  return n <= MAX_NUMBER ? n : null;
}

/** Splits on runs of spaces; leading and trailing spaces are ignored. */
function splitArgs(s: string): string[] {
  const out: string[] = [];
  let start = -1;
  for (let i = 0; i <= s.length; i++) {
    const space = i === s.length || s.charCodeAt(i) === 0x20;
    if (space) {
      if (start >= 0) out.push(s.slice(start, i));
      start = -1;
    } else if (start < 0) {
      start = i;
    }
  }
  return out;
}

/** Message number argument (RFC 1939 §5: "msg" is never a deleted message; the session checks). */
function msgArg(verb: string, s: string): number | Pop3Err {
  const n = parsePop3Number(s);
  if (n === null || n === 0) return syntax(`${verb}: invalid message number`);
  return n;
}

function isBase64(s: string): boolean {
  // RFC 4648 §4 alphabet; "=" only as the last one or two characters, length a multiple of 4.
  if (s.length % 4 !== 0) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (isAlpha(c) || isDigit(c) || c === 0x2b || c === 0x2f) continue;
    if (c === 0x3d && i >= s.length - 2 && (i === s.length - 1 || s.charCodeAt(s.length - 1) === 0x3d))
      continue;
    return false;
  }
  return true;
}

/** RFC 4422 §3.1: SASL mechanism name, 1*20 of upper-case letters, digits, "-" and "_". */
function isMechanism(s: string): boolean {
  if (s.length === 0 || s.length > MAX_MECHANISM) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (!(isAlpha(c) || isDigit(c) || c === 0x2d || c === 0x5f)) return false;
  }
  return true;
}

/** RFC 6856 §3: a language range (RFC 4647) or "*". */
function isLanguageRange(s: string): boolean {
  if (s === '*') return true;
  if (s.length === 0 || s.length > MAX_ARGUMENT) return false;
  let sub = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x2d) {
      if (sub === 0) return false;
      sub = 0;
    } else if (isAlpha(c) || isDigit(c) || (c === 0x2a && sub === 0)) {
      if (++sub > 8) return false;
    } else {
      return false;
    }
  }
  return sub > 0;
}

function hasControl(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c === 0x7f) return true;
  }
  return false;
}

/** Parses one command line (without CRLF). Keywords are case-insensitive (RFC 1939 §3). */
export function parsePop3Command(line: Buffer, opts: ParsePop3Options): Pop3Command | Pop3Err {
  let text: string;
  try {
    text = utf8.decode(line);
  } catch {
    return syntax('invalid UTF-8 in command');
  }
  if (hasControl(text)) return syntax('control character in command');
  let sp = text.indexOf(' ');
  if (sp < 0) sp = text.length;
  const keyword = text.slice(0, sp);
  // RFC 1939 §3: keywords are 3 or 4 characters; RFC 2449 §4 allows longer extensions.
  if (keyword.length === 0 || keyword.length > MAX_ARGUMENT)
    return new Pop3Err('unknownCommand', 'unknown command');
  const verb = keyword.toUpperCase();
  const rest = text.slice(sp + 1);
  const inAuth = AUTHORIZATION_VERBS.has(verb);
  const inTrans = TRANSACTION_VERBS.has(verb);
  if (!inAuth && !inTrans) return new Pop3Err('unknownCommand', 'unknown command');
  if (opts.state === 'authorization' ? !inAuth : !inTrans) {
    return new Pop3Err('wrongState', `${verb} not valid in this state`);
  }

  // RFC 1939 §7: PASS takes the rest of the line, spaces included.
  if (verb === 'PASS') {
    if (sp >= text.length || rest.length === 0) return syntax('PASS: password required');
    return { verb, password: rest };
  }

  const args = sp < text.length ? splitArgs(rest) : [];
  const argCount = (min: number, max: number): Pop3Err | null =>
    args.length < min || args.length > max ? syntax(`${verb}: wrong number of arguments`) : null;

  switch (verb) {
    case 'USER': {
      // One argument; user names (mail addresses) may exceed RFC 2449's 40 octets, the line
      // limit bounds them.
      const e = argCount(1, 1);
      if (e) return e;
      return { verb, name: args[0] };
    }
    case 'APOP': {
      // RFC 1939 §7: APOP name digest; the digest is 32 lower-case hex digits (MD5).
      const e = argCount(2, 2);
      if (e) return e;
      const digest = args[1];
      if (digest.length !== 32) return syntax('APOP: invalid digest');
      for (let i = 0; i < 32; i++) {
        const c = digest.charCodeAt(i);
        if (!(isDigit(c) || (c >= 0x61 && c <= 0x66) || (c >= 0x41 && c <= 0x46))) {
          return syntax('APOP: invalid digest');
        }
      }
      return { verb, name: args[0], digest: digest.toLowerCase() };
    }
    case 'AUTH': {
      // RFC 5034 §4: AUTH [mechanism [initial-response]]; without a mechanism, RFC 1734
      // clients expect the list of mechanisms. "=" is an empty initial response.
      const e = argCount(0, 2);
      if (e) return e;
      if (args.length === 0) return { verb, mechanism: null, initialResponse: null };
      if (!isMechanism(args[0])) return syntax('AUTH: invalid mechanism name');
      const mechanism = args[0].toUpperCase();
      if (args.length === 1) return { verb, mechanism, initialResponse: null };
      const ir = args[1];
      if (ir !== '=' && !isBase64(ir)) return syntax('AUTH: invalid base64 in initial response');
      return { verb, mechanism, initialResponse: ir === '=' ? '' : ir };
    }
    case 'STLS':
    case 'UTF8':
    case 'CAPA':
    case 'QUIT':
    case 'NOOP':
    case 'RSET':
    case 'STAT': {
      const e = argCount(0, 0);
      if (e) return e;
      return { verb };
    }
    case 'LIST':
    case 'UIDL': {
      const e = argCount(0, 1);
      if (e) return e;
      if (args.length === 0) return { verb, msg: null };
      const msg = msgArg(verb, args[0]);
      return typeof msg === 'number' ? { verb, msg } : msg;
    }
    case 'RETR':
    case 'DELE': {
      const e = argCount(1, 1);
      if (e) return e;
      const msg = msgArg(verb, args[0]);
      return typeof msg === 'number' ? { verb, msg } : msg;
    }
    case 'TOP': {
      // RFC 1939 §7: TOP msg n, n non-negative.
      const e = argCount(2, 2);
      if (e) return e;
      const msg = msgArg(verb, args[0]);
      if (typeof msg !== 'number') return msg;
      const lines = parsePop3Number(args[1]);
      if (lines === null) return syntax('TOP: invalid line count');
      return { verb, msg, lines };
    }
    case 'LANG': {
      const e = argCount(0, 1);
      if (e) return e;
      if (args.length === 0) return { verb, tag: null };
      if (!isLanguageRange(args[0])) return syntax('LANG: invalid language tag');
      return { verb, tag: args[0] };
    }
    default:
      return new Pop3Err('unknownCommand', 'unknown command');
  }
}

/** A client line during AUTH (RFC 5034 §4): "*" cancels, else base64 (empty line: empty). */
export type Pop3SaslResponse = { kind: 'cancel' } | { kind: 'response'; data: Buffer };

export function parseSaslResponse(line: Buffer): Pop3SaslResponse | Pop3Err {
  const text = line.toString('latin1');
  if (text === '*') return { kind: 'cancel' };
  if (!isBase64(text)) return syntax('invalid base64 in AUTH response');
  return { kind: 'response', data: Buffer.from(text, 'base64') };
}
