// An IMAP client that keeps a model of its selected mailbox from what the server told it, and
// checks every untagged response against that model the moment it arrives (issue 11, "Mailbox
// state under concurrency"). Invariants it holds the server to (RFC 9051 §7, §7.5.1; RFC 3501
// §7.4.1; RFC 4315):
// - EXISTS never goes below the known count (a message leaves only through EXPUNGE);
// - EXPUNGE and FETCH name a sequence number the client knows (1..count);
// - no EXPUNGE while a FETCH, STORE or SEARCH by sequence number runs;
// - a sequence number keeps its UID; known UIDs are strictly ascending; a UID once expunged, or
//   below UIDNEXT at SELECT for a message that arrived after it, never comes back;
// - a keyword in a FETCH (and, at the end of each command, any keyword the model holds) was
//   announced in FLAGS or PERMANENTFLAGS; \Recent never appears in IMAP4rev2;
// - APPENDUID/COPYUID UIDs are above every UID the client knew when it sent the command, and
//   never given twice in a mailbox (MailboxUidLedger, shared by all clients).
// The first violation throws ImapModelError naming the client, the command and the response.
// The socket speaks raw protocol: nothing is hidden by a client library.

import net from 'node:net';

export class ImapModelError extends Error {}

/** Flags are compared without \Recent (a per-session flag) and keywords in lower case. */
export function normalizeFlags(flags: Iterable<string>): Set<string> {
  const out = new Set<string>();
  for (const f of flags) if (f.toLowerCase() !== '\\recent') out.add(f.toLowerCase());
  return out;
}

export function sameFlags(a: ReadonlySet<string>, b: ReadonlySet<string>): boolean {
  if (a.size !== b.size) return false;
  for (const f of a) if (!b.has(f)) return false;
  return true;
}

export function showFlags(flags: ReadonlySet<string> | null): string {
  return flags === null ? '(unknown)' : `(${[...flags].sort().join(' ')})`;
}

/** The numbers of an IMAP sequence set such as `3:5,9` (no `*`). */
export function expandSet(text: string): number[] {
  const out: number[] = [];
  for (const part of text.split(',')) {
    const [a, b] = part.split(':').map(Number);
    const lo = Math.min(a!, b ?? a!);
    const hi = Math.max(a!, b ?? a!);
    for (let n = lo; n <= hi; n++) out.push(n);
  }
  return out;
}

/** UIDs handed out by APPENDUID and COPYUID, per mailbox, across every client. */
export class MailboxUidLedger {
  private readonly given = new Map<string, Map<number, string>>();
  private readonly validity = new Map<string, number>();
  private readonly highest = new Map<string, number>();

  /** Records `uids` as new in `mailbox`; throws if one was given before. */
  record(mailbox: string, uidValidity: number, uids: number[], by: string): void {
    const v = this.validity.get(mailbox);
    if (v !== undefined && v !== uidValidity)
      throw new ImapModelError(`${by}: UIDVALIDITY of ${mailbox} changed from ${v} to ${uidValidity}`);
    this.validity.set(mailbox, uidValidity);
    let box = this.given.get(mailbox);
    if (box === undefined) this.given.set(mailbox, (box = new Map()));
    for (const uid of uids) {
      const before = box.get(uid);
      if (before !== undefined) {
        throw new ImapModelError(`${by}: UID ${uid} of ${mailbox} given twice (first to ${before})`);
      }
      box.set(uid, by);
      if (uid > this.max(mailbox)) this.highest.set(mailbox, uid);
    }
  }

  /** The highest UID given in `mailbox` so far (0: none). */
  max(mailbox: string): number {
    return this.highest.get(mailbox) ?? 0;
  }

  count(): number {
    let n = 0;
    for (const box of this.given.values()) n += box.size;
    return n;
  }
}

interface Entry {
  uid: number | null;
  /** Normalised flags, null while the client has not been told them. */
  flags: Set<string> | null;
  /** Announced by an EXISTS after the SELECT: its UID is at least the SELECT's UIDNEXT. */
  late: boolean;
}

/** The model of the selected mailbox. */
export class MailboxModel {
  entries: Entry[] = [];
  /** Keywords (lower case) announced by FLAGS or PERMANENTFLAGS since the SELECT. */
  readonly announced = new Set<string>();
  readonly expungedUids = new Set<number>();
  existsAtSelect = 0;
  uidNextAtSelect = 0;
  uidValidity = 0;
  /** An EXISTS has been received (the SELECT's count). */
  counted = false;

  constructor(readonly mailbox: string) {}

  get count(): number {
    return this.entries.length;
  }

  maxKnownUid(): number {
    for (let i = this.entries.length - 1; i >= 0; i--) {
      const uid = this.entries[i]!.uid;
      if (uid !== null) return uid;
    }
    return 0;
  }

  knownUids(): number[] {
    return this.entries.flatMap((e) => (e.uid === null ? [] : [e.uid]));
  }
}

/** What the command being run allows and expects. */
interface Running {
  tag: string;
  text: string;
  /** EXPUNGE responses forbidden (FETCH, STORE, SEARCH by sequence number). */
  noExpunge: boolean;
}

export interface ModelStats {
  commands: number;
  flagUpdates: number;
  expunges: number;
  exists: number;
  flagsAnnouncements: number;
}

export interface TaggedResult {
  tagged: string;
  status: string;
  untagged: string[];
}

type FetchValue = string | FetchValue[];

/** Parses the parenthesized attribute list of a FETCH response (atoms, numbers and lists only). */
function parseFetchList(text: string): Map<string, FetchValue> {
  const tokens = text.match(/\(|\)|[^\s()]+/g) ?? [];
  let i = 0;
  const value = (): FetchValue => {
    const t = tokens[i++];
    if (t === undefined) throw new Error('truncated');
    if (t === ')') throw new Error('unexpected )');
    if (t !== '(') {
      if (t.startsWith('"') || t.startsWith('{')) throw new Error(`strings not expected: ${t}`);
      return t;
    }
    const list: FetchValue[] = [];
    while (tokens[i] !== ')') {
      if (i >= tokens.length) throw new Error('unclosed list');
      list.push(value());
    }
    i++;
    return list;
  };
  const top = value();
  if (!Array.isArray(top) || i !== tokens.length) throw new Error('not one list');
  const out = new Map<string, FetchValue>();
  for (let k = 0; k < top.length; k += 2) {
    const key = top[k];
    if (typeof key !== 'string' || k + 1 >= top.length) throw new Error('not key-value pairs');
    out.set(key.toUpperCase(), top[k + 1]!);
  }
  return out;
}

export class ModelClient {
  private buf: Buffer = Buffer.alloc(0);
  private queue: string[] = [];
  private waiter: (() => void) | null = null;
  private closedWith: Error | null = null;
  private nextTag = 1;
  private running: Running | null = null;
  /** The model being filled by a SELECT in progress, and whether the old one still applies. */
  private selecting: { model: MailboxModel; oldUntilClosed: boolean } | null = null;
  model: MailboxModel | null = null;
  rev2 = false;
  readonly stats: ModelStats = { commands: 0, flagUpdates: 0, expunges: 0, exists: 0, flagsAnnouncements: 0 };

  private constructor(
    readonly name: string,
    private readonly socket: net.Socket,
    private readonly ledger: MailboxUidLedger,
    private readonly timeoutMs: number,
  ) {
    socket.on('data', (chunk: Buffer) => {
      this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
      this.frame();
    });
    socket.on('close', () => this.end(new Error('connection closed')));
    socket.on('error', (err) => this.end(err));
  }

  static async connect(
    name: string,
    port: number,
    ledger: MailboxUidLedger,
    opts: { timeoutMs?: number } = {},
  ): Promise<ModelClient> {
    const socket = await new Promise<net.Socket>((resolve, reject) => {
      const s = net.connect({ host: '127.0.0.1', port }, () => resolve(s));
      s.once('error', reject);
    });
    const c = new ModelClient(name, socket, ledger, opts.timeoutMs ?? 20_000);
    const greeting = await c.next();
    if (!greeting.startsWith('* OK')) throw new Error(`${name}: greeting ${greeting}`);
    return c;
  }

  fail(what: string, response: string): never {
    const cmd = this.running === null ? '(between commands)' : `${this.running.tag} ${this.running.text}`;
    throw new ImapModelError(`${this.name}: ${what}\n  command: ${cmd}\n  response: ${response}`);
  }

  destroy(): void {
    this.socket.destroy();
  }

  private end(err: Error): void {
    if (this.closedWith === null) this.closedWith = err;
    this.wake();
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = null;
    w?.();
  }

  /** Splits the input into responses (a line plus the literals it announces). */
  private frame(): void {
    let start = 0;
    let scan = 0;
    let acc = '';
    for (;;) {
      const lf = this.buf.indexOf('\r\n', scan);
      if (lf < 0) break;
      const line = this.buf.toString('latin1', scan, lf);
      const m = /\{(\d+)\}$/.exec(line);
      if (m === null) {
        this.queue.push(acc + line);
        acc = '';
        start = scan = lf + 2;
        continue;
      }
      const n = Number(m[1]);
      if (this.buf.length < lf + 2 + n) break;
      acc += line + '\r\n' + this.buf.toString('latin1', lf + 2, lf + 2 + n);
      scan = lf + 2 + n;
    }
    this.buf = this.buf.subarray(start);
    if (this.queue.length > 0) this.wake();
  }

  private async next(): Promise<string> {
    const deadline = Date.now() + this.timeoutMs;
    while (this.queue.length === 0) {
      if (this.closedWith !== null) throw new Error(`${this.name}: ${this.closedWith.message}`);
      const left = deadline - Date.now();
      if (left <= 0) {
        const cmd = this.running === null ? '' : ` (waiting for ${this.running.tag} ${this.running.text})`;
        throw new Error(`${this.name}: no response within ${this.timeoutMs} ms${cmd}`);
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiter = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    return this.queue.shift()!;
  }

  /**
   * Sends one command and reads until its tagged response, checking each untagged response.
   * `onContinuation` answers a "+" (IDLE); `before` runs after the command is written and
   * before any response to it is read (own changes the model applies at once).
   */
  async command(
    text: string,
    opts: {
      noExpunge?: boolean;
      literal?: Buffer;
      onContinuation?: (line: string) => void;
      before?: () => void;
    } = {},
  ): Promise<TaggedResult> {
    const tag = `${this.name}.${this.nextTag++}`;
    this.running = { tag, text, noExpunge: opts.noExpunge ?? false };
    this.stats.commands++;
    if (opts.literal !== undefined) {
      this.socket.write(
        Buffer.concat([
          Buffer.from(`${tag} ${text} {${opts.literal.length}+}\r\n`),
          opts.literal,
          Buffer.from('\r\n'),
        ]),
      );
    } else this.socket.write(`${tag} ${text}\r\n`);
    opts.before?.();
    const untagged: string[] = [];
    try {
      for (;;) {
        const r = await this.next();
        if (r.startsWith(`${tag} `)) {
          const status = r.slice(tag.length + 1).split(' ')[0]!;
          this.afterCommand(r);
          return { tagged: r, status, untagged };
        }
        if (r.startsWith('+')) {
          if (opts.onContinuation === undefined) this.fail('unexpected continuation request', r);
          opts.onContinuation(r);
          continue;
        }
        if (!r.startsWith('* ')) this.fail('not an untagged response', r);
        untagged.push(r);
        this.untagged(r.slice(2), r);
      }
    } finally {
      this.running = null;
    }
  }

  /** Starts a SELECT: the responses before CLOSED belong to the old mailbox. */
  async select(mailbox: string, readOnly = false): Promise<TaggedResult> {
    const fresh = new MailboxModel(mailbox);
    this.selecting = { model: fresh, oldUntilClosed: this.model !== null };
    const r = await this.command(`${readOnly ? 'EXAMINE' : 'SELECT'} ${mailbox}`);
    const sel = this.selecting;
    this.selecting = null;
    if (r.status !== 'OK') this.fail('SELECT refused', r.tagged);
    if (sel.oldUntilClosed) this.fail('no OK [CLOSED] for the previously selected mailbox', r.tagged);
    if (!fresh.counted) this.fail('SELECT without EXISTS', r.tagged);
    fresh.existsAtSelect = fresh.count;
    this.model = fresh;
    return r;
  }

  /** The model a response applies to: the new one once a SELECT is past CLOSED. */
  private target(): MailboxModel | null {
    if (this.selecting !== null && !this.selecting.oldUntilClosed) return this.selecting.model;
    return this.model;
  }

  private need(line: string): MailboxModel {
    const m = this.target();
    if (m === null) this.fail('mailbox response with no mailbox selected', line);
    return m;
  }

  private untagged(body: string, line: string): void {
    let m: RegExpExecArray | null;
    if ((m = /^(\d+) EXISTS$/i.exec(body)) !== null) return this.exists(Number(m[1]), line);
    if ((m = /^(\d+) EXPUNGE$/i.exec(body)) !== null) return this.expunge(Number(m[1]), line);
    if ((m = /^(\d+) FETCH \((.*)\)$/is.exec(body)) !== null) return this.fetch(Number(m[1]), m[2]!, line);
    if ((m = /^(\d+) RECENT$/i.exec(body)) !== null) {
      const model = this.need(line);
      if (this.rev2) this.fail('RECENT in IMAP4rev2', line);
      if (Number(m[1]) > model.count) this.fail(`RECENT ${m[1]} above the count ${model.count}`, line);
      return;
    }
    if ((m = /^FLAGS \((.*)\)$/i.exec(body)) !== null) return this.announce(m[1]!, line);
    if ((m = /^OK \[PERMANENTFLAGS \((.*?)\)\]/i.exec(body)) !== null) return this.announce(m[1]!, line);
    if ((m = /^OK \[UIDNEXT (\d+)\]/i.exec(body)) !== null) {
      this.need(line).uidNextAtSelect = Number(m[1]);
      return;
    }
    if ((m = /^OK \[UIDVALIDITY (\d+)\]/i.exec(body)) !== null) {
      this.need(line).uidValidity = Number(m[1]);
      return;
    }
    if ((m = /^OK \[UNSEEN (\d+)\]/i.exec(body)) !== null) {
      const model = this.need(line);
      if (Number(m[1]) > model.count) this.fail(`UNSEEN ${m[1]} above the count ${model.count}`, line);
      return;
    }
    if (/^OK \[CLOSED\]/i.test(body)) {
      if (this.selecting === null || !this.selecting.oldUntilClosed) this.fail('unexpected CLOSED', line);
      this.selecting.oldUntilClosed = false;
      return;
    }
    if ((m = /^OK \[COPYUID (\d+) (\S+) (\S+)\]/i.exec(body)) !== null) {
      this.copyUid(Number(m[1]), m[2]!, m[3]!, line);
      return;
    }
    if (/^(OK|CAPABILITY|ENABLED|LIST|SEARCH|ESEARCH|STATUS)\b/i.test(body)) {
      if (/^SEARCH\b/i.test(body)) this.searchResult(body, line);
      return;
    }
    this.fail('unexpected untagged response', line);
  }

  private exists(n: number, line: string): void {
    const model = this.need(line);
    this.stats.exists++;
    if (!model.counted) {
      model.counted = true;
      for (let i = 0; i < n; i++) model.entries.push({ uid: null, flags: null, late: false });
      return;
    }
    if (n < model.count) this.fail(`EXISTS ${n} below the known count ${model.count}`, line);
    while (model.entries.length < n) model.entries.push({ uid: null, flags: null, late: true });
  }

  private expunge(seq: number, line: string): void {
    const model = this.need(line);
    this.stats.expunges++;
    if (this.running?.noExpunge === true) this.fail('EXPUNGE during a command by sequence number', line);
    if (seq < 1 || seq > model.count) this.fail(`EXPUNGE of ${seq}, count is ${model.count}`, line);
    const [gone] = model.entries.splice(seq - 1, 1);
    if (gone!.uid !== null) model.expungedUids.add(gone!.uid);
  }

  private fetch(seq: number, items: string, line: string): void {
    const model = this.need(line);
    if (seq < 1 || seq > model.count) this.fail(`FETCH of ${seq}, count is ${model.count}`, line);
    let attrs: Map<string, FetchValue>;
    try {
      attrs = parseFetchList(`(${items})`);
    } catch (err) {
      this.fail(`unparsable FETCH (${(err as Error).message})`, line);
    }
    const entry = model.entries[seq - 1]!;
    const uidValue = attrs.get('UID');
    if (uidValue !== undefined) {
      const uid = Number(uidValue);
      if (typeof uidValue !== 'string' || !Number.isSafeInteger(uid) || uid < 1) this.fail('bad UID', line);
      if (entry.uid !== null && entry.uid !== uid) {
        this.fail(`message ${seq} has UID ${entry.uid}, FETCH says ${uid}`, line);
      }
      if (entry.uid === null) {
        if (model.expungedUids.has(uid)) this.fail(`UID ${uid} was expunged earlier`, line);
        for (let i = seq - 2; i >= 0; i--) {
          const left = model.entries[i]!.uid;
          if (left === null) continue;
          if (left >= uid) this.fail(`UID ${uid} at ${seq} not above UID ${left} at ${i + 1}`, line);
          break;
        }
        for (let i = seq; i < model.entries.length; i++) {
          const right = model.entries[i]!.uid;
          if (right === null) continue;
          if (right <= uid) this.fail(`UID ${uid} at ${seq} not below UID ${right} at ${i + 1}`, line);
          break;
        }
        if (entry.late && uid < model.uidNextAtSelect) {
          this.fail(
            `UID ${uid} of a message added after SELECT is below UIDNEXT ${model.uidNextAtSelect}`,
            line,
          );
        }
        entry.uid = uid;
      }
    }
    const flagsValue = attrs.get('FLAGS');
    if (flagsValue !== undefined) {
      if (!Array.isArray(flagsValue) || flagsValue.some((f) => typeof f !== 'string')) {
        this.fail('FLAGS is not a list of atoms', line);
      }
      const flags = flagsValue as string[];
      for (const f of flags) {
        if (f.startsWith('\\')) {
          if (this.rev2 && f.toLowerCase() === '\\recent') this.fail('\\Recent in IMAP4rev2', line);
          continue;
        }
        if (!model.announced.has(f.toLowerCase())) {
          this.fail(`keyword ${f} never announced in FLAGS/PERMANENTFLAGS`, line);
        }
      }
      entry.flags = normalizeFlags(flags);
      if (this.running === null || !/^(UID )?(FETCH|STORE)\b/i.test(this.running.text))
        this.stats.flagUpdates++;
    }
  }

  private announce(list: string, line: string): void {
    const model = this.need(line);
    this.stats.flagsAnnouncements++;
    for (const f of list.split(' '))
      if (f !== '' && !f.startsWith('\\')) model.announced.add(f.toLowerCase());
  }

  private copyUid(validity: number, from: string, to: string, line: string): void {
    const dest = this.pendingCopyTarget;
    if (dest === null) this.fail('COPYUID outside COPY or MOVE', line);
    const fromUids = expandSet(from);
    const toUids = expandSet(to);
    if (fromUids.length !== toUids.length) this.fail('COPYUID sets of different sizes', line);
    for (const uid of fromUids) {
      if (dest.asked !== null && !dest.asked.has(uid))
        this.fail(`COPYUID names source UID ${uid}, which was not asked for`, line);
    }
    for (const uid of toUids) {
      if (uid <= dest.floor)
        this.fail(`COPYUID UID ${uid} not above ${dest.floor}, a UID known before`, line);
    }
    this.ledger.record(dest.mailbox, validity, toUids, `${this.name} ${this.running?.text ?? ''}`);
    this.pendingCopyTarget = null;
  }

  private searchResult(body: string, line: string): void {
    const model = this.need(line);
    if (this.running === null || /^UID /i.test(this.running.text)) return;
    for (const n of body.split(' ').slice(1).map(Number)) {
      if (n < 1 || n > model.count) this.fail(`SEARCH result ${n}, count is ${model.count}`, line);
    }
  }

  /** Set before COPY/MOVE: where the copies go, what was asked, and the highest UID known there. */
  private pendingCopyTarget: { mailbox: string; asked: Set<number> | null; floor: number } | null = null;

  private afterCommand(tagged: string): void {
    const m = /\[APPENDUID (\d+) (\S+)\]/i.exec(tagged);
    if (m !== null && this.pendingAppend !== null) {
      const uids = expandSet(m[2]!);
      for (const uid of uids) {
        if (uid <= this.pendingAppend.floor) {
          this.fail(`APPENDUID ${uid} not above ${this.pendingAppend.floor}, a UID known before`, tagged);
        }
      }
      this.ledger.record(this.pendingAppend.mailbox, Number(m[1]), uids, `${this.name} APPEND`);
    }
    this.pendingAppend = null;
    const c = /\[COPYUID (\d+) (\S+) (\S+)\]/i.exec(tagged);
    if (c !== null) this.copyUid(Number(c[1]), c[2]!, c[3]!, tagged);
    this.pendingCopyTarget = null;
    // Every keyword the model holds must have been announced by the end of each command.
    const model = this.selecting === null ? this.model : null;
    if (model === null || /^(SELECT|EXAMINE)\b/i.test(this.running?.text ?? '')) return;
    for (const e of model.entries) {
      if (e.flags === null) continue;
      for (const f of e.flags) {
        if (!f.startsWith('\\') && !model.announced.has(f)) {
          this.fail(`the model holds keyword ${f}, which was never announced`, tagged);
        }
      }
    }
  }

  /** Set before APPEND: the mailbox and the highest UID known in it. */
  private pendingAppend: { mailbox: string; floor: number } | null = null;

  /** The floor for new UIDs in `mailbox`: every UID given or known there before the command. */
  private floorOf(mailbox: string): number {
    const known = this.model?.mailbox === mailbox ? this.model.maxKnownUid() : 0;
    return Math.max(known, this.ledger.max(mailbox));
  }

  /**
   * STORE on sequence numbers or (uid) UIDs. The change is applied to the model as the command
   * leaves, before any response to it: every FETCH that follows shows the flags at or after it.
   */
  async store(
    targets: number[],
    opts: { uid: boolean; mode: '+' | '-' | ''; flags: string[]; silent: boolean },
  ): Promise<TaggedResult> {
    const set = targets.join(',');
    const item = `${opts.mode}FLAGS${opts.silent ? '.SILENT' : ''}`;
    const text = `${opts.uid ? 'UID ' : ''}STORE ${set} ${item} (${opts.flags.join(' ')})`;
    const r = await this.command(text, {
      noExpunge: !opts.uid,
      before: () => {
        const model = this.model!;
        const wanted = new Set(targets);
        const change = normalizeFlags(opts.flags);
        model.entries.forEach((e, i) => {
          if (!wanted.has(opts.uid ? (e.uid ?? -1) : i + 1)) return;
          if (opts.mode === '') e.flags = new Set(change);
          else if (e.flags !== null && opts.mode === '+') for (const f of change) e.flags.add(f);
          else if (e.flags !== null) for (const f of change) e.flags.delete(f);
        });
      },
    });
    if (r.status !== 'OK') this.fail('STORE refused', r.tagged);
    return r;
  }

  async fetchFlags(set: string, opts: { uid: boolean }): Promise<TaggedResult> {
    const r = await this.command(`${opts.uid ? 'UID ' : ''}FETCH ${set} (UID FLAGS)`, {
      noExpunge: !opts.uid,
    });
    // RFC 9051 §7.1: NO [EXPUNGEISSUED] when a message asked for was expunged meanwhile.
    if (r.status !== 'OK' && !/^\S+ NO \[EXPUNGEISSUED\]/i.test(r.tagged))
      this.fail('FETCH refused', r.tagged);
    return r;
  }

  /** FETCH 1:* (UID): fills in the UIDs the model lacks and leaves flags as they are. */
  async fetchUids(): Promise<TaggedResult> {
    const r = await this.command('FETCH 1:* (UID)', { noExpunge: true });
    if (r.status !== 'OK') this.fail('FETCH refused', r.tagged);
    return r;
  }

  async append(mailbox: string, bytes: Buffer, flags: string[]): Promise<TaggedResult> {
    this.pendingAppend = { mailbox, floor: this.floorOf(mailbox) };
    const r = await this.command(`APPEND ${mailbox} (${flags.join(' ')})`, { literal: bytes });
    if (r.status !== 'OK') this.fail('APPEND refused', r.tagged);
    if (!/\[APPENDUID /i.test(r.tagged)) this.fail('APPEND without APPENDUID', r.tagged);
    return r;
  }

  /** COPY or MOVE of known UIDs (UID form) or sequence numbers. */
  async copyOrMove(
    verb: 'COPY' | 'MOVE',
    targets: number[],
    mailbox: string,
    opts: { uid: boolean },
  ): Promise<TaggedResult> {
    const model = this.model!;
    // The sources COPYUID may name: unknown when a sequence number's UID is not known yet.
    const sources = opts.uid ? targets : targets.map((seq) => model.entries[seq - 1]?.uid ?? null);
    const asked = sources.includes(null) ? null : new Set(sources as number[]);
    this.pendingCopyTarget = { mailbox, asked, floor: this.floorOf(mailbox) };
    const r = await this.command(`${opts.uid ? 'UID ' : ''}${verb} ${targets.join(',')} ${mailbox}`);
    if (r.status !== 'OK') this.fail(`${verb} refused`, r.tagged);
    return r;
  }

  async expungeAll(): Promise<TaggedResult> {
    const r = await this.command('EXPUNGE');
    if (r.status !== 'OK') this.fail('EXPUNGE refused', r.tagged);
    return r;
  }

  async uidExpunge(uids: number[]): Promise<TaggedResult> {
    const r = await this.command(`UID EXPUNGE ${uids.join(',')}`);
    if (r.status !== 'OK') this.fail('UID EXPUNGE refused', r.tagged);
    return r;
  }

  async noop(): Promise<TaggedResult> {
    const r = await this.command('NOOP');
    if (r.status !== 'OK') this.fail('NOOP refused', r.tagged);
    return r;
  }

  async search(criteria: string, opts: { uid: boolean }): Promise<TaggedResult> {
    const r = await this.command(`${opts.uid ? 'UID ' : ''}SEARCH ${criteria}`, { noExpunge: !opts.uid });
    if (r.status !== 'OK') this.fail('SEARCH refused', r.tagged);
    return r;
  }

  /** IDLE until `until` resolves, then DONE (RFC 2177). */
  async idle(until: () => Promise<void>): Promise<TaggedResult> {
    let started = false;
    const r = await this.command('IDLE', {
      onContinuation: (line) => {
        if (started) this.fail('a second continuation request in IDLE', line);
        started = true;
        void until().then(() => this.socket.write('DONE\r\n'));
      },
    });
    if (r.status !== 'OK' || !started) this.fail('IDLE refused', r.tagged);
    return r;
  }
}
