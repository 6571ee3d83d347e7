// A real authoritative DNS server for tests, on 127.0.0.1 only: UDP (node:dgram) and TCP
// (node:net, 2-byte length framing, RFC 1035 §4.2.2) on the same port. It answers A, AAAA,
// MX, TXT, PTR, CNAME and TLSA from a table; a name not in the table is NXDOMAIN, a name in it
// without the asked type is NODATA (NOERROR, no answer). A UDP answer over 512 bytes is sent
// truncated (TC, RFC 1035 §4.2.1) so the client retries over TCP. Queries are parsed with
// bounds (one question, labels <= 63, name <= 255, no compression in questions). An entry with
// `ad: true` is answered with the AD bit set (RFC 4035 §3.2.3), as a validating resolver does
// for DNSSEC-secure data: tests of DANE (RFC 7672) use it in place of signed zones.

import dgram from 'node:dgram';
import { isIPv4, isIPv6 } from 'node:net';
import net from 'node:net';

export interface DnsTestEntry {
  A?: string[];
  AAAA?: string[];
  /** An exchange of "." is the root: `[{ exchange: '.', priority: 0 }]` is a null MX (RFC 7505). */
  MX?: Array<{ exchange: string; priority: number }>;
  /** Each item is one TXT record: a string (split into 255-byte character-strings) or explicit chunks. */
  TXT?: Array<string | string[]>;
  PTR?: string[];
  CNAME?: string;
  /** TLSA records (RFC 6698 §2.1): usage, selector, matching type and the data in hex. */
  TLSA?: Array<{ usage: number; selector: number; matchingType: number; data: string }>;
  /** Answers for this name carry the AD bit (authenticated data, as after DNSSEC validation). */
  ad?: boolean;
  /** TTL of every record of this name, seconds (default 300). */
  ttl?: number;
  /** Misbehave for this name: answer SERVFAIL / REFUSED, or never answer (client times out). */
  fail?: 'servfail' | 'refused' | 'drop';
}

/** Names (case-insensitive, no trailing dot) to their records. */
export type DnsTestRecords = Record<string, DnsTestEntry>;

export interface DnsTestServer {
  port: number;
  /** "127.0.0.1:PORT", ready for DnsResolver's servers / [dns] servers. */
  address: string;
  /** Queries received so far (UDP and TCP), as "TYPE name". */
  readonly log: string[];
  /** Adds or replaces the records of one name (undefined removes it). */
  set(name: string, entry: DnsTestEntry | undefined): void;
  close(): Promise<void>;
}

const TYPE_CODES: Readonly<Record<string, number>> = {
  A: 1,
  CNAME: 5,
  PTR: 12,
  MX: 15,
  TXT: 16,
  AAAA: 28,
  TLSA: 52,
};
const TYPE_NAMES = new Map<number, string>(Object.entries(TYPE_CODES).map(([k, v]) => [v, k]));

const RCODE_NOERROR = 0;
const RCODE_FORMERR = 1;
const RCODE_SERVFAIL = 2;
const RCODE_NXDOMAIN = 3;
const RCODE_NOTIMP = 4;
const RCODE_REFUSED = 5;

export async function startDnsServer(records: DnsTestRecords): Promise<DnsTestServer> {
  const table = new Map<string, DnsTestEntry>();
  const key = (name: string): string => (name.endsWith('.') ? name.slice(0, -1) : name).toLowerCase();
  for (const [name, entry] of Object.entries(records)) table.set(key(name), entry);
  const log: string[] = [];

  const answer = (query: Buffer, maxSize: number): Buffer | null => {
    const q = parseQuery(query);
    if (q === null) {
      return query.length >= 12 ? header(query.readUInt16BE(0), RCODE_FORMERR, 0, 0, false) : null;
    }
    const typeName = TYPE_NAMES.get(q.qtype) ?? `TYPE${q.qtype}`;
    log.push(`${typeName} ${q.name}`);
    const entry = table.get(q.name);
    if (entry?.fail === 'drop') return null;
    if (entry?.fail === 'servfail') return response(q, RCODE_SERVFAIL, [], maxSize);
    if (entry?.fail === 'refused') return response(q, RCODE_REFUSED, [], maxSize);
    if (q.qclass !== 1) return response(q, RCODE_NOTIMP, [], maxSize);
    if (entry === undefined) return response(q, RCODE_NXDOMAIN, [], maxSize);
    const ad = entry.ad === true;
    const rrs: Buffer[] = [];
    let owner = q.name;
    let current: DnsTestEntry | undefined = entry;
    // Follow CNAMEs (a few steps) for other types, as a recursive server would (RFC 1034 §4.3.2).
    for (let hops = 0; current !== undefined && hops < 8; hops++) {
      if (current.CNAME !== undefined && typeName !== 'CNAME') {
        rrs.push(rr(owner, TYPE_CODES.CNAME, current.ttl, encodeName(current.CNAME)));
        owner = key(current.CNAME);
        current = table.get(owner);
        continue;
      }
      rrs.push(...recordsOf(owner, typeName, current));
      break;
    }
    return response(q, RCODE_NOERROR, rrs, maxSize, ad);
  };

  const sockets = new Set<net.Socket>();
  const onConnection = (socket: net.Socket): void => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    let buf = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      if (buf.length > 70000) {
        socket.destroy();
        return;
      }
      while (buf.length >= 2) {
        const len = buf.readUInt16BE(0);
        if (buf.length < 2 + len) break;
        const out = answer(buf.subarray(2, 2 + len), 65535);
        buf = buf.subarray(2 + len);
        if (out !== null) {
          const framed = Buffer.alloc(2 + out.length);
          framed.writeUInt16BE(out.length, 0);
          out.copy(framed, 2);
          socket.write(framed);
        }
      }
    });
  };

  // UDP takes a free port; TCP must listen on the same number, which a client connection of
  // another process may hold as its local port (busy machines): then both try again.
  let udp: dgram.Socket;
  let tcp: net.Server;
  let port = 0;
  for (let attempt = 1; ; attempt++) {
    const u = dgram.createSocket('udp4');
    u.on('message', (msg, rinfo) => {
      const out = answer(msg, 512);
      if (out !== null) u.send(out, rinfo.port, rinfo.address);
    });
    await new Promise<void>((resolve, reject) => {
      u.once('error', reject);
      u.bind(0, '127.0.0.1', () => {
        u.off('error', reject);
        resolve();
      });
    });
    const p = u.address().port;
    const t = net.createServer(onConnection);
    try {
      await new Promise<void>((resolve, reject) => {
        t.once('error', reject);
        t.listen(p, '127.0.0.1', () => {
          t.off('error', reject);
          resolve();
        });
      });
      udp = u;
      tcp = t;
      port = p;
      break;
    } catch (err) {
      await new Promise<void>((resolve) => u.close(() => resolve()));
      if (attempt >= 20) throw err;
    }
  }

  return {
    port,
    address: `127.0.0.1:${port}`,
    log,
    set(name, entry) {
      if (entry === undefined) table.delete(key(name));
      else table.set(key(name), entry);
    },
    async close() {
      for (const s of sockets) s.destroy();
      await Promise.all([
        new Promise<void>((resolve) => udp.close(() => resolve())),
        new Promise<void>((resolve) => tcp.close(() => resolve())),
      ]);
    },
  };
}

interface Query {
  id: number;
  rd: boolean;
  name: string;
  qtype: number;
  qclass: number;
  /** The question section, echoed in the answer. */
  question: Buffer;
}

function parseQuery(msg: Buffer): Query | null {
  if (msg.length < 12 || msg.length > 4096) return null;
  const flags = msg.readUInt16BE(2);
  if ((flags & 0x8000) !== 0) return null; // a response, not a query
  if (msg.readUInt16BE(4) !== 1) return null; // QDCOUNT must be 1
  const labels: string[] = [];
  let off = 12;
  let total = 0;
  for (;;) {
    if (off >= msg.length) return null;
    const len = msg[off] ?? 0;
    off++;
    if (len === 0) break;
    if (len > 63) return null; // compression pointers and extended labels are not expected here
    if (off + len > msg.length) return null;
    total += len + 1;
    if (total > 255) return null;
    labels.push(msg.toString('latin1', off, off + len).toLowerCase());
    off += len;
  }
  if (off + 4 > msg.length) return null;
  return {
    id: msg.readUInt16BE(0),
    rd: (flags & 0x0100) !== 0,
    name: labels.join('.'),
    qtype: msg.readUInt16BE(off),
    qclass: msg.readUInt16BE(off + 2),
    question: msg.subarray(12, off + 4),
  };
}

function header(
  id: number,
  rcode: number,
  qd: number,
  an: number,
  tc: boolean,
  rd = false,
  ad = false,
): Buffer {
  const h = Buffer.alloc(12);
  h.writeUInt16BE(id, 0);
  // QR=1, AA=1, RD echoed, RA=1, AD when the entry says so
  const flags = 0x8000 | 0x0400 | (tc ? 0x0200 : 0) | (rd ? 0x0100 : 0) | 0x0080 | (ad ? 0x0020 : 0);
  h.writeUInt16BE(flags | rcode, 2);
  h.writeUInt16BE(qd, 4);
  h.writeUInt16BE(an, 6);
  return h;
}

function response(q: Query, rcode: number, rrs: Buffer[], maxSize: number, ad = false): Buffer {
  const full = Buffer.concat([header(q.id, rcode, 1, rrs.length, false, q.rd, ad), q.question, ...rrs]);
  if (full.length <= maxSize) return full;
  return Buffer.concat([header(q.id, rcode, 1, 0, true, q.rd, ad), q.question]);
}

function encodeName(name: string): Buffer {
  const parts: Buffer[] = [];
  const n = name.endsWith('.') ? name.slice(0, -1) : name;
  if (n !== '') {
    for (const label of n.split('.')) {
      const b = Buffer.from(label, 'latin1');
      if (b.length === 0 || b.length > 63) throw new Error(`dns-server: bad label in ${name}`);
      parts.push(Buffer.from([b.length]), b);
    }
  }
  parts.push(Buffer.from([0]));
  return Buffer.concat(parts);
}

function rr(owner: string, type: number, ttl: number | undefined, rdata: Buffer): Buffer {
  const name = encodeName(owner);
  const fixed = Buffer.alloc(10);
  fixed.writeUInt16BE(type, 0);
  fixed.writeUInt16BE(1, 2); // class IN
  fixed.writeUInt32BE(ttl ?? 300, 4);
  fixed.writeUInt16BE(rdata.length, 8);
  return Buffer.concat([name, fixed, rdata]);
}

function recordsOf(owner: string, typeName: string, e: DnsTestEntry): Buffer[] {
  switch (typeName) {
    case 'A':
      return (e.A ?? []).map((ip) => rr(owner, TYPE_CODES.A, e.ttl, ipv4Bytes(ip)));
    case 'AAAA':
      return (e.AAAA ?? []).map((ip) => rr(owner, TYPE_CODES.AAAA, e.ttl, ipv6Bytes(ip)));
    case 'MX':
      return (e.MX ?? []).map((mx) => {
        const pref = Buffer.alloc(2);
        pref.writeUInt16BE(mx.priority, 0);
        return rr(owner, TYPE_CODES.MX, e.ttl, Buffer.concat([pref, encodeName(mx.exchange)]));
      });
    case 'TXT':
      return (e.TXT ?? []).map((txt) => rr(owner, TYPE_CODES.TXT, e.ttl, txtRdata(txt)));
    case 'PTR':
      return (e.PTR ?? []).map((ptr) => rr(owner, TYPE_CODES.PTR, e.ttl, encodeName(ptr)));
    case 'CNAME':
      return e.CNAME === undefined ? [] : [rr(owner, TYPE_CODES.CNAME, e.ttl, encodeName(e.CNAME))];
    case 'TLSA':
      return (e.TLSA ?? []).map((t) =>
        rr(
          owner,
          TYPE_CODES.TLSA,
          e.ttl,
          Buffer.concat([Buffer.from([t.usage, t.selector, t.matchingType]), Buffer.from(t.data, 'hex')]),
        ),
      );
    default:
      return [];
  }
}

/** RFC 1035 §3.3.14: one or more <character-string>s, each at most 255 bytes. */
function txtRdata(txt: string | string[]): Buffer {
  const chunks: Buffer[] = [];
  if (Array.isArray(txt)) {
    for (const s of txt) chunks.push(Buffer.from(s, 'utf8'));
  } else {
    const all = Buffer.from(txt, 'utf8');
    for (let i = 0; i < all.length; i += 255) chunks.push(all.subarray(i, i + 255));
    if (all.length === 0) chunks.push(all);
  }
  const parts: Buffer[] = [];
  for (const c of chunks) {
    if (c.length > 255) throw new Error('dns-server: TXT character-string over 255 bytes');
    parts.push(Buffer.from([c.length]), c);
  }
  return Buffer.concat(parts);
}

function ipv4Bytes(ip: string): Buffer {
  if (!isIPv4(ip)) throw new Error(`dns-server: not an IPv4 address: ${ip}`);
  return Buffer.from(ip.split('.').map(Number));
}

function ipv6Bytes(ip: string): Buffer {
  if (!isIPv6(ip)) throw new Error(`dns-server: not an IPv6 address: ${ip}`);
  const [head = '', tail] = ip.split('::', 2);
  const h = head === '' ? [] : head.split(':');
  const t = tail === undefined || tail === '' ? [] : tail.split(':');
  const groups =
    tail === undefined ? h : [...h, ...new Array<string>(8 - h.length - t.length).fill('0'), ...t];
  const out = Buffer.alloc(16);
  groups.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16), i * 2));
  return out;
}
