// TLSA lookups (RFC 6698) with the resolver's DNSSEC verdict, for DANE (RFC 7672). node:dns has
// no TLSA type and does not report the AD bit, so this is a minimal DNS client of its own: one
// question over UDP (EDNS0, RFC 6891), again over TCP when the answer is truncated (RFC 1035
// §4.2.2, RFC 7766). The query sets AD (RFC 6840 §5.7) so that a validating resolver reports
// whether the answer was validated; Postern trusts the configured resolver ([dns] servers) to
// validate, as Postfix does (smtp_dns_support_level = dnssec): it must be on a trusted path
// (loopback or a local network).
// Invariants:
// - every query ends: each try has a timeout, and tries are bounded;
// - a response is used only if its id, question and QR bit match the query;
// - parsing is bounded: names by length and by a count of compression pointers, records by
//   the message's length; a malformed answer is a failure, never a crash.

import { randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import { getServers } from 'node:dns';
import net from 'node:net';
import { normalizeName } from './resolver.js';

export const QTYPE_MX = 15;
export const QTYPE_TLSA = 52;

/** One TLSA record (RFC 6698 §2.1). */
export interface TlsaRecord {
  usage: number;
  selector: number;
  matchingType: number;
  data: Buffer;
}

/** A raw answer record of the asked type. */
export interface WireRecord {
  type: number;
  ttl: number;
  rdata: Buffer;
}

export type SecureRcode = 'noerror' | 'nxdomain' | 'servfail' | 'refused' | 'other';

export interface SecureAnswer {
  rcode: SecureRcode;
  /** The AD bit: the resolver validated the answer (or the denial) with DNSSEC. */
  authenticated: boolean;
  /** Records of the asked type in the answer section (CNAMEs leading to them are followed by the resolver). */
  records: WireRecord[];
}

export class SecureDnsError extends Error {
  readonly code: 'ETIMEOUT' | 'EBADRESP' | 'ECONNREFUSED' | 'ENOSERVER';
  constructor(code: SecureDnsError['code'], message: string) {
    super(message);
    this.name = 'SecureDnsError';
    this.code = code;
  }
}

export interface SecureDnsOptions {
  /** "IP:PORT" or "IP" strings ([dns] servers); empty: the system's resolvers. */
  servers: readonly string[];
  /** Milliseconds per try (default 2000). */
  timeoutMs?: number;
  /** Tries per server (default 2). */
  tries?: number;
}

const EDNS_UDP_SIZE = 1232;
const MAX_TCP_ANSWER = 65535;

/** Asks the configured resolvers for `name`/`qtype` with the AD bit; the first server that answers wins. */
export async function querySecure(
  name: string,
  qtype: number,
  opts: SecureDnsOptions,
): Promise<SecureAnswer> {
  const qname = normalizeName(name);
  if (qname === null) throw new SecureDnsError('EBADRESP', `not a DNS name: ${name}`);
  const servers = (opts.servers.length > 0 ? opts.servers : getServers()).map(parseServer);
  if (servers.length === 0) throw new SecureDnsError('ENOSERVER', 'no DNS server configured');
  const timeoutMs = opts.timeoutMs ?? 2000;
  const tries = Math.max(1, opts.tries ?? 2);
  let last: unknown = new SecureDnsError('ETIMEOUT', `DNS ${qname}: no answer`);
  for (let t = 0; t < tries; t++) {
    for (const server of servers) {
      try {
        const id = randomBytes(2).readUInt16BE(0);
        const query = encodeQuery(id, qname, qtype);
        let msg = await udpExchange(server, query, timeoutMs);
        let parsed = parseResponse(msg, id, qname, qtype);
        if (parsed.truncated) {
          msg = await tcpExchange(server, query, timeoutMs);
          parsed = parseResponse(msg, id, qname, qtype);
        }
        return parsed.answer;
      } catch (err) {
        last = err;
      }
    }
  }
  throw last;
}

/** TLSA records of `_PORT._tcp.HOST` (RFC 6698 §3) with the resolver's verdict. */
export async function lookupTlsa(
  host: string,
  port: number,
  opts: SecureDnsOptions,
): Promise<{ rcode: SecureRcode; authenticated: boolean; records: TlsaRecord[] }> {
  const answer = await querySecure(`_${port}._tcp.${host}`, QTYPE_TLSA, opts);
  const records: TlsaRecord[] = [];
  for (const r of answer.records) {
    // usage, selector, matching type, then the association data (RFC 6698 §2.1)
    if (r.rdata.length < 3) continue;
    records.push({
      usage: r.rdata[0] ?? 0,
      selector: r.rdata[1] ?? 0,
      matchingType: r.rdata[2] ?? 0,
      data: Buffer.from(r.rdata.subarray(3)),
    });
  }
  return { rcode: answer.rcode, authenticated: answer.authenticated, records };
}

// -- the wire ------------------------------------------------------------------------------

interface Server {
  host: string;
  port: number;
}

function parseServer(s: string): Server {
  // "1.2.3.4", "1.2.3.4:53", "[::1]:53", "::1"
  const bracket = /^\[([^\]]+)\](?::(\d+))?$/.exec(s);
  if (bracket !== null) return { host: bracket[1] ?? '', port: Number(bracket[2] ?? 53) };
  if (net.isIP(s) !== 0) return { host: s, port: 53 };
  const colon = s.lastIndexOf(':');
  if (colon > 0) return { host: s.slice(0, colon), port: Number(s.slice(colon + 1)) };
  return { host: s, port: 53 };
}

export function encodeQuery(id: number, qname: string, qtype: number): Buffer {
  const header = Buffer.alloc(12);
  header.writeUInt16BE(id, 0);
  header.writeUInt16BE(0x0100 | 0x0020, 2); // RD, AD (RFC 6840 §5.7)
  header.writeUInt16BE(1, 4); // QDCOUNT
  header.writeUInt16BE(1, 10); // ARCOUNT: the OPT record
  const labels: Buffer[] = [];
  for (const label of qname.split('.')) {
    const b = Buffer.from(label, 'latin1');
    labels.push(Buffer.from([b.length]), b);
  }
  labels.push(Buffer.from([0]));
  const tail = Buffer.alloc(4);
  tail.writeUInt16BE(qtype, 0);
  tail.writeUInt16BE(1, 2); // IN
  // OPT (RFC 6891 §6.1.2): root owner, type 41, class = UDP payload size, no flags, no options
  const opt = Buffer.alloc(11);
  opt.writeUInt16BE(41, 1);
  opt.writeUInt16BE(EDNS_UDP_SIZE, 3);
  return Buffer.concat([header, ...labels, tail, opt]);
}

/** Skips a (possibly compressed) name; returns the offset after it. */
function skipName(msg: Buffer, start: number): number {
  let off = start;
  for (let steps = 0; steps < 128; steps++) {
    if (off >= msg.length) throw new SecureDnsError('EBADRESP', 'name runs past the message');
    const len = msg[off] ?? 0;
    if (len === 0) return off + 1;
    if ((len & 0xc0) === 0xc0) return off + 2; // a pointer ends the name here
    if ((len & 0xc0) !== 0) throw new SecureDnsError('EBADRESP', 'unknown label type');
    off += 1 + len;
  }
  throw new SecureDnsError('EBADRESP', 'name too long');
}

/** Reads a name (following pointers, bounded) in lower case without the final dot. */
function readName(msg: Buffer, start: number): string {
  const labels: string[] = [];
  let off = start;
  let total = 0;
  for (let steps = 0; steps < 128; steps++) {
    if (off >= msg.length) throw new SecureDnsError('EBADRESP', 'name runs past the message');
    const len = msg[off] ?? 0;
    if (len === 0) return labels.join('.').toLowerCase();
    if ((len & 0xc0) === 0xc0) {
      if (off + 1 >= msg.length) throw new SecureDnsError('EBADRESP', 'truncated pointer');
      off = ((len & 0x3f) << 8) | (msg[off + 1] ?? 0);
      continue;
    }
    if ((len & 0xc0) !== 0) throw new SecureDnsError('EBADRESP', 'unknown label type');
    total += len + 1;
    if (total > 255 || off + 1 + len > msg.length) throw new SecureDnsError('EBADRESP', 'bad name');
    labels.push(msg.toString('latin1', off + 1, off + 1 + len));
    off += 1 + len;
  }
  throw new SecureDnsError('EBADRESP', 'too many compression pointers');
}

const RCODES: Record<number, SecureRcode> = { 0: 'noerror', 2: 'servfail', 3: 'nxdomain', 5: 'refused' };

export function parseResponse(
  msg: Buffer,
  id: number,
  qname: string,
  qtype: number,
): { truncated: boolean; answer: SecureAnswer } {
  if (msg.length < 12) throw new SecureDnsError('EBADRESP', 'short DNS message');
  if (msg.readUInt16BE(0) !== id) throw new SecureDnsError('EBADRESP', 'DNS id mismatch');
  const flags = msg.readUInt16BE(2);
  if ((flags & 0x8000) === 0) throw new SecureDnsError('EBADRESP', 'not a response');
  const truncated = (flags & 0x0200) !== 0;
  const authenticated = (flags & 0x0020) !== 0;
  const rcode = RCODES[flags & 0x000f] ?? 'other';
  const qd = msg.readUInt16BE(4);
  const an = msg.readUInt16BE(6);
  if (qd !== 1) throw new SecureDnsError('EBADRESP', 'unexpected question count');
  let off = 12;
  const askedName = readName(msg, off);
  off = skipName(msg, off);
  if (off + 4 > msg.length) throw new SecureDnsError('EBADRESP', 'truncated question');
  if (askedName !== qname || msg.readUInt16BE(off) !== qtype) {
    throw new SecureDnsError('EBADRESP', 'answer to another question');
  }
  off += 4;
  const records: WireRecord[] = [];
  if (!truncated) {
    for (let i = 0; i < an; i++) {
      off = skipName(msg, off);
      if (off + 10 > msg.length) throw new SecureDnsError('EBADRESP', 'truncated record');
      const type = msg.readUInt16BE(off);
      const ttl = msg.readUInt32BE(off + 4);
      const rdlen = msg.readUInt16BE(off + 8);
      off += 10;
      if (off + rdlen > msg.length) throw new SecureDnsError('EBADRESP', 'truncated rdata');
      if (type === qtype) records.push({ type, ttl, rdata: Buffer.from(msg.subarray(off, off + rdlen)) });
      off += rdlen;
    }
  }
  return { truncated, answer: { rcode, authenticated, records } };
}

function udpExchange(server: Server, query: Buffer, timeoutMs: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const socket = dgram.createSocket(net.isIPv6(server.host) ? 'udp6' : 'udp4');
    let settled = false;
    const done = (err: Error | null, msg?: Buffer): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.close();
      if (err !== null) reject(err);
      else resolve(msg ?? Buffer.alloc(0));
    };
    const timer = setTimeout(
      () => done(new SecureDnsError('ETIMEOUT', `DNS ${server.host}:${server.port} timed out`)),
      timeoutMs,
    );
    const id = query.readUInt16BE(0);
    socket.on('error', (err) => done(err));
    socket.on('message', (msg) => {
      // Ignore stray datagrams: wait for our id (the id and question are checked again when parsed).
      if (msg.length >= 2 && msg.readUInt16BE(0) === id) done(null, msg);
    });
    socket.send(query, server.port, server.host, (err) => {
      if (err !== null) done(err);
    });
  });
}

function tcpExchange(server: Server, query: Buffer, timeoutMs: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: server.host, port: server.port });
    let buf = Buffer.alloc(0);
    let settled = false;
    const done = (err: Error | null, msg?: Buffer): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      if (err !== null) reject(err);
      else resolve(msg ?? Buffer.alloc(0));
    };
    const timer = setTimeout(
      () => done(new SecureDnsError('ETIMEOUT', `DNS over TCP ${server.host}:${server.port} timed out`)),
      timeoutMs,
    );
    socket.on('error', (err) => done(err));
    socket.on('close', () => done(new SecureDnsError('EBADRESP', 'DNS TCP connection closed early')));
    socket.on('connect', () => {
      const len = Buffer.alloc(2);
      len.writeUInt16BE(query.length, 0);
      socket.write(Buffer.concat([len, query]));
    });
    socket.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      if (buf.length > MAX_TCP_ANSWER + 2) return done(new SecureDnsError('EBADRESP', 'DNS answer too long'));
      if (buf.length >= 2) {
        const len = buf.readUInt16BE(0);
        if (buf.length >= 2 + len) done(null, Buffer.from(buf.subarray(2, 2 + len)));
      }
    });
  });
}
