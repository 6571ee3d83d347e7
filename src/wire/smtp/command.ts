// Parsing of one SMTP command line (without its line ending) into a typed command.
// Grammar: RFC 5321 §4.1.1 (commands), §4.1.2 (paths), §4.5.3.1 (size limits); RFC 1870 (SIZE),
// RFC 6152 / RFC 3030 (BODY, BDAT), RFC 3461 (DSN parameters), RFC 4954 (AUTH), RFC 6531
// (SMTPUTF8). Invariants: the parser never throws on input (errors are returned as values with
// their reply code), never uses a regular expression, and walks each line once; parameters go
// into a Map, so no keyword can reach an object prototype.

export interface SmtpPath {
  /** localPart "@" domain, the local part in its shortest form (quoted only when it must be). */
  address: string;
  /** The local part with quoting removed (RFC 5321 §4.1.2 Quoted-string), case preserved. */
  localPart: string;
  /** The domain as written (an address literal keeps its brackets), or '' for <Postmaster>. */
  domain: string;
}

/** Keyword upper-cased -> value (null when no '='). */
export type SmtpParams = Map<string, string | null>;

export type SmtpCommand =
  | { verb: 'EHLO' | 'HELO'; domain: string }
  | { verb: 'MAIL'; path: SmtpPath; params: SmtpParams }
  | { verb: 'RCPT'; path: SmtpPath; params: SmtpParams }
  | { verb: 'DATA' }
  | { verb: 'RSET' }
  | { verb: 'NOOP' }
  | { verb: 'QUIT' }
  | { verb: 'STARTTLS' }
  | { verb: 'BDAT'; size: number; last: boolean }
  | { verb: 'VRFY' | 'EXPN' | 'HELP'; arg: string }
  | { verb: 'AUTH'; mechanism: string; initialResponse: string | null };

/** A command the parser refuses, with the reply to send (RFC 5321 §4.2, RFC 3463 codes). */
export class SmtpSyntaxError extends Error {
  readonly code: number;
  readonly enhanced: string;
  constructor(code: number, enhanced: string, message: string) {
    super(message);
    this.name = 'SmtpSyntaxError';
    this.code = code;
    this.enhanced = enhanced;
  }
}

export interface ParseCommandOptions {
  /**
   * Whether UTF-8 addresses are allowed (RFC 6531). For MAIL: the server offers SMTPUTF8 (the
   * line must also carry the SMTPUTF8 parameter for a UTF-8 reverse-path). For RCPT: the
   * transaction's MAIL carried SMTPUTF8. For VRFY / EXPN: the server offers SMTPUTF8.
   */
  smtputf8: boolean;
}

/** The null reverse-path <> (RFC 5321 §4.5.5). */
export const NULL_PATH: Readonly<SmtpPath> = Object.freeze({ address: '', localPart: '', domain: '' });

// RFC 5321 §4.5.3.1: local part 64 octets, domain 255, path 256 (with the brackets).
const MAX_LOCAL_PART = 64;
const MAX_DOMAIN = 255;
const MAX_PATH = 256;
const MAX_LABEL = 63;
/** RFC 3461 §4.4: ENVID at most 100 characters. */
const MAX_ENVID = 100;
/** Decimal numbers: at most 18 digits, and at most Number.MAX_SAFE_INTEGER. */
const MAX_DIGITS = 18;
/** RFC 4954 §4: the mechanism name is 1*20 characters. */
const MAX_MECHANISM = 20;

const utf8 = new TextDecoder('utf-8', { fatal: true });

function syntax(message: string): SmtpSyntaxError {
  return new SmtpSyntaxError(501, '5.5.4', message);
}

// ---- character classes (code points of the decoded line) ----

function isAlpha(c: number): boolean {
  return (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

function isLetDig(c: number): boolean {
  return isAlpha(c) || isDigit(c);
}

// RFC 5322 §3.2.3 atext specials: ! # $ % & ' * + - / = ? ^ _ ` { | } ~
const ATEXT_SPECIALS = new Set([..."!#$%&'*+-/=?^_`{|}~"].map((c) => c.charCodeAt(0)));

function isAtext(c: number, utf8Allowed: boolean): boolean {
  if (c >= 0x80) return utf8Allowed; // RFC 6531 §3.3: atext =/ UTF8-non-ascii
  return isLetDig(c) || ATEXT_SPECIALS.has(c);
}

/** RFC 5321 §4.1.2 qtextSMTP (and RFC 6531 UTF8-non-ascii). */
function isQtext(c: number, utf8Allowed: boolean): boolean {
  if (c >= 0x80) return utf8Allowed;
  return c === 0x20 || c === 0x21 || (c >= 0x23 && c <= 0x5b) || (c >= 0x5d && c <= 0x7e);
}

function hasNonAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) >= 0x80) return true;
  return false;
}

// ---- numbers ----

/**
 * Decimal digits only (no sign, no exponent), at most 18 of them, at most
 * Number.MAX_SAFE_INTEGER. Returns 'syntax' for anything not digits, 'range' for too large.
 */
export function parseDecimal(s: string): number | 'syntax' | 'range' {
  if (s.length === 0) return 'syntax';
  for (let i = 0; i < s.length; i++) if (!isDigit(s.charCodeAt(i))) return 'syntax';
  if (s.length > MAX_DIGITS) return 'range';
  const n = Number(s);
  return Number.isSafeInteger(n) ? n : 'range';
}

// ---- xtext (RFC 3461 §4) ----

function hexValue(c: number): number {
  if (isDigit(c)) return c - 0x30;
  if (c >= 0x41 && c <= 0x46) return c - 0x41 + 10; // upper case only (RFC 3461 §4)
  return -1;
}

/** xchar: "!" through "~" except "+" and "="; hexchar: "+" two upper-case hex digits. */
function isXtext(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x2b) {
      if (i + 2 >= s.length) return false;
      if (hexValue(s.charCodeAt(i + 1)) < 0 || hexValue(s.charCodeAt(i + 2)) < 0) return false;
      i += 2;
    } else if (c < 0x21 || c > 0x7e || c === 0x3d) {
      return false;
    }
  }
  return true;
}

/**
 * Decodes xtext (RFC 3461 §4): "+XX" is the octet XX. The octets are read as UTF-8.
 * Returns null for malformed xtext or invalid UTF-8.
 */
export function xtextDecode(s: string): string | null {
  if (!isXtext(s)) return null;
  const bytes: number[] = [];
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x2b) {
      bytes.push(hexValue(s.charCodeAt(i + 1)) * 16 + hexValue(s.charCodeAt(i + 2)));
      i += 2;
    } else {
      bytes.push(c);
    }
  }
  try {
    return utf8.decode(Uint8Array.from(bytes));
  } catch {
    return null;
  }
}

/** Encodes text as xtext (RFC 3461 §4): octets outside "!".."~", "+" and "=" become "+XX". */
export function xtextEncode(s: string): string {
  let out = '';
  for (const b of Buffer.from(s, 'utf8')) {
    if (b < 0x21 || b > 0x7e || b === 0x2b || b === 0x3d) {
      out += '+' + b.toString(16).toUpperCase().padStart(2, '0');
    } else {
      out += String.fromCharCode(b);
    }
  }
  return out;
}

// ---- domains and address literals ----

/** RFC 5321 §4.1.2 Domain (with RFC 6531 U-labels when utf8Allowed); no trailing dot. */
export function isDomain(s: string, utf8Allowed: boolean): boolean {
  if (s.length === 0 || Buffer.byteLength(s, 'utf8') > MAX_DOMAIN) return false;
  let labelStart = 0;
  for (let i = 0; i <= s.length; i++) {
    const c = i < s.length ? s.charCodeAt(i) : 0x2e;
    if (c === 0x2e) {
      const length = i - labelStart;
      if (length === 0 || length > MAX_LABEL) return false;
      // sub-domain = Let-dig [Ldh-str]: no hyphen first or last.
      if (s.charCodeAt(labelStart) === 0x2d || s.charCodeAt(i - 1) === 0x2d) return false;
      labelStart = i + 1;
    } else if (c >= 0x80) {
      if (!utf8Allowed) return false;
    } else if (!isLetDig(c) && c !== 0x2d) {
      return false;
    }
  }
  return true;
}

function isIpv4(s: string): boolean {
  let parts = 0;
  let start = 0;
  for (let i = 0; i <= s.length; i++) {
    const c = i < s.length ? s.charCodeAt(i) : 0x2e;
    if (c === 0x2e) {
      const part = s.slice(start, i);
      if (part.length === 0 || part.length > 3) return false;
      if (Number(part) > 255) return false;
      parts++;
      start = i + 1;
    } else if (!isDigit(c)) {
      return false;
    }
  }
  return parts === 4;
}

/** RFC 5321 §4.1.3 IPv6-addr: full, compressed ("::"), or ending in an IPv4 address. */
function isIpv6(s: string): boolean {
  if (s.length === 0 || s.length > 45) return false;
  let groups = 0;
  let compressed = false;
  let i = 0;
  if (s.startsWith('::')) {
    compressed = true;
    i = 2;
    if (i === s.length) return true;
  } else if (s.charCodeAt(0) === 0x3a) {
    return false;
  }
  while (i < s.length) {
    let j = i;
    while (j < s.length && s.charCodeAt(j) !== 0x3a) j++;
    const group = s.slice(i, j);
    if (j === s.length && group.includes('.')) {
      if (!isIpv4(group)) return false;
      groups += 2;
      i = j;
      break;
    }
    if (group.length === 0 || group.length > 4) return false;
    for (let k = 0; k < group.length; k++) {
      const c = group.charCodeAt(k);
      if (!isDigit(c) && !((c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66))) return false;
    }
    groups++;
    if (j === s.length) {
      i = j;
      break;
    }
    // j is at a colon
    if (s.charCodeAt(j + 1) === 0x3a) {
      if (compressed) return false;
      compressed = true;
      i = j + 2;
      if (i === s.length) break;
    } else {
      i = j + 1;
      if (i === s.length) return false; // trailing single colon
    }
  }
  // RFC 5321 §4.1.3 IPv6-comp: "::" stands for at least 2 groups, at most 6 others beside it.
  return compressed ? groups <= 6 : groups === 8;
}

/** RFC 5321 §4.1.3 address-literal: [IPv4] or [IPv6:...]; general literals are not accepted. */
export function isAddressLiteral(s: string): boolean {
  if (s.length < 3 || s.charCodeAt(0) !== 0x5b || s.charCodeAt(s.length - 1) !== 0x5d) return false;
  const inner = s.slice(1, -1);
  if (inner.length > 5 && inner.slice(0, 5).toUpperCase() === 'IPV6:') return isIpv6(inner.slice(5));
  return isIpv4(inner);
}

// ---- paths (RFC 5321 §4.1.2) ----

type PathResult = SmtpPath | string;

/** Parses a Local-part; returns its decoded form or an error message. */
function parseLocalPart(s: string, utf8Allowed: boolean): { decoded: string; quoted: boolean } | string {
  if (s.length === 0) return 'empty local part';
  if (s.charCodeAt(0) === 0x22) {
    // Quoted-string = DQUOTE *QcontentSMTP DQUOTE
    if (s.length < 2 || s.charCodeAt(s.length - 1) !== 0x22) return 'unterminated quoted local part';
    let decoded = '';
    for (let i = 1; i < s.length - 1; i++) {
      const c = s.charCodeAt(i);
      if (c === 0x5c) {
        // quoted-pairSMTP = "\" %d32-126
        if (i + 1 >= s.length - 1) return 'bad quoted pair';
        const q = s.charCodeAt(i + 1);
        if (q < 0x20 || q > 0x7e) return 'bad quoted pair';
        decoded += s[i + 1];
        i++;
      } else if (isQtext(c, utf8Allowed)) {
        decoded += s[i];
      } else {
        return c >= 0x80 ? 'non-ASCII local part' : 'bad character in quoted local part';
      }
    }
    return { decoded, quoted: true };
  }
  // Dot-string = Atom *("." Atom)
  if (!isDotString(s, utf8Allowed))
    return hasNonAscii(s) && !utf8Allowed ? 'non-ASCII local part' : 'bad local part';
  return { decoded: s, quoted: false };
}

function isDotString(s: string, utf8Allowed: boolean): boolean {
  if (s.length === 0) return false;
  let prevDot = true;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x2e) {
      if (prevDot) return false;
      prevDot = true;
    } else if (isAtext(c, utf8Allowed)) {
      prevDot = false;
    } else {
      return false;
    }
  }
  return !prevDot;
}

/** The shortest form of a local part: a Dot-string when it is one, else a Quoted-string. */
function canonicalLocalPart(decoded: string): string {
  if (isDotString(decoded, true)) return decoded;
  let out = '"';
  for (const ch of decoded) out += ch === '"' || ch === '\\' ? '\\' + ch : ch;
  return out + '"';
}

/**
 * Parses the inside of <...>: [A-d-l ":"] Mailbox. The source route is checked and dropped
 * (RFC 5321 §4.1.2, Appendix C). With `postmaster`, the bare "Postmaster" is accepted (RCPT).
 */
function parseMailbox(inner: string, opts: { utf8Allowed: boolean; postmaster: boolean }): PathResult {
  let s = inner;
  if (s.charCodeAt(0) === 0x40) {
    // A-d-l = At-domain *( "," At-domain ), At-domain = "@" Domain
    const colon = s.indexOf(':');
    if (colon < 0) return 'bad source route';
    const route = s.slice(0, colon);
    let start = 0;
    for (let i = 0; i <= route.length; i++) {
      if (i === route.length || route.charCodeAt(i) === 0x2c) {
        const hop = route.slice(start, i);
        if (hop.charCodeAt(0) !== 0x40) return 'bad source route';
        const domain = hop.slice(1);
        if (!isDomain(domain, opts.utf8Allowed) && !isAddressLiteral(domain)) return 'bad source route';
        start = i + 1;
      }
    }
    s = s.slice(colon + 1);
  }
  if (opts.postmaster && s.toLowerCase() === 'postmaster') {
    // RFC 5321 §4.1.1.3: "<Postmaster>" without a domain.
    return { address: s, localPart: s, domain: '' };
  }
  // The local part may be quoted and contain "@": the domain follows the last "@".
  const at = s.lastIndexOf('@');
  if (at <= 0) return 'address without a domain';
  const domain = s.slice(at + 1);
  const local = parseLocalPart(s.slice(0, at), opts.utf8Allowed);
  if (typeof local === 'string') return local;
  if (Buffer.byteLength(local.decoded, 'utf8') > MAX_LOCAL_PART) return 'local part too long';
  if (domain.charCodeAt(0) === 0x5b) {
    if (!isAddressLiteral(domain)) return 'bad address literal';
  } else if (!isDomain(domain, opts.utf8Allowed)) {
    return hasNonAscii(domain) && !opts.utf8Allowed ? 'non-ASCII domain' : 'bad domain';
  }
  const localPart = local.decoded;
  return { address: `${canonicalLocalPart(localPart)}@${domain}`, localPart, domain };
}

// ---- parameters (RFC 5321 §4.1.2 Mail-parameters / Rcpt-parameters) ----

function isKeyword(s: string): boolean {
  // esmtp-keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-")
  if (s.length === 0 || !isLetDig(s.charCodeAt(0))) return false;
  for (let i = 1; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (!isLetDig(c) && c !== 0x2d) return false;
  }
  return true;
}

function isValue(s: string, utf8Allowed: boolean): boolean {
  // esmtp-value = 1*(%d33-60 / %d62-126), RFC 6531 §3.3: =/ UTF8-non-ascii
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x80) {
      if (!utf8Allowed) return false;
    } else if (c < 0x21 || c > 0x7e || c === 0x3d) {
      return false;
    }
  }
  return true;
}

/** Checks the value of a parameter we know; returns the value to store or an error. */
function checkKnownParam(keyword: string, value: string | null): string | null | SmtpSyntaxError {
  const needValue = (): SmtpSyntaxError => syntax(`${keyword} needs a value`);
  switch (keyword) {
    case 'SIZE': {
      // RFC 1870: SIZE=size-value (also "SIZE" alone is not allowed on MAIL)
      if (value === null) return needValue();
      const n = parseDecimal(value);
      if (n === 'syntax') return syntax('SIZE must be decimal digits');
      if (n === 'range')
        return new SmtpSyntaxError(552, '5.3.4', 'message size exceeds fixed maximum message size');
      return value;
    }
    case 'BODY': {
      // RFC 6152 §2 (7BIT, 8BITMIME), RFC 3030 §3 (BINARYMIME)
      if (value === null) return needValue();
      const upper = value.toUpperCase();
      if (upper !== '7BIT' && upper !== '8BITMIME' && upper !== 'BINARYMIME') {
        return syntax('BODY must be 7BIT, 8BITMIME or BINARYMIME');
      }
      return upper;
    }
    case 'SMTPUTF8':
      // RFC 6531 §3.4: no value
      return value === null ? null : syntax('SMTPUTF8 takes no value');
    case 'RET': {
      // RFC 3461 §4.3
      if (value === null) return needValue();
      const upper = value.toUpperCase();
      return upper === 'FULL' || upper === 'HDRS' ? upper : syntax('RET must be FULL or HDRS');
    }
    case 'ENVID':
      // RFC 3461 §4.4
      if (value === null) return needValue();
      if (value.length > MAX_ENVID || !isXtext(value))
        return syntax('ENVID must be xtext of at most 100 characters');
      return value;
    case 'NOTIFY': {
      // RFC 3461 §4.1: "NEVER" / 1#( "SUCCESS" / "FAILURE" / "DELAY" )
      if (value === null) return needValue();
      const upper = value.toUpperCase();
      if (upper === 'NEVER') return upper;
      const seen = new Set<string>();
      for (const item of upper.split(',')) {
        if (item !== 'SUCCESS' && item !== 'FAILURE' && item !== 'DELAY') {
          return syntax('NOTIFY must be NEVER or a list of SUCCESS, FAILURE, DELAY');
        }
        if (seen.has(item)) return syntax('NOTIFY lists a value twice');
        seen.add(item);
      }
      return upper;
    }
    case 'ORCPT': {
      // RFC 3461 §4.2: addr-type ";" xtext; addr-type is an atom
      if (value === null) return needValue();
      const semi = value.indexOf(';');
      if (semi <= 0 || semi === value.length - 1) return syntax('ORCPT must be addr-type;address');
      for (let i = 0; i < semi; i++) {
        if (!isAtext(value.charCodeAt(i), false)) return syntax('ORCPT has a bad address type');
      }
      const addr = value.slice(semi + 1);
      // RFC 6533 utf-8-addr-xtext may carry UTF-8 (checked by isValue); plain xtext otherwise.
      if (!hasNonAscii(addr) && !isXtext(addr)) return syntax('ORCPT address must be xtext');
      return value;
    }
    case 'AUTH':
      // RFC 4954 §5: AUTH=mailbox (xtext) or AUTH=<>
      if (value === null) return needValue();
      return value === '<>' || isXtext(value) ? value : syntax('AUTH= must be xtext or <>');
    default:
      return value;
  }
}

function parseParams(s: string, utf8Allowed: boolean): SmtpParams | SmtpSyntaxError {
  const params: SmtpParams = new Map();
  for (const word of s.split(' ')) {
    if (word.length === 0) continue; // tolerate repeated spaces
    const eq = word.indexOf('=');
    const keyword = (eq < 0 ? word : word.slice(0, eq)).toUpperCase();
    const rawValue = eq < 0 ? null : word.slice(eq + 1);
    if (!isKeyword(keyword)) return syntax('bad parameter keyword');
    if (rawValue !== null && !isValue(rawValue, utf8Allowed)) return syntax(`bad value for ${keyword}`);
    if (params.has(keyword)) return syntax(`duplicate parameter ${keyword}`);
    const value = checkKnownParam(keyword, rawValue);
    if (value instanceof SmtpSyntaxError) return value;
    params.set(keyword, value);
  }
  return params;
}

// ---- MAIL / RCPT ----

function parsePathCommand(
  verb: 'MAIL' | 'RCPT',
  rest: string,
  opts: ParseCommandOptions,
): SmtpCommand | SmtpSyntaxError {
  const prefix = verb === 'MAIL' ? 'FROM:' : 'TO:';
  if (rest.slice(0, prefix.length).toUpperCase() !== prefix) {
    return syntax(verb === 'MAIL' ? 'syntax: MAIL FROM:<address>' : 'syntax: RCPT TO:<address>');
  }
  let s = rest.slice(prefix.length);
  // RFC 5321 has no space after the colon; one is common and tolerated.
  if (s.charCodeAt(0) === 0x20) s = s.slice(1);
  if (s.charCodeAt(0) !== 0x3c) return syntax('the address must be in angle brackets');
  const close = findPathEnd(s);
  if (close < 0) return syntax('the address must be in angle brackets');
  const pathText = s.slice(0, close + 1);
  const after = s.slice(close + 1);
  if (after.length > 0 && after.charCodeAt(0) !== 0x20) return syntax('a space must follow the address');

  const badPath = (message: string): SmtpSyntaxError =>
    verb === 'MAIL'
      ? new SmtpSyntaxError(553, '5.1.7', `bad sender address: ${message}`)
      : new SmtpSyntaxError(553, '5.1.3', `bad recipient address: ${message}`);
  const nonAscii = (): SmtpSyntaxError =>
    new SmtpSyntaxError(553, '5.6.7', 'non-ASCII addresses need SMTPUTF8 (RFC 6531)');

  if (Buffer.byteLength(pathText, 'utf8') > MAX_PATH) return badPath('path too long');

  // Parameters first: for MAIL, SMTPUTF8 among them allows a UTF-8 reverse-path.
  const params = parseParams(after, opts.smtputf8);
  if (params instanceof SmtpSyntaxError) return params;
  const utf8Allowed = verb === 'MAIL' ? opts.smtputf8 && params.has('SMTPUTF8') : opts.smtputf8;

  const inner = pathText.slice(1, -1);
  if (inner.length === 0) {
    // RFC 5321 §4.5.5: the null path, for MAIL only.
    if (verb === 'RCPT') return badPath('the null path <> is not a recipient');
    return { verb, path: { ...NULL_PATH }, params };
  }
  if (!utf8Allowed && hasNonAscii(inner)) return nonAscii();
  const path = parseMailbox(inner, { utf8Allowed, postmaster: verb === 'RCPT' });
  if (typeof path === 'string') return badPath(path);
  return { verb, path, params };
}

/** Index of the ">" closing the path starting at s[0] === "<", skipping quoted strings. */
function findPathEnd(s: string): number {
  let quoted = false;
  for (let i = 1; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (quoted) {
      if (c === 0x5c) i++;
      else if (c === 0x22) quoted = false;
    } else if (c === 0x22) {
      quoted = true;
    } else if (c === 0x3e) {
      return i;
    } else if (c === 0x3c || c === 0x20) {
      return -1;
    }
  }
  return -1;
}

// ---- the command line ----

const NO_ARGUMENT = new Set(['DATA', 'RSET', 'QUIT', 'STARTTLS']);

/**
 * Parses one command line (without CRLF). Returns the command, or the error to answer with:
 * 500 5.5.1 unknown command, 500 5.5.2 garbage (control characters, invalid UTF-8),
 * 501 5.5.4 bad arguments, 553 5.1.3 / 5.1.7 bad recipient / sender address, 553 5.6.7
 * UTF-8 address without SMTPUTF8, 552 5.3.4 a size beyond any limit.
 */
export function parseCommand(line: Buffer, opts: ParseCommandOptions): SmtpCommand | SmtpSyntaxError {
  let ascii = true;
  for (let i = 0; i < line.length; i++) {
    const b = line[i];
    // Control characters (NUL, bare CR, TAB, DEL, ...) never belong in a command line.
    if (b < 0x20 || b === 0x7f) return new SmtpSyntaxError(500, '5.5.2', 'control character in command');
    if (b >= 0x80) ascii = false;
  }
  let text: string;
  if (ascii) {
    text = line.toString('latin1');
  } else {
    try {
      text = utf8.decode(line);
    } catch {
      // RFC 6531 §3.2: only well-formed UTF-8 (RFC 3629), never truncated sequences.
      return new SmtpSyntaxError(500, '5.5.2', 'invalid UTF-8 in command');
    }
  }
  // Trailing spaces are tolerated (several clients send them).
  let end = text.length;
  while (end > 0 && text.charCodeAt(end - 1) === 0x20) end--;
  text = text.slice(0, end);

  const sp = text.indexOf(' ');
  const verb = (sp < 0 ? text : text.slice(0, sp)).toUpperCase();
  const rest = sp < 0 ? '' : text.slice(sp + 1);
  if (verb.length > 8 || hasNonAscii(verb))
    return new SmtpSyntaxError(500, '5.5.1', 'command not recognized');

  if (NO_ARGUMENT.has(verb)) {
    if (rest.length > 0) return syntax(`${verb} takes no argument`);
    return { verb: verb as 'DATA' | 'RSET' | 'QUIT' | 'STARTTLS' };
  }
  switch (verb) {
    case 'EHLO':
    case 'HELO':
      return parseHello(verb, rest);
    case 'MAIL':
    case 'RCPT':
      return parsePathCommand(verb, rest, opts);
    case 'NOOP':
      // RFC 5321 §4.1.1.9: NOOP [SP String]; the argument is ignored.
      return { verb: 'NOOP' };
    case 'BDAT':
      return parseBdat(rest);
    case 'VRFY':
    case 'EXPN':
      // RFC 5321 §4.1.1.6-7: VRFY SP String; RFC 6531 §3.7.4.2 allows UTF-8 with SMTPUTF8.
      if (rest.length === 0) return syntax(`${verb} needs an argument`);
      if (!opts.smtputf8 && hasNonAscii(rest)) {
        return new SmtpSyntaxError(553, '5.6.7', 'non-ASCII argument needs SMTPUTF8');
      }
      return { verb, arg: rest };
    case 'HELP':
      if (hasNonAscii(rest)) return syntax('HELP argument must be ASCII');
      return { verb, arg: rest };
    case 'AUTH':
      return parseAuth(rest);
    default:
      return new SmtpSyntaxError(500, '5.5.1', 'command not recognized');
  }
}

function parseHello(verb: 'EHLO' | 'HELO', rest: string): SmtpCommand | SmtpSyntaxError {
  // RFC 5321 §4.1.1.1: EHLO SP ( Domain / address-literal ). Many hosts announce names with
  // "_" (not LDH); they are tolerated, anything else is refused.
  if (rest.length === 0) return syntax(`${verb} needs a domain or address literal`);
  if (rest.includes(' ')) return syntax(`${verb} takes one argument`);
  if (rest.charCodeAt(0) === 0x5b) {
    return isAddressLiteral(rest) ? { verb, domain: rest } : syntax('bad address literal');
  }
  if (rest.length > MAX_DOMAIN) return syntax('domain too long');
  for (let i = 0; i < rest.length; i++) {
    const c = rest.charCodeAt(i);
    if (!isLetDig(c) && c !== 0x2d && c !== 0x2e && c !== 0x5f) return syntax('bad domain');
  }
  return { verb, domain: rest };
}

function parseBdat(rest: string): SmtpCommand | SmtpSyntaxError {
  // RFC 3030 §2: "BDAT" SP chunk-size [ SP end-marker ], end-marker = "LAST"
  const parts = rest.split(' ');
  if (parts.length > 2 || parts[0].length === 0) return syntax('syntax: BDAT size [LAST]');
  let last = false;
  if (parts.length === 2) {
    if (parts[1].toUpperCase() !== 'LAST') return syntax('syntax: BDAT size [LAST]');
    last = true;
  }
  const size = parseDecimal(parts[0]);
  if (size === 'syntax') return syntax('BDAT size must be decimal digits');
  if (size === 'range')
    return new SmtpSyntaxError(552, '5.3.4', 'message size exceeds fixed maximum message size');
  return { verb: 'BDAT', size, last };
}

function parseAuth(rest: string): SmtpCommand | SmtpSyntaxError {
  // RFC 4954 §4: "AUTH" SP sasl-mech [SP initial-response], initial-response = base64 / "="
  const parts = rest.split(' ');
  if (parts.length > 2 || parts[0].length === 0) return syntax('syntax: AUTH mechanism [initial-response]');
  const mechanism = parts[0].toUpperCase();
  if (mechanism.length > MAX_MECHANISM) return syntax('bad SASL mechanism name');
  for (let i = 0; i < mechanism.length; i++) {
    const c = mechanism.charCodeAt(i);
    // RFC 4422 §3.1: upper-case letters, digits, "-" and "_"
    if (!isLetDig(c) && c !== 0x2d && c !== 0x5f) return syntax('bad SASL mechanism name');
  }
  if (parts.length === 1) return { verb: 'AUTH', mechanism, initialResponse: null };
  const response = parts[1];
  if (response.length === 0 || hasNonAscii(response))
    return new SmtpSyntaxError(501, '5.5.2', 'bad initial response');
  // Passed on as written ("=" is the empty response, "*" a cancel): src/auth/sasl.ts decodes it.
  return { verb: 'AUTH', mechanism, initialResponse: response };
}
