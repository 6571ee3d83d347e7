// Server side of the SASL mechanisms shared by SMTP AUTH (RFC 4954), IMAP AUTHENTICATE
// (RFC 9051 §6.2.2, SASL-IR RFC 4959) and POP3 AUTH (RFC 5034). Sans-I/O: the protocol feeds
// each client response line (base64, without CRLF) and writes back the challenges it gets.
// Invariants: every response is length-checked before it is decoded; a finished or failed
// exchange accepts no more input; credentials never contain NUL.

export const SASL_MECHANISMS = ['PLAIN', 'LOGIN'] as const;
export type SaslMechanismName = (typeof SASL_MECHANISMS)[number];

export interface SaslCredentials {
  /** The identity whose password was given (RFC 4422 authentication identity). */
  authcid: string;
  /** The identity to act as; equal to authcid (we have no proxy authorisation). */
  authzid: string;
  password: string;
}

export type SaslStep =
  /** Send this base64 challenge (possibly empty: SMTP "334 ", IMAP "+ ") and feed the next line. */
  { kind: 'challenge'; challenge: string } | { kind: 'done'; credentials: SaslCredentials };

export type SaslErrorCode =
  /** The response is not valid base64 (RFC 4954: 501 5.5.2; IMAP BAD). */
  | 'BAD_BASE64'
  /** The client sent "*" (RFC 4954 §4, RFC 9051 §6.2.2): 501 / BAD. */
  | 'CANCELLED'
  /** The response is longer than the limit. */
  | 'TOO_LONG'
  /** authzid is present and differs from authcid. */
  | 'AUTHZID_REFUSED'
  /** A NUL inside a field (PLAIN with more than two NULs, LOGIN with any). */
  | 'NUL_IN_FIELD'
  /** Wrong shape: missing separators, empty user name, not UTF-8. */
  | 'MALFORMED'
  /** Input after the exchange finished or failed. */
  | 'UNEXPECTED'
  /** The protocol asked for a mechanism we do not offer. */
  | 'UNSUPPORTED_MECHANISM';

export class SaslError extends Error {
  readonly code: SaslErrorCode;
  constructor(code: SaslErrorCode, message: string) {
    super(message);
    this.name = 'SaslError';
    this.code = code;
  }
}

export interface SaslServerOptions {
  /** Longest response line accepted, in base64 characters (default 4096). */
  maxResponseLength?: number;
}

export interface SaslServer {
  readonly mechanism: SaslMechanismName;
  /**
   * Begins the exchange. `initialResponse` is the optional argument of AUTH/AUTHENTICATE:
   * undefined when absent, "=" for an empty initial response (RFC 4954 §4, RFC 4959 §3).
   */
  start(initialResponse?: string): SaslStep;
  /** Feeds one client response line. Throws SaslError. */
  respond(line: string): SaslStep;
}

const DEFAULT_MAX_RESPONSE = 4096;
const utf8 = new TextDecoder('utf-8', { fatal: true });

function isBase64Char(c: number): boolean {
  return (
    (c >= 0x41 && c <= 0x5a) ||
    (c >= 0x61 && c <= 0x7a) ||
    (c >= 0x30 && c <= 0x39) ||
    c === 0x2b ||
    c === 0x2f
  );
}

/** Strict base64 (RFC 4648 §4, padding required) to bytes; "=" alone is the empty response. */
export function decodeSaslBase64(line: string, maxLength: number = DEFAULT_MAX_RESPONSE): Buffer {
  if (line === '*') throw new SaslError('CANCELLED', 'authentication cancelled by the client');
  if (line.length > maxLength) throw new SaslError('TOO_LONG', 'response too long');
  if (line === '=' || line === '') return Buffer.alloc(0);
  if (line.length % 4 !== 0) throw new SaslError('BAD_BASE64', 'invalid base64');
  const end = line.endsWith('==') ? line.length - 2 : line.endsWith('=') ? line.length - 1 : line.length;
  for (let i = 0; i < end; i++) {
    if (!isBase64Char(line.charCodeAt(i))) throw new SaslError('BAD_BASE64', 'invalid base64');
  }
  return Buffer.from(line, 'base64');
}

export function encodeSaslBase64(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64');
}

function decodeUtf8(bytes: Uint8Array): string {
  try {
    return utf8.decode(bytes);
  } catch {
    throw new SaslError('MALFORMED', 'response is not UTF-8');
  }
}

function sameIdentity(a: string, b: string): boolean {
  // Addresses are stored lower-case; compare the same way the login lookup does.
  return a.toLowerCase() === b.toLowerCase();
}

type PlainState = 'new' | 'waiting' | 'finished';

// RFC 4616 §2: message = [authzid] UTF8NUL authcid UTF8NUL passwd
class PlainServer implements SaslServer {
  readonly mechanism = 'PLAIN' as const;
  private state: PlainState = 'new';
  constructor(private readonly maxLength: number) {}

  start(initialResponse?: string): SaslStep {
    if (this.state !== 'new') return this.fail('UNEXPECTED', 'exchange already started');
    if (initialResponse === undefined) {
      this.state = 'waiting';
      return { kind: 'challenge', challenge: '' };
    }
    return this.finish(initialResponse);
  }

  respond(line: string): SaslStep {
    if (this.state !== 'waiting') return this.fail('UNEXPECTED', 'no response expected');
    return this.finish(line);
  }

  private finish(line: string): SaslStep {
    this.state = 'finished';
    const bytes = decodeSaslBase64(line, this.maxLength);
    const first = bytes.indexOf(0);
    const second = first < 0 ? -1 : bytes.indexOf(0, first + 1);
    if (first < 0 || second < 0) throw new SaslError('MALFORMED', 'PLAIN response needs two NUL separators');
    if (bytes.indexOf(0, second + 1) >= 0) throw new SaslError('NUL_IN_FIELD', 'NUL inside the password');
    const authzid = decodeUtf8(bytes.subarray(0, first));
    const authcid = decodeUtf8(bytes.subarray(first + 1, second));
    const password = decodeUtf8(bytes.subarray(second + 1));
    if (authcid.length === 0) throw new SaslError('MALFORMED', 'empty authentication identity');
    if (authzid.length > 0 && !sameIdentity(authzid, authcid)) {
      throw new SaslError('AUTHZID_REFUSED', 'authorization identity must equal the authentication identity');
    }
    return { kind: 'done', credentials: { authcid, authzid: authcid, password } };
  }

  private fail(code: SaslErrorCode, message: string): never {
    this.state = 'finished';
    throw new SaslError(code, message);
  }
}

type LoginState =
  { kind: 'new' } | { kind: 'user' } | { kind: 'password'; user: string } | { kind: 'finished' };

const USERNAME_CHALLENGE = encodeSaslBase64('Username:');
const PASSWORD_CHALLENGE = encodeSaslBase64('Password:');

// draft-murchison-sasl-login-00: server asks "Username:" then "Password:"; clients such as
// Outlook send the user name as the initial response (AUTH LOGIN <base64 user>).
class LoginServer implements SaslServer {
  readonly mechanism = 'LOGIN' as const;
  private state: LoginState = { kind: 'new' };
  constructor(private readonly maxLength: number) {}

  start(initialResponse?: string): SaslStep {
    if (this.state.kind !== 'new') return this.fail('UNEXPECTED', 'exchange already started');
    if (initialResponse === undefined) {
      this.state = { kind: 'user' };
      return { kind: 'challenge', challenge: USERNAME_CHALLENGE };
    }
    return this.takeUser(initialResponse);
  }

  respond(line: string): SaslStep {
    const state = this.state;
    switch (state.kind) {
      case 'user':
        return this.takeUser(line);
      case 'password': {
        this.state = { kind: 'finished' };
        const password = this.field(line);
        return { kind: 'done', credentials: { authcid: state.user, authzid: state.user, password } };
      }
      default:
        return this.fail('UNEXPECTED', 'no response expected');
    }
  }

  private takeUser(line: string): SaslStep {
    this.state = { kind: 'finished' };
    const user = this.field(line);
    if (user.length === 0) throw new SaslError('MALFORMED', 'empty user name');
    this.state = { kind: 'password', user };
    return { kind: 'challenge', challenge: PASSWORD_CHALLENGE };
  }

  private field(line: string): string {
    const bytes = decodeSaslBase64(line, this.maxLength);
    if (bytes.indexOf(0) >= 0) throw new SaslError('NUL_IN_FIELD', 'NUL in LOGIN response');
    return decodeUtf8(bytes);
  }

  private fail(code: SaslErrorCode, message: string): never {
    this.state = { kind: 'finished' };
    throw new SaslError(code, message);
  }
}

export function isSaslMechanism(name: string): name is SaslMechanismName {
  return (SASL_MECHANISMS as readonly string[]).includes(name);
}

/** A fresh exchange for `mechanism` (case-insensitive, RFC 4422 §3.1). Throws UNSUPPORTED_MECHANISM. */
export function createSaslServer(mechanism: string, opts: SaslServerOptions = {}): SaslServer {
  const name = mechanism.toUpperCase();
  const max = opts.maxResponseLength ?? DEFAULT_MAX_RESPONSE;
  if (name === 'PLAIN') return new PlainServer(max);
  if (name === 'LOGIN') return new LoginServer(max);
  throw new SaslError('UNSUPPORTED_MECHANISM', 'unsupported SASL mechanism');
}
