// The outbound SMTP client: one connection to one server, over which messages are delivered one
// after another (the queue keeps these connections in a cache). Invariants:
// - one operation at a time: open, send, reset and close never overlap on a connection (a
//   second call while one runs throws);
// - every wait has a timeout (RFC 5321 §4.5.3.2 by default, configurable); a timeout or a
//   malformed reply ends the connection, which is then never reused;
// - nothing of a message is sent unless the server can take it as it is: an 8-bit body without
//   8BITMIME, SMTPUTF8 without SMTPUTF8, a size over SIZE, a REQUIRETLS message without TLS and
//   REQUIRETLS are refused before MAIL FROM;
// - with requireTls nothing but EHLO/STARTTLS/QUIT is ever sent in clear;
// - a TLS check (DANE, MTA-STS) that refuses the session ends it before anything but EHLO,
//   STARTTLS and QUIT was sent;
// - after STARTTLS nothing received before the handshake is used (a reply buffered behind the
//   220 is a protocol error: RFC 3207 §4.2, STARTTLS injection);
// - the body is pulled one chunk at a time and written with backpressure: memory per
//   connection is one chunk (DATA) or one BDAT chunk of at most `bdatChunkOctets` plus one
//   input chunk, and the reply reader's bounds;
// - every recipient of `send` gets exactly one outcome; a transaction that may have been
//   accepted (connection lost after the end of data, before its reply) is "unknown", never
//   "refused".

import net from 'node:net';
import tls from 'node:tls';
import { X509Certificate } from 'node:crypto';
import { DotStuffer } from './dot-stuffer.js';
import {
  ReplyReader,
  SmtpProtocolError,
  replyText,
  type ReplyReaderLimits,
  type SmtpClientReply,
} from './reply-reader.js';
import { xtextEncode } from '../wire/smtp/command.js';

export type { SmtpClientReply } from './reply-reader.js';

/** Milliseconds. RFC 5321 §4.5.3.2 gives the minimums a client should wait. */
export interface SmtpClientTimeouts {
  connect: number;
  /** The 220 banner ("initial 220 message", 5 minutes). */
  greeting: number;
  ehlo: number;
  /** The STARTTLS reply and the TLS handshake. */
  starttls: number;
  mail: number;
  rcpt: number;
  /** The 354 after DATA (2 minutes). */
  dataInit: number;
  /** Each write of the body, and each non-final BDAT reply (3 minutes). */
  dataBlock: number;
  /** The reply after the final dot or BDAT LAST (10 minutes). */
  dataFinal: number;
  rset: number;
  /** How long close() waits for the reply to QUIT before it destroys the socket. */
  quit: number;
  /** An open connection with nothing to do is closed (QUIT) after this long. */
  idle: number;
}

export const DEFAULT_SMTP_CLIENT_TIMEOUTS: Readonly<SmtpClientTimeouts> = {
  connect: 30_000,
  greeting: 300_000,
  ehlo: 300_000,
  starttls: 120_000,
  mail: 300_000,
  rcpt: 300_000,
  dataInit: 120_000,
  dataBlock: 180_000,
  dataFinal: 600_000,
  rset: 120_000,
  quit: 2_000,
  idle: 30_000,
};

export interface SmtpClientTlsOptions {
  /** The name the certificate must match (the MX host name), also sent as SNI. */
  servername: string;
  /** Trust anchors instead of Node's default CAs (tests, private CAs). */
  ca?: string | Buffer | Array<string | Buffer>;
  /** Fail (temporarily) rather than continue in clear when STARTTLS is not offered or fails. */
  requireTls: boolean;
  /** strict: an unverified certificate fails the handshake; opportunistic: it is reported. */
  verify: 'strict' | 'opportunistic';
  /**
   * Called right after the handshake (DANE, MTA-STS; src/outbound/transport-policy.ts): an error
   * text ends the connection (QUIT) before anything but EHLO/STARTTLS was sent, and open fails
   * with a temporary SmtpClientError of stage 'tls' that carries the TLS facts.
   */
  check?: (info: Readonly<SmtpClientTlsInfo>) => string | null;
}

export interface SmtpClientOpenOptions {
  /** The server's host name (logs, and the default connect address). */
  host: string;
  port: number;
  /** The address to connect to (from the MX lookup); default `host`. */
  ip?: string;
  localAddress?: string;
  heloName: string;
  tls: SmtpClientTlsOptions;
  timeouts?: Partial<SmtpClientTimeouts>;
  limits?: Partial<ReplyReaderLimits & { bdatChunkOctets: number }>;
  /** EHLO keywords to act as if the server had not offered (Postfix's smtp_discard_ehlo_keywords). */
  discardExtensions?: readonly ExtensionKeyword[];
}

export type ExtensionKeyword =
  | 'STARTTLS'
  | 'PIPELINING'
  | 'SIZE'
  | '8BITMIME'
  | 'SMTPUTF8'
  | 'CHUNKING'
  | 'BINARYMIME'
  | 'DSN'
  | 'ENHANCEDSTATUSCODES'
  | 'REQUIRETLS';

export interface SmtpExtensions {
  starttls: boolean;
  pipelining: boolean;
  /** SIZE: the announced maximum (0: no fixed maximum), null when SIZE is not offered. */
  size: number | null;
  eightBitMime: boolean;
  smtpUtf8: boolean;
  chunking: boolean;
  binaryMime: boolean;
  dsn: boolean;
  enhancedStatusCodes: boolean;
  requireTls: boolean;
}

export interface SmtpClientTlsInfo {
  active: boolean;
  version: string | null;
  cipher: string | null;
  /** Chain and name verified for `servername` by Node's rules. */
  verified: boolean;
  verifyError: string | null;
  /** For DANE / MTA-STS checks by the caller. */
  peerCertificate: X509Certificate | null;
  /** The chain as the server sent it, leaf first (DANE-TA, RFC 7672 §3.1.1); [] without TLS. */
  peerChain: X509Certificate[];
}

export type SmtpClientStage =
  'connect' | 'greeting' | 'ehlo' | 'starttls' | 'tls' | 'mail' | 'rcpt' | 'data' | 'rset' | 'busy';

/** Open or reset failed. `temporary`: try later or another MX. */
export class SmtpClientError extends Error {
  readonly stage: SmtpClientStage;
  readonly temporary: boolean;
  readonly reply: SmtpClientReply | null;
  /** The TLS facts when the `check` of SmtpClientTlsOptions refused them. */
  readonly tls: Readonly<SmtpClientTlsInfo> | null;
  constructor(
    stage: SmtpClientStage,
    message: string,
    opts: { temporary: boolean; reply?: SmtpClientReply | null; tls?: Readonly<SmtpClientTlsInfo> },
  ) {
    super(message);
    this.name = 'SmtpClientError';
    this.stage = stage;
    this.temporary = opts.temporary;
    this.reply = opts.reply ?? null;
    this.tls = opts.tls ?? null;
  }
}

/** The connection ended or timed out: nothing more can be read or written on it. */
class ConnectionLost extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConnectionLost';
  }
}

export interface SmtpRecipient {
  address: string;
  /** RFC 3461 NOTIFY: 'NEVER' or some of SUCCESS, FAILURE, DELAY. */
  notify?: readonly ('NEVER' | 'SUCCESS' | 'FAILURE' | 'DELAY')[];
  /** RFC 3461 ORCPT as "addr-type;address" ("rfc822;a@b.example"); xtext-encoded here. */
  orcpt?: string;
}

export interface SmtpMessage {
  /** The reverse path; "" for the null sender. */
  mailFrom: string;
  recipients: readonly SmtpRecipient[];
  /** Called once per attempt; yields the message bytes (not dot-stuffed). */
  body: () => AsyncIterable<Uint8Array> | Uint8Array;
  size: number;
  bodyType: '7BIT' | '8BITMIME' | 'BINARYMIME';
  smtputf8: boolean;
  ret?: 'FULL' | 'HDRS';
  envid?: string;
  requireTls?: boolean;
}

export type RecipientOutcome =
  | { kind: 'accepted'; address: string; reply: SmtpClientReply }
  | {
      kind: 'refused';
      address: string;
      code: number;
      enhanced: string | null;
      text: string;
      temporary: boolean;
      /** The server's reply, or null when the refusal is ours (checks, connection lost). */
      reply: SmtpClientReply | null;
      stage: 'check' | 'mail' | 'rcpt' | 'data' | 'connection';
    }
  | { kind: 'unknown'; address: string; text: string };

type Refusal = Extract<RecipientOutcome, { kind: 'refused' }>;
type RefusalReason = Omit<Refusal, 'kind' | 'address'>;

const CRLF = '\r\n';

function fromReply(reply: SmtpClientReply, stage: Refusal['stage']): RefusalReason {
  return {
    code: reply.code,
    enhanced: reply.enhanced,
    text: replyText(reply),
    temporary: reply.code < 500,
    reply,
    stage,
  };
}

function ours(code: number, enhanced: string, text: string, stage: Refusal['stage']): RefusalReason {
  return { code, enhanced, text, temporary: code < 500, reply: null, stage };
}

/** A path goes between < and > on a command line: no controls, spaces or angle brackets. */
function checkPath(what: string, address: string): void {
  if (address.length > 1000 || /[\x00-\x20\x7f<>]/.test(address)) {
    throw new TypeError(`${what} ${JSON.stringify(address.slice(0, 80))} cannot be sent in SMTP`);
  }
}

function isEightBit(text: string): boolean {
  return /[^\x00-\x7f]/.test(text);
}

export function parseExtensions(
  ehlo: SmtpClientReply,
  discard: readonly ExtensionKeyword[] = [],
): SmtpExtensions {
  const ext: SmtpExtensions = {
    starttls: false,
    pipelining: false,
    size: null,
    eightBitMime: false,
    smtpUtf8: false,
    chunking: false,
    binaryMime: false,
    dsn: false,
    enhancedStatusCodes: false,
    requireTls: false,
  };
  // RFC 5321 §4.1.1.1: the first line is the greeting, each further line one ehlo-keyword.
  for (const line of ehlo.lines.slice(1)) {
    const [word, ...params] = line.trim().split(/\s+/);
    const keyword = word.toUpperCase();
    if ((discard as readonly string[]).includes(keyword)) continue;
    switch (keyword) {
      case 'STARTTLS':
        ext.starttls = true;
        break;
      case 'PIPELINING':
        ext.pipelining = true;
        break;
      case 'SIZE': {
        // RFC 1870 §4: "SIZE" [SP number]; absent or 0 means no fixed maximum.
        const n = params.length > 0 && /^\d{1,15}$/.test(params[0]) ? Number(params[0]) : 0;
        ext.size = n;
        break;
      }
      case '8BITMIME':
        ext.eightBitMime = true;
        break;
      case 'SMTPUTF8':
        ext.smtpUtf8 = true;
        break;
      case 'CHUNKING':
        ext.chunking = true;
        break;
      case 'BINARYMIME':
        ext.binaryMime = true;
        break;
      case 'DSN':
        ext.dsn = true;
        break;
      case 'ENHANCEDSTATUSCODES':
        ext.enhancedStatusCodes = true;
        break;
      case 'REQUIRETLS':
        ext.requireTls = true;
        break;
    }
  }
  return ext;
}

const NO_TLS: SmtpClientTlsInfo = {
  active: false,
  version: null,
  cipher: null,
  verified: false,
  verifyError: null,
  peerCertificate: null,
  peerChain: [],
};

/** The peer's chain, leaf first, each certificate once (the root links to itself). */
function peerChain(secure: tls.TLSSocket): X509Certificate[] {
  const chain: X509Certificate[] = [];
  const seen = new Set<string>();
  let cert: tls.DetailedPeerCertificate | undefined = secure.getPeerCertificate(true);
  while (cert !== undefined && cert.raw !== undefined && chain.length < 16) {
    if (seen.has(cert.fingerprint256)) break;
    seen.add(cert.fingerprint256);
    chain.push(new X509Certificate(cert.raw));
    cert = cert.issuerCertificate;
  }
  return chain;
}

/** How many replies may wait unread before the server is judged to be flooding us. */
const MAX_UNREAD_REPLIES = 1000;

export class SmtpClientConnection {
  readonly host: string;
  private socket: net.Socket;
  private readonly timeouts: SmtpClientTimeouts;
  private readonly bdatChunkOctets: number;
  private reader: ReplyReader;
  private readonly readerLimits: Partial<ReplyReaderLimits>;
  private waiter: { resolve: (r: SmtpClientReply) => void; reject: (e: Error) => void } | null = null;
  private drainWaiter: (() => void) | null = null;
  private failure: Error | null = null;
  private busy = false;
  private inTransaction = false;
  private idleTimer: NodeJS.Timeout | null = null;
  private closing: Promise<void> | null = null;
  private _extensions: SmtpExtensions = parseExtensions({ code: 250, enhanced: null, lines: [] });
  private _tls: SmtpClientTlsInfo = NO_TLS;
  private _banner: SmtpClientReply | null = null;

  private constructor(
    private readonly opts: SmtpClientOpenOptions,
    socket: net.Socket,
  ) {
    this.host = opts.host;
    this.timeouts = { ...DEFAULT_SMTP_CLIENT_TIMEOUTS, ...opts.timeouts };
    this.readerLimits = {
      ...(opts.limits?.maxLineOctets !== undefined ? { maxLineOctets: opts.limits.maxLineOctets } : {}),
      ...(opts.limits?.maxLines !== undefined ? { maxLines: opts.limits.maxLines } : {}),
    };
    this.bdatChunkOctets = opts.limits?.bdatChunkOctets ?? 256 * 1024;
    this.reader = new ReplyReader(this.readerLimits);
    this.socket = socket;
    this.attach(socket);
  }

  /**
   * Connects, reads the banner, EHLO (HELO when EHLO gets 5xx), STARTTLS when offered (then
   * EHLO again). Throws SmtpClientError; the socket is closed then.
   */
  static async open(opts: SmtpClientOpenOptions): Promise<SmtpClientConnection> {
    if (/[\x00-\x20\x7f]/.test(opts.heloName) || opts.heloName.length === 0) {
      throw new TypeError(`bad HELO name ${JSON.stringify(opts.heloName)}`);
    }
    const timeouts = { ...DEFAULT_SMTP_CLIENT_TIMEOUTS, ...opts.timeouts };
    const socket = await connectSocket(opts, timeouts.connect);
    const conn = new SmtpClientConnection(opts, socket);
    try {
      await conn.handshake();
    } catch (err) {
      conn.destroy(err instanceof Error ? err : new Error(String(err)));
      throw asClientError(err, 'greeting');
    }
    conn.armIdle();
    return conn;
  }

  get extensions(): Readonly<SmtpExtensions> {
    return this._extensions;
  }

  get tls(): Readonly<SmtpClientTlsInfo> {
    return this._tls;
  }

  get banner(): SmtpClientReply | null {
    return this._banner;
  }

  /** Whether the connection can take another message. */
  get usable(): boolean {
    return this.failure === null && this.closing === null && !this.busy;
  }

  /** Delivers one message; one outcome per recipient, in order. Throws only on bad input. */
  async send(msg: SmtpMessage): Promise<RecipientOutcome[]> {
    checkPath('sender', msg.mailFrom);
    if (msg.recipients.length === 0) throw new TypeError('a message needs at least one recipient');
    for (const r of msg.recipients) checkPath('recipient', r.address);
    if (msg.envid !== undefined && (msg.envid.length > 100 || /[^\x20-\x7e]/.test(msg.envid))) {
      throw new TypeError('ENVID must be printable ASCII of at most 100 characters (RFC 3461 §4.4)');
    }
    if (!Number.isSafeInteger(msg.size) || msg.size < 0) throw new TypeError(`bad message size ${msg.size}`);
    const all = (reason: RefusalReason): RecipientOutcome[] =>
      msg.recipients.map((r) => ({ kind: 'refused', address: r.address, ...reason }));
    const refusal = this.check(msg);
    if (refusal !== null) return all(refusal);
    this.enter('send');
    try {
      if (this.failure !== null) return all(ours(421, '4.4.2', this.failure.message, 'connection'));
      try {
        if (this.inTransaction) await this.rset();
        return await this.transaction(msg);
      } catch (err) {
        if (!(err instanceof ConnectionLost || err instanceof SmtpProtocolError)) throw err;
        return all(ours(421, '4.4.2', `connection to ${this.host} lost: ${err.message}`, 'connection'));
      }
    } finally {
      this.leave();
    }
  }

  /** RSET: ends any transaction so the connection can be reused. Throws SmtpClientError. */
  async reset(): Promise<void> {
    this.enter('rset');
    try {
      await this.rset();
    } catch (err) {
      throw asClientError(err, 'rset');
    } finally {
      this.leave();
    }
  }

  /** QUIT, a short wait for its reply, then the socket is destroyed. Safe to call twice. */
  close(): Promise<void> {
    this.closing ??= this.quit();
    return this.closing;
  }

  private async quit(): Promise<void> {
    this.clearIdle();
    // In the middle of an operation there is no clean way out: its waits fail at once.
    if (this.failure === null && !this.busy) {
      try {
        this.socket.write(`QUIT${CRLF}`);
        // A pending reply (a pipelined one nobody read) is skipped: we only wait for the end.
        for (let i = 0; i < 3; i++) {
          const r = await this.readReply(this.timeouts.quit);
          if (r.code === 221) break;
        }
      } catch {
        // best effort: the socket is destroyed below in every case
      }
    }
    this.destroy(new ConnectionLost('connection closed'));
  }

  // -- the session -----------------------------------------------------------------------

  private async handshake(): Promise<void> {
    const banner = await this.stage('greeting', () => this.readReply(this.timeouts.greeting));
    this._banner = banner;
    if (banner.code !== 220) {
      this.socket.write(`QUIT${CRLF}`);
      throw new SmtpClientError('greeting', `${this.host} greeted with ${banner.code} ${replyText(banner)}`, {
        temporary: banner.code < 500,
        reply: banner,
      });
    }
    await this.ehlo();
    const tlsOpts = this.opts.tls;
    if (this._extensions.starttls) {
      this.socket.write(`STARTTLS${CRLF}`);
      const reply = await this.stage('starttls', () => this.readReply(this.timeouts.starttls));
      if (reply.code === 220) {
        await this.upgrade();
        const refused = tlsOpts.check?.(this._tls) ?? null;
        if (refused !== null) {
          this.socket.write(`QUIT${CRLF}`);
          throw new SmtpClientError('tls', `${this.host}: ${refused}`, { temporary: true, tls: this._tls });
        }
        await this.ehlo();
        return;
      }
      if (tlsOpts.requireTls) {
        this.socket.write(`QUIT${CRLF}`);
        throw new SmtpClientError(
          'starttls',
          `${this.host} refused STARTTLS: ${reply.code} ${replyText(reply)}`,
          {
            temporary: true,
            reply,
          },
        );
      }
    } else if (tlsOpts.requireTls) {
      this.socket.write(`QUIT${CRLF}`);
      throw new SmtpClientError('starttls', `${this.host} does not offer STARTTLS and TLS is required`, {
        temporary: true,
      });
    }
  }

  private async ehlo(): Promise<void> {
    this.socket.write(`EHLO ${this.opts.heloName}${CRLF}`);
    const reply = await this.stage('ehlo', () => this.readReply(this.timeouts.ehlo));
    if (reply.code === 250) {
      this._extensions = parseExtensions(reply, this.opts.discardExtensions);
      return;
    }
    // RFC 5321 §3.2: a server that does not know EHLO answers 5xx; then HELO, no extensions.
    if (reply.code >= 500 && !this._tls.active) {
      this.socket.write(`HELO ${this.opts.heloName}${CRLF}`);
      const helo = await this.stage('ehlo', () => this.readReply(this.timeouts.ehlo));
      if (helo.code === 250) {
        this._extensions = parseExtensions({ ...helo, lines: [] });
        return;
      }
      throw new SmtpClientError('ehlo', `${this.host} refused HELO: ${helo.code} ${replyText(helo)}`, {
        temporary: helo.code < 500,
        reply: helo,
      });
    }
    throw new SmtpClientError('ehlo', `${this.host} refused EHLO: ${reply.code} ${replyText(reply)}`, {
      temporary: reply.code < 500,
      reply,
    });
  }

  /** STARTTLS accepted: the handshake on the same socket, then a fresh reply reader. */
  private async upgrade(): Promise<void> {
    if (this.reader.holdsPartial || this.reader.pending > 0) {
      throw new SmtpProtocolError('data received after the 220 to STARTTLS (RFC 3207 §4.2)');
    }
    const plain = this.socket;
    this.detach(plain);
    plain.on('error', () => {});
    const tlsOpts = this.opts.tls;
    const isIpName = net.isIP(tlsOpts.servername) !== 0;
    const secure = tls.connect({
      socket: plain,
      host: tlsOpts.servername,
      ...(isIpName ? {} : { servername: tlsOpts.servername }),
      ...(tlsOpts.ca !== undefined ? { ca: tlsOpts.ca } : {}),
      rejectUnauthorized: tlsOpts.verify === 'strict',
      minVersion: 'TLSv1.2',
    });
    this.socket = secure;
    this.reader = new ReplyReader(this.readerLimits);
    let chain: X509Certificate[] = [];
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => {
          cleanup();
          reject(
            new SmtpClientError('tls', `TLS handshake with ${this.host} timed out`, { temporary: true }),
          );
        }, this.timeouts.starttls);
        const onError = (err: Error): void => {
          cleanup();
          reject(
            new SmtpClientError('tls', `TLS with ${this.host} failed: ${err.message}`, { temporary: true }),
          );
        };
        const onClose = (): void => onError(new Error('connection closed during the handshake'));
        const onSecure = (): void => {
          // Read the chain now: once reading starts, a TLS 1.3 session ticket replaces the
          // session, and OpenSSL's new session no longer holds the peer's chain.
          chain = peerChain(secure);
          cleanup();
          resolve();
        };
        const cleanup = (): void => {
          clearTimeout(timer);
          secure.off('error', onError);
          secure.off('close', onClose);
          secure.off('secureConnect', onSecure);
        };
        secure.once('error', onError);
        secure.once('close', onClose);
        secure.once('secureConnect', onSecure);
      });
    } catch (err) {
      secure.on('error', () => {});
      secure.destroy();
      throw err;
    }
    this.attach(secure);
    const cipher = secure.getCipher();
    const verifyError = secure.authorizationError;
    this._tls = {
      active: true,
      version: secure.getProtocol(),
      cipher: cipher.name,
      verified: secure.authorized,
      verifyError: verifyError === undefined || verifyError === null ? null : String(verifyError),
      peerCertificate: secure.getPeerX509Certificate() ?? null,
      peerChain: chain,
    };
  }

  /** Refusals made before anything is sent (RFC 6152, RFC 6531 §3.2, RFC 1870, RFC 8689). */
  private check(msg: SmtpMessage): RefusalReason | null {
    const ext = this._extensions;
    if (msg.bodyType === '8BITMIME' && !ext.eightBitMime) {
      return ours(554, '5.6.3', `${this.host} does not accept 8-bit data (no 8BITMIME)`, 'check');
    }
    if (msg.bodyType === 'BINARYMIME' && !(ext.binaryMime && ext.chunking)) {
      return ours(
        554,
        '5.6.3',
        `${this.host} does not accept binary data (no BINARYMIME with CHUNKING)`,
        'check',
      );
    }
    const utf8Envelope =
      isEightBit(msg.mailFrom) ||
      msg.recipients.some((r) => isEightBit(r.address) || isEightBit(r.orcpt ?? ''));
    // RFC 6531 §3.5: X.6.7 for a non-ASCII address, 554 X.6.9 for a message with UTF-8 headers.
    if (utf8Envelope && !ext.smtpUtf8) {
      return ours(553, '5.6.7', `${this.host} does not accept non-ASCII addresses (no SMTPUTF8)`, 'check');
    }
    if (msg.smtputf8 && !ext.smtpUtf8) {
      return ours(
        554,
        '5.6.9',
        `${this.host} cannot take a message with UTF-8 header fields (no SMTPUTF8)`,
        'check',
      );
    }
    if (ext.size !== null && ext.size > 0 && msg.size > ext.size) {
      return ours(
        552,
        '5.3.4',
        `message of ${msg.size} octets exceeds the ${ext.size} octets ${this.host} accepts`,
        'check',
      );
    }
    if (msg.requireTls === true && !(this._tls.active && ext.requireTls)) {
      return ours(
        550,
        '5.7.30',
        this._tls.active ? `${this.host} does not offer REQUIRETLS` : `no TLS with ${this.host}`,
        'check',
      );
    }
    return null;
  }

  private mailCommand(msg: SmtpMessage): string {
    const ext = this._extensions;
    const params: string[] = [];
    if (ext.size !== null) params.push(`SIZE=${msg.size}`);
    if (msg.bodyType !== '7BIT') params.push(`BODY=${msg.bodyType}`);
    else if (ext.eightBitMime) params.push('BODY=7BIT');
    if (msg.smtputf8 && ext.smtpUtf8) params.push('SMTPUTF8');
    if (ext.dsn && msg.ret !== undefined) params.push(`RET=${msg.ret}`);
    if (ext.dsn && msg.envid !== undefined) params.push(`ENVID=${xtextEncode(msg.envid)}`);
    if (msg.requireTls === true) params.push('REQUIRETLS');
    return `MAIL FROM:<${msg.mailFrom}>${params.map((p) => ' ' + p).join('')}${CRLF}`;
  }

  private rcptCommand(r: SmtpRecipient): string {
    const params: string[] = [];
    if (this._extensions.dsn) {
      if (r.notify !== undefined && r.notify.length > 0) params.push(`NOTIFY=${r.notify.join(',')}`);
      if (r.orcpt !== undefined) {
        const semi = r.orcpt.indexOf(';');
        if (semi <= 0) throw new TypeError(`ORCPT ${JSON.stringify(r.orcpt)} lacks its address type`);
        params.push(`ORCPT=${r.orcpt.slice(0, semi)};${xtextEncode(r.orcpt.slice(semi + 1))}`);
      }
    }
    return `RCPT TO:<${r.address}>${params.map((p) => ' ' + p).join('')}${CRLF}`;
  }

  private async transaction(msg: SmtpMessage): Promise<RecipientOutcome[]> {
    const outcomes: (RecipientOutcome | null)[] = msg.recipients.map(() => null);
    const rcpts = msg.recipients.map((r) => this.rcptCommand(r));
    const mail = this.mailCommand(msg);
    let mailReply: SmtpClientReply;
    const rcptReplies: SmtpClientReply[] = [];
    this.inTransaction = true;
    if (this._extensions.pipelining) {
      // RFC 2920 §3.1: MAIL and RCPT go in one group; the replies come back in order.
      this.socket.write(mail + rcpts.join(''));
      mailReply = await this.readReply(this.timeouts.mail);
      for (let i = 0; i < rcpts.length; i++) rcptReplies.push(await this.readReply(this.timeouts.rcpt));
    } else {
      this.socket.write(mail);
      mailReply = await this.readReply(this.timeouts.mail);
      if (mailReply.code === 250) {
        for (const cmd of rcpts) {
          this.socket.write(cmd);
          rcptReplies.push(await this.readReply(this.timeouts.rcpt));
        }
      }
    }
    if (mailReply.code !== 250) {
      this.inTransaction = false;
      const reason = fromReply(mailReply, 'mail');
      return msg.recipients.map((r) => ({ kind: 'refused', address: r.address, ...reason }));
    }
    const accepted: number[] = [];
    rcptReplies.forEach((reply, i) => {
      if (reply.code === 250 || reply.code === 251) accepted.push(i);
      else outcomes[i] = { kind: 'refused', address: msg.recipients[i].address, ...fromReply(reply, 'rcpt') };
    });
    if (accepted.length > 0) {
      const result = this._extensions.chunking ? await this.bdat(msg) : await this.data(msg);
      for (const i of accepted) {
        const address = msg.recipients[i].address;
        outcomes[i] =
          result.kind === 'accepted'
            ? { kind: 'accepted', address, reply: result.reply }
            : result.kind === 'unknown'
              ? { kind: 'unknown', address, text: result.text }
              : { kind: 'refused', address, ...result.reason };
      }
    }
    return outcomes.map((o) => o!);
  }

  /** DATA: 354, the stuffed body with backpressure, the final dot, its reply. */
  private async data(msg: SmtpMessage): Promise<DataResult> {
    this.socket.write(`DATA${CRLF}`);
    const start = await this.readReply(this.timeouts.dataInit);
    if (start.code !== 354) return { kind: 'refused', reason: fromReply(start, 'data') };
    const stuffer = new DotStuffer();
    const streamed = await this.stream(msg, async (chunk) => this.write(stuffer.push(chunk)));
    if (streamed !== null) return streamed;
    return this.finish(stuffer.end());
  }

  /** BDAT (RFC 3030): chunks of at most bdatChunkOctets, each answered, the last with LAST. */
  private async bdat(msg: SmtpMessage): Promise<DataResult> {
    let held: Buffer[] = [];
    let heldLength = 0;
    const flush = async (): Promise<DataResult | null> => {
      const payload = Buffer.concat(held, heldLength);
      held = [];
      heldLength = 0;
      await this.write(Buffer.concat([Buffer.from(`BDAT ${payload.length}${CRLF}`), payload]));
      const reply = await this.readReply(this.timeouts.dataBlock);
      return reply.code === 250 ? null : { kind: 'refused', reason: fromReply(reply, 'data') };
    };
    let refused: DataResult | null = null;
    const streamed = await this.stream(msg, async (chunk) => {
      held.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
      heldLength += chunk.byteLength;
      if (heldLength >= this.bdatChunkOctets) {
        refused = await flush();
        if (refused !== null) return false;
      }
      return true;
    });
    if (streamed !== null) return streamed;
    if (refused !== null) return refused;
    const last = Buffer.concat(held, heldLength);
    return this.finish(Buffer.concat([Buffer.from(`BDAT ${last.length} LAST${CRLF}`), last]));
  }

  /**
   * Pulls the body and hands each chunk to `sink` (false: stop). Returns a result when the
   * transaction failed on the way (connection lost, the body could not be read), else null.
   */
  private async stream(
    msg: SmtpMessage,
    sink: (chunk: Uint8Array) => Promise<boolean | void>,
  ): Promise<DataResult | null> {
    let source: AsyncIterable<Uint8Array> | Uint8Array;
    try {
      source = msg.body();
    } catch (err) {
      return this.bodyFailed(err);
    }
    const chunks: AsyncIterable<Uint8Array> | Uint8Array[] = source instanceof Uint8Array ? [source] : source;
    try {
      for await (const chunk of chunks) {
        if (this.failure !== null) throw this.failure;
        if ((await sink(chunk)) === false) break;
      }
    } catch (err) {
      if (err instanceof ConnectionLost || err instanceof SmtpProtocolError) {
        // A server that refused mid-stream and hung up may have said why first.
        const early = this.reader.shift();
        if (early !== undefined && early.code >= 400)
          return { kind: 'refused', reason: fromReply(early, 'data') };
        return {
          kind: 'refused',
          reason: ours(421, '4.4.2', `connection to ${this.host} lost while sending: ${err.message}`, 'data'),
        };
      }
      return this.bodyFailed(err);
    }
    return null;
  }

  /** The message could not be read: the server must not take a truncated one, so hang up. */
  private bodyFailed(err: unknown): DataResult {
    const message = err instanceof Error ? err.message : String(err);
    this.destroy(new ConnectionLost(`message body failed: ${message}`));
    return {
      kind: 'refused',
      reason: ours(451, '4.3.0', `the message could not be read: ${message}`, 'data'),
    };
  }

  /** Writes the end of data; its reply decides. No reply (lost, timed out): unknown. */
  private async finish(end: Buffer): Promise<DataResult> {
    try {
      await this.write(end);
    } catch (err) {
      if (!(err instanceof ConnectionLost)) throw err;
      // Whether the end reached the server cannot be known.
      return { kind: 'unknown', text: `connection to ${this.host} lost at the end of data: ${err.message}` };
    }
    let reply: SmtpClientReply;
    try {
      reply = await this.readReply(this.timeouts.dataFinal);
    } catch (err) {
      if (!(err instanceof ConnectionLost || err instanceof SmtpProtocolError)) throw err;
      return { kind: 'unknown', text: `no reply from ${this.host} after the end of data: ${err.message}` };
    }
    this.inTransaction = false;
    return reply.code === 250
      ? { kind: 'accepted', reply }
      : { kind: 'refused', reason: fromReply(reply, 'data') };
  }

  private async rset(): Promise<void> {
    this.socket.write(`RSET${CRLF}`);
    const reply = await this.readReply(this.timeouts.rset);
    if (reply.code !== 250) {
      // A server that will not reset cannot be trusted with another transaction.
      this.destroy(new ConnectionLost(`RSET refused: ${reply.code}`));
      throw new SmtpClientError('rset', `${this.host} refused RSET: ${reply.code} ${replyText(reply)}`, {
        temporary: true,
        reply,
      });
    }
    this.inTransaction = false;
  }

  // -- I/O -------------------------------------------------------------------------------

  private enter(what: string): void {
    if (this.busy)
      throw new SmtpClientError('busy', `${what} while another operation runs`, { temporary: true });
    if (this.closing !== null)
      throw new SmtpClientError('busy', `${what} after close()`, { temporary: true });
    this.busy = true;
    this.clearIdle();
  }

  private leave(): void {
    this.busy = false;
    this.armIdle();
  }

  private armIdle(): void {
    this.clearIdle();
    if (this.failure !== null || this.closing !== null) return;
    this.idleTimer = setTimeout(() => void this.close(), this.timeouts.idle);
    this.idleTimer.unref();
  }

  private clearIdle(): void {
    if (this.idleTimer !== null) clearTimeout(this.idleTimer);
    this.idleTimer = null;
  }

  private async stage<T>(stage: SmtpClientStage, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw asClientError(err, stage);
    }
  }

  private readonly onData = (chunk: Buffer): void => {
    try {
      this.reader.push(chunk);
    } catch (err) {
      this.destroy(err as Error);
      return;
    }
    if (this.reader.pending > MAX_UNREAD_REPLIES) {
      this.destroy(new SmtpProtocolError('too many unsolicited replies'));
      return;
    }
    if (this.waiter !== null && this.reader.pending > 0) {
      const w = this.waiter;
      this.waiter = null;
      w.resolve(this.reader.shift()!);
    }
  };

  private readonly onClose = (): void => {
    this.destroy(new ConnectionLost('connection closed by the server'));
  };

  private readonly onError = (err: Error): void => {
    this.destroy(new ConnectionLost(err.message));
  };

  private readonly onDrain = (): void => {
    const w = this.drainWaiter;
    this.drainWaiter = null;
    w?.();
  };

  private attach(socket: net.Socket): void {
    socket.on('data', this.onData);
    socket.on('close', this.onClose);
    socket.on('error', this.onError);
    socket.on('drain', this.onDrain);
  }

  private detach(socket: net.Socket): void {
    socket.off('data', this.onData);
    socket.off('close', this.onClose);
    socket.off('error', this.onError);
    socket.off('drain', this.onDrain);
  }

  /** Ends the connection for good; pending waits fail with `err`. */
  private destroy(err: Error): void {
    if (this.failure === null) this.failure = err;
    this.clearIdle();
    this.socket.destroy();
    const w = this.waiter;
    this.waiter = null;
    w?.reject(this.failure);
    this.onDrain();
  }

  private readReply(timeoutMs: number): Promise<SmtpClientReply> {
    const ready = this.reader.shift();
    if (ready !== undefined) return Promise.resolve(ready);
    if (this.failure !== null) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.destroy(new ConnectionLost(`no reply from ${this.host} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiter = {
        resolve: (r) => {
          clearTimeout(timer);
          resolve(r);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      };
    });
  }

  /** Writes with backpressure: waits for 'drain' (at most dataBlock) when the buffer is full. */
  private async write(data: Uint8Array): Promise<void> {
    if (this.failure !== null) throw this.failure;
    if (data.byteLength === 0) return;
    if (this.socket.write(data)) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.destroy(new ConnectionLost(`${this.host} took no data for ${this.timeouts.dataBlock} ms`));
      }, this.timeouts.dataBlock);
      this.drainWaiter = () => {
        clearTimeout(timer);
        resolve();
      };
    });
    if (this.failure !== null) throw this.failure;
  }
}

type DataResult =
  | { kind: 'accepted'; reply: SmtpClientReply }
  | { kind: 'refused'; reason: RefusalReason }
  | { kind: 'unknown'; text: string };

function asClientError(err: unknown, stage: SmtpClientStage): SmtpClientError {
  if (err instanceof SmtpClientError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new SmtpClientError(stage, message, { temporary: true });
}

function connectSocket(opts: SmtpClientOpenOptions, timeoutMs: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({
      host: opts.ip ?? opts.host,
      port: opts.port,
      ...(opts.localAddress !== undefined ? { localAddress: opts.localAddress } : {}),
    });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new SmtpClientError('connect', `connecting to ${opts.host} timed out`, { temporary: true }));
    }, timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.removeAllListeners('error');
      socket.setNoDelay(true);
      resolve(socket);
    });
    socket.once('error', (err) => {
      clearTimeout(timer);
      socket.destroy();
      reject(
        new SmtpClientError('connect', `cannot connect to ${opts.host}: ${err.message}`, { temporary: true }),
      );
    });
  });
}
