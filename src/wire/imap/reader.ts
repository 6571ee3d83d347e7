// Sans-I/O framing and tokenizing of the IMAP client stream (RFC 9051 §4, §9; RFC 3501 §9).
// Invariants:
// - Received chunks are kept in a list and searched in place; a line is copied only when it
//   spans chunks. A line is at most maxLineLength bytes, and a command (its lines plus its
//   buffered literals) at most maxCommandSize; streamed literals do not count.
// - Every refusal is reported the moment it is known, with the command's tag when one was read:
//   a line is refused as soon as the bytes held cross the limit, before its end has arrived.
//   Then the rest of the command is discarded as it arrives (never held): each discarded line is
//   dropped up to its LF keeping only its last bytes, and a {n+} at its end is drained by count
//   (RFC 7888 §4), so literal bytes are never parsed as commands. A line over the limit whose
//   first bytes are not `tag SP` is reported as `unframed`: there is no tag to answer.
// - A command is tokenized one complete line at a time; the open-list stack carries over a
//   literal, so lists and literals nest freely. The literal header must end its line.
// - FETCH section syntax is kept as one raw atom: `BODY.PEEK[HEADER.FIELDS (From To)]<0.100>`
//   is the atom text exactly as sent (SP and parentheses allowed inside the brackets); the
//   FETCH parser re-parses it.
// - Streaming (for APPEND): a literal of a command named in `stream.commands` is not buffered
//   when it is above `stream.above` bytes or would not fit in the command's budget. The reader
//   yields literalStart (tag, name, the top-level arguments so far, size), then literalChunk
//   pieces, then literalEnd; later the command itself, where that literal is a
//   { kind: 'streamed' } token. If the command then fails, a refusal comes instead and the
//   session drops the blob.

export type ImapToken =
  | { kind: 'atom'; value: string }
  | { kind: 'string'; value: Buffer; form: 'quoted' | 'literal' | 'literal8' }
  | { kind: 'nil' }
  | { kind: 'list'; items: ImapToken[] }
  /** A literal that was yielded as literalChunk outputs, not buffered. */
  | { kind: 'streamed'; size: number; binary: boolean };

export type ImapInput =
  | { kind: 'command'; tag: string; name: string; args: ImapToken[] }
  /** A synchronizing literal header was read: call acceptLiteral() after `+`, or rejectLiteral(). */
  | { kind: 'needContinuation'; tag: string; name: string; size: number }
  /** A streamed literal starts; `args` are the top-level arguments before it. */
  | { kind: 'literalStart'; tag: string; name: string; args: ImapToken[]; size: number; binary: boolean }
  | { kind: 'literalChunk'; data: Buffer }
  /** The end of a streamed literal; containsNul matters for a non-literal8 literal. */
  | { kind: 'literalEnd'; containsNul: boolean }
  /**
   * A literal over a limit, reported at its header: a {n} is refused before `+` (the command
   * ends there), a {n+} is drained with the rest of its command. `reason` names the limit.
   */
  | { kind: 'literalTooLarge'; tag: string; name: string; size: number; sync: boolean; reason: string }
  /**
   * A line over the limit (or over what is left of the command's budget), reported as soon as
   * the bytes held cross it; the rest of the command is discarded. `tag` is null only for a raw
   * line (expectRawLine): the session knows whose it is.
   */
  | { kind: 'lineTooLong'; tag: string | null; reason: string }
  /** Input that cannot be answered with a tag and whose framing is lost: the session must close. */
  | { kind: 'unframed'; reason: string }
  | { kind: 'bad'; tag: string | null; reason: string }
  /** One raw line (without CRLF), after expectRawLine(): AUTHENTICATE responses, IDLE's DONE. */
  | { kind: 'line'; line: Buffer };

export interface ImapReaderOptions {
  /** Longest line (one segment between literals), counting CRLF. */
  maxLineLength: number;
  /**
   * Largest command: its lines (counting CRLF) plus its buffered literals. Unset: no bound
   * beyond the others. Streamed literals do not count.
   */
  maxCommandSize?: number;
  /** Largest literal buffered, and the total of buffered literal bytes in one command. */
  maxLiteralSize: number;
  /** Deepest parenthesised list nesting. */
  maxListDepth: number;
  /** Most tokens (lists count as one each) in one command. */
  maxTokensPerCommand: number;
  /**
   * Largest {n+} accepted (RFC 7888 §5: 4096 when only LITERAL- is advertised); a larger one is
   * drained and reported as literalTooLarge. Unset: only maxLiteralSize applies.
   */
  maxNonSyncLiteral?: number;
  /** Literals to stream instead of buffering. */
  stream?: { above: number; maxSize: number; commands: readonly string[] };
}

const LF = 0x0a;
const CR = 0x0d;
const SP = 0x20;
const DQUOTE = 0x22;
const BACKSLASH = 0x5c;
const LPAREN = 0x28;
const RPAREN = 0x29;
const LBRACE = 0x7b;
const RBRACE = 0x7d;
const TILDE = 0x7e;
const PLUS = 0x2b;
const LBRACKET = 0x5b;
const RBRACKET = 0x5d;
const TAIL_KEEP = 32;
const MAX_LITERAL_DIGITS = 15;

export interface LiteralHeader {
  size: number;
  sync: boolean;
  binary: boolean;
}

interface CommandState {
  tag: string;
  name: string;
  stack: ImapToken[][];
  tokens: number;
  bufferedLiteralBytes: number;
  /** Lines (with their line ends) and buffered literals read so far. */
  bytes: number;
}

type Mode =
  | { kind: 'line' }
  | { kind: 'await'; header: LiteralHeader; streams: boolean }
  | { kind: 'literal'; left: number; how: 'buffer' | 'stream' | 'drain'; binary: boolean; size: number }
  /** The rest of a refused command's current line is dropped up to its LF. */
  | { kind: 'skip' };

class ParseError extends Error {}

/** Reads a literal header `{n}`, `{n+}`, `~{n}` ending `line`; null when the line has none. */
export function literalHeaderAtEnd(line: Buffer): LiteralHeader | null {
  let i = line.length - 1;
  if (i < 2 || line[i] !== RBRACE) return null;
  i--;
  let sync = true;
  if (line[i] === PLUS) {
    sync = false;
    i--;
  }
  let size = 0;
  let mul = 1;
  let digits = 0;
  while (i >= 0) {
    const c = line[i]!;
    if (c < 0x30 || c > 0x39) break;
    if (++digits > MAX_LITERAL_DIGITS) return null;
    size += (c - 0x30) * mul;
    mul *= 10;
    i--;
  }
  if (digits === 0 || i < 0 || line[i] !== LBRACE) return null;
  const binary = i > 0 && line[i - 1] === TILDE;
  return { size, sync, binary };
}

function isAtomChar(c: number): boolean {
  // RFC 9051 §9 ATOM-CHAR plus the list wildcards and resp-specials used in arguments.
  return c > SP && c < 0x7f && c !== LPAREN && c !== RPAREN && c !== DQUOTE && c !== LBRACE;
}

/** Fetch attributes that take a section (RFC 9051 §9 fetch-att, RFC 3516 §4.5). */
const SECTION_NAMES = new Set(['BODY', 'BODY.PEEK', 'BINARY', 'BINARY.PEEK', 'BINARY.SIZE']);

/** Whether line[start, end) names a fetch attribute whose `[` opens a section. */
function isSectionName(line: Buffer, start: number, end: number): boolean {
  const n = end - start;
  return n >= 4 && n <= 11 && SECTION_NAMES.has(line.toString('latin1', start, end).toUpperCase());
}

function isTagChar(c: number): boolean {
  // RFC 9051 §9: tag = 1*<any ASTRING-CHAR except "+">; list-wildcards are not ATOM-CHARs.
  return isAtomChar(c) && c !== PLUS && c !== 0x2a && c !== 0x25;
}

const EMPTY = Buffer.alloc(0);

export class ImapReader {
  private readonly opts: ImapReaderOptions;
  private chunks: Buffer[] = [];
  private held = 0;
  private scanChunk = 0;
  private scanPos = 0;
  private scanned = 0;
  /** The last bytes of the line being skipped, to see a literal header at its end. */
  private tail: Buffer = EMPTY;
  private mode: Mode = { kind: 'line' };
  private cmd: CommandState | null = null;
  private literalParts: Buffer[] = [];
  private literalNul = false;
  private rawLineWanted = false;
  private queue: ImapInput[] = [];

  constructor(opts: ImapReaderOptions) {
    for (const k of ['maxLineLength', 'maxLiteralSize', 'maxListDepth', 'maxTokensPerCommand'] as const) {
      if (!Number.isSafeInteger(opts[k]) || opts[k] < 1)
        throw new RangeError(`${k} must be a positive integer`);
    }
    // A copy: the caller changes limits through the setters, not the object it gave.
    this.opts = { ...opts };
    this.setMaxCommandSize(opts.maxCommandSize);
  }

  /**
   * Changes the largest {n+} accepted from the next literal header on (a session lowers it
   * before login and lifts it after); undefined leaves only maxLiteralSize.
   */
  setMaxNonSyncLiteral(bytes: number | undefined): void {
    if (bytes !== undefined && (!Number.isSafeInteger(bytes) || bytes < 0))
      throw new RangeError('maxNonSyncLiteral must be a non-negative integer');
    this.opts.maxNonSyncLiteral = bytes;
  }

  /** Changes the command bound (lines plus buffered literals); undefined removes it. */
  setMaxCommandSize(bytes: number | undefined): void {
    if (bytes !== undefined && (!Number.isSafeInteger(bytes) || bytes < 1))
      throw new RangeError('maxCommandSize must be a positive integer');
    this.opts.maxCommandSize = bytes;
  }

  /** Bytes received and not yet consumed. */
  get buffered(): number {
    return this.held;
  }

  /** Appends received bytes; the buffer must not be modified afterwards. */
  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    // The rest of a refused command is dropped as it arrives, never held.
    if (this.chunks.length === 0) chunk = this.discard(chunk);
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.held += chunk.length;
  }

  /** The next line is returned raw as { kind: 'line' } (AUTHENTICATE, IDLE). */
  expectRawLine(): void {
    this.rawLineWanted = true;
  }

  /** After needContinuation: the session sent `+`; the literal bytes follow. */
  acceptLiteral(): void {
    if (this.mode.kind !== 'await') throw new Error('no literal awaits a continuation');
    this.startLiteral(this.mode.header, this.mode.streams);
  }

  /** After needContinuation: the session refused the command; the client sends no literal. */
  rejectLiteral(): void {
    if (this.mode.kind !== 'await') throw new Error('no literal awaits a continuation');
    this.mode = { kind: 'line' };
    this.cmd = null;
  }

  /** The next output, or null when more bytes (or a decision on a literal) are needed. */
  next(): ImapInput | null {
    for (;;) {
      const q = this.queue.shift();
      if (q !== undefined) return q;
      const m = this.mode;
      switch (m.kind) {
        case 'await':
          return null;
        case 'literal':
          if (!this.readLiteral(m)) return null;
          continue;
        case 'skip':
          if (!this.skipHeld()) return null;
          continue;
        case 'line': {
          const line = this.takeLine();
          if (line === null) {
            // A line over the limit may just have been refused (and the mode changed).
            if (this.queue.length > 0 || this.mode.kind !== 'line') continue;
            return null;
          }
          this.onLine(line);
          continue;
        }
      }
    }
  }

  private keepTail(bytes: Buffer): void {
    if (bytes.length >= TAIL_KEEP) this.tail = Buffer.from(bytes.subarray(bytes.length - TAIL_KEEP));
    else if (bytes.length > 0) {
      const joined = Buffer.concat([this.tail, bytes]);
      this.tail = joined.subarray(Math.max(0, joined.length - TAIL_KEEP));
    }
  }

  /** Drops discarded bytes (skipped line, drained literal) from the front of `chunk`. */
  private discard(chunk: Buffer): Buffer {
    for (;;) {
      if (chunk.length === 0) return chunk;
      const m = this.mode;
      if (m.kind === 'skip') {
        const lf = chunk.indexOf(LF);
        if (lf < 0) {
          this.keepTail(chunk);
          return EMPTY;
        }
        this.keepTail(chunk.subarray(0, lf));
        chunk = chunk.subarray(lf + 1);
        this.endSkippedLine();
      } else if (m.kind === 'literal' && m.how === 'drain') {
        const n = Math.min(m.left, chunk.length);
        m.left -= n;
        chunk = chunk.subarray(n);
        // The line goes on after the literal (RFC 9051 §4.3): skip it too.
        if (m.left === 0) this.mode = { kind: 'skip' };
      } else return chunk;
    }
  }

  /** Skip mode over held bytes: true when the skipped line ended. */
  private skipHeld(): boolean {
    while (this.chunks.length > 0) {
      const c = this.chunks.shift()!;
      this.held -= c.length;
      const lf = c.indexOf(LF);
      if (lf < 0) {
        this.keepTail(c);
        continue;
      }
      this.keepTail(c.subarray(0, lf));
      if (lf + 1 < c.length) {
        this.chunks.unshift(c.subarray(lf + 1));
        this.held += c.length - lf - 1;
      }
      this.endSkippedLine();
      return true;
    }
    return false;
  }

  /** A skipped line ended: a {n+} at its end is drained (then its line skipped), else the command is over. */
  private endSkippedLine(): void {
    const header = literalHeaderAtEnd(stripCr(this.tail));
    this.tail = EMPTY;
    if (header !== null && !header.sync) this.mode = drain(header.size);
    else this.mode = { kind: 'line' };
  }

  /** The most bytes the next line may have, counting its LF. */
  private lineLimit(): number {
    const max = this.opts.maxCommandSize;
    if (this.rawLineWanted || max === undefined) return this.opts.maxLineLength;
    return Math.min(this.opts.maxLineLength, max - (this.cmd?.bytes ?? 0));
  }

  /** Takes one line (without LF) from the buffer, or null. Refuses a line over the limit. */
  private takeLine(): Buffer | null {
    const limit = this.lineLimit();
    while (this.scanChunk < this.chunks.length) {
      const c = this.chunks[this.scanChunk]!;
      const lf = c.indexOf(LF, this.scanPos);
      if (lf >= 0) {
        const total = this.scanned + (lf - this.scanPos) + 1;
        if (total > limit) {
          this.queue.push(this.lineRefusal(limit));
          this.dropFront(total);
          this.tail = this.tail.subarray(0, this.tail.length - 1); // its LF
          this.endSkippedLine();
          return null;
        }
        const line = this.consume(total);
        this.scanChunk = 0;
        this.scanPos = 0;
        this.scanned = 0;
        return line.subarray(0, line.length - 1);
      }
      this.scanned += c.length - this.scanPos;
      this.scanChunk++;
      this.scanPos = 0;
    }
    if (this.scanned > 0 && this.scanned >= limit) {
      // Over the limit before its end arrived: refuse now, drop what is held, skip the rest.
      this.queue.push(this.lineRefusal(limit));
      this.dropFront(this.held);
      this.mode = { kind: 'skip' };
    }
    return null;
  }

  /** The refusal of the line at the front of the buffer, which has at least `limit` bytes. */
  private lineRefusal(limit: number): ImapInput {
    if (this.rawLineWanted) {
      this.rawLineWanted = false;
      return { kind: 'lineTooLong', tag: null, reason: 'Line too long' };
    }
    const reason = limit < this.opts.maxLineLength ? 'Command too long' : 'Command line too long';
    const cmd = this.cmd;
    this.cmd = null;
    if (cmd !== null) return { kind: 'lineTooLong', tag: cmd.tag, reason };
    const tag = this.tagAtFront(limit);
    if (tag === null) return { kind: 'unframed', reason: `${reason}, and no tag to answer` };
    return { kind: 'lineTooLong', tag, reason };
  }

  /** The tag when the held bytes start with `tag SP` within `limit` bytes, else null. */
  private tagAtFront(limit: number): string | null {
    let n = 0;
    for (const c of this.chunks) {
      for (let i = 0; i < c.length; i++, n++) {
        if (n >= limit) return null;
        const b = c[i]!;
        if (isTagChar(b)) continue;
        if (b !== SP || n === 0) return null;
        return Buffer.concat(this.chunks, n).toString('latin1');
      }
    }
    return null;
  }

  /** Drops n bytes from the front of the buffer, keeping their last bytes as the tail. */
  private dropFront(n: number): void {
    this.tail = EMPTY;
    let left = n;
    while (left > 0) {
      const c = this.chunks[0]!;
      if (c.length <= left) {
        this.keepTail(c);
        this.chunks.shift();
        left -= c.length;
      } else {
        this.keepTail(c.subarray(0, left));
        this.chunks[0] = c.subarray(left);
        left = 0;
      }
    }
    this.held -= n;
    this.scanChunk = 0;
    this.scanPos = 0;
    this.scanned = 0;
  }

  /** Removes n bytes from the front of the buffer; a view when they are in one chunk. */
  private consume(n: number): Buffer {
    this.held -= n;
    const first = this.chunks[0]!;
    if (first.length > n) {
      this.chunks[0] = first.subarray(n);
      return first.subarray(0, n);
    }
    if (first.length === n) {
      this.chunks.shift();
      return first;
    }
    const parts: Buffer[] = [];
    let left = n;
    while (left > 0) {
      const c = this.chunks[0]!;
      if (c.length <= left) {
        parts.push(c);
        this.chunks.shift();
        left -= c.length;
      } else {
        parts.push(c.subarray(0, left));
        this.chunks[0] = c.subarray(left);
        left = 0;
      }
    }
    return Buffer.concat(parts, n);
  }

  private readLiteral(m: Extract<Mode, { kind: 'literal' }>): boolean {
    while (m.left > 0) {
      if (this.chunks.length === 0) return false;
      const first = this.chunks[0]!;
      const piece = this.consume(Math.min(first.length, m.left));
      m.left -= piece.length;
      if (m.how === 'buffer') this.literalParts.push(piece);
      else if (m.how === 'stream') {
        if (!this.literalNul && piece.includes(0)) this.literalNul = true;
        this.queue.push({ kind: 'literalChunk', data: piece });
        if (m.left > 0) return true;
      }
    }
    if (m.how === 'drain') {
      // The line goes on after the literal (RFC 9051 §4.3): skip it too.
      this.mode = { kind: 'skip' };
      return true;
    }
    this.mode = { kind: 'line' };
    const cmd = this.cmd!;
    const list = cmd.stack[cmd.stack.length - 1]!;
    if (m.how === 'stream') {
      this.queue.push({ kind: 'literalEnd', containsNul: this.literalNul });
      this.literalNul = false;
      list.push({ kind: 'streamed', size: m.size, binary: m.binary });
    } else {
      const value = Buffer.concat(this.literalParts, m.size);
      this.literalParts = [];
      // RFC 9051 §4.3: a literal (not literal8) cannot contain NUL.
      if (!m.binary && value.includes(0)) {
        this.cmd = null;
        this.queue.push({ kind: 'bad', tag: cmd.tag, reason: 'NUL in literal' });
        this.mode = { kind: 'skip' };
      } else list.push({ kind: 'string', value, form: m.binary ? 'literal8' : 'literal' });
    }
    return true;
  }

  private onLine(raw: Buffer): void {
    const line = stripCr(raw);
    if (this.rawLineWanted) {
      this.rawLineWanted = false;
      this.queue.push({ kind: 'line', line });
      return;
    }
    let pos = 0;
    if (this.cmd === null) {
      const start = this.parseCommandStart(line);
      if (start === null) return;
      pos = start;
    }
    const cmd = this.cmd!;
    cmd.bytes += raw.length + 1;
    try {
      const header = this.tokenize(cmd, line, pos);
      if (header === null) {
        if (cmd.stack.length > 1) throw new ParseError('unclosed parenthesis');
        this.cmd = null;
        this.queue.push({ kind: 'command', tag: cmd.tag, name: cmd.name, args: cmd.stack[0]! });
        return;
      }
      this.onLiteralHeader(cmd, header);
    } catch (err) {
      if (!(err instanceof ParseError)) throw err;
      this.failCommand(cmd.tag, err.message, line);
    }
  }

  /** Parses `tag SP name`; returns the position after the name, or null after a bad output. */
  private parseCommandStart(line: Buffer): number | null {
    let i = 0;
    while (i < line.length && isTagChar(line[i]!)) i++;
    if (i === 0 || (i < line.length && line[i] !== SP)) {
      this.failCommand(null, line.length === 0 ? 'empty line' : 'invalid tag', line);
      return null;
    }
    const tag = line.toString('latin1', 0, i);
    if (i === line.length) {
      this.failCommand(tag, 'missing command', line);
      return null;
    }
    const ns = ++i;
    while (i < line.length && isAtomChar(line[i]!)) i++;
    if (i === ns || (i < line.length && line[i] !== SP)) {
      this.failCommand(tag, 'invalid command name', line);
      return null;
    }
    let name = line.toString('latin1', ns, i).toUpperCase();
    // `UID FETCH` and the other UID forms are one command name.
    if (name === 'UID' && i < line.length) {
      const s2 = i + 1;
      let j = s2;
      while (j < line.length && isAtomChar(line[j]!)) j++;
      if (j > s2 && (j === line.length || line[j] === SP)) {
        name = `UID ${line.toString('latin1', s2, j).toUpperCase()}`;
        i = j;
      }
    }
    this.cmd = { tag, name, stack: [[]], tokens: 0, bufferedLiteralBytes: 0, bytes: 0 };
    return i;
  }

  /**
   * Tokenizes `line` from `pos` (which is either the line start after a literal, or just after
   * the previous token). Returns a literal header ending the line, or null at the command end.
   */
  private tokenize(cmd: CommandState, line: Buffer, pos: number): LiteralHeader | null {
    const stack = cmd.stack;
    let i = pos;
    // A separator is due before every token except just after '(' (a literal counts as a token).
    let needSep = true;
    const after = (): void => {
      if (++cmd.tokens > this.opts.maxTokensPerCommand) throw new ParseError('too many arguments');
    };
    while (i < line.length) {
      const c = line[i]!;
      if (c === RPAREN) {
        if (stack.length === 1) throw new ParseError('unbalanced parenthesis');
        stack.pop();
        i++;
        needSep = true;
        continue;
      }
      if (needSep) {
        if (c !== SP) throw new ParseError('expected space');
        i++;
        if (i === line.length || line[i] === SP) throw new ParseError('unexpected space');
        needSep = false;
        continue;
      }
      const list = stack[stack.length - 1]!;
      if (c === LPAREN) {
        if (stack.length > this.opts.maxListDepth) throw new ParseError('lists nested too deeply');
        after();
        const items: ImapToken[] = [];
        list.push({ kind: 'list', items });
        stack.push(items);
        i++;
        continue;
      }
      after();
      needSep = true;
      if (c === DQUOTE) {
        i = this.quoted(line, i + 1, list);
      } else if (c === LBRACE || (c === TILDE && line[i + 1] === LBRACE)) {
        const header = literalHeaderAtEnd(line);
        const start = line.lastIndexOf(LBRACE);
        if (header === null || start !== (c === TILDE ? i + 1 : i)) throw new ParseError('invalid literal');
        return header;
      } else {
        i = this.atom(line, i, list);
      }
    }
    // A line may end only where a token is complete; after a literal the line may be empty.
    return null;
  }

  private quoted(line: Buffer, start: number, list: ImapToken[]): number {
    let i = start;
    let escapes = false;
    for (;;) {
      if (i >= line.length) throw new ParseError('unterminated quoted string');
      const c = line[i]!;
      if (c === DQUOTE) break;
      if (c === 0 || c === CR || c === LF) throw new ParseError('NUL, CR or LF in quoted string');
      if (c === BACKSLASH) {
        const n = line[i + 1];
        if (n !== DQUOTE && n !== BACKSLASH) throw new ParseError('invalid escape in quoted string');
        escapes = true;
        i += 2;
        continue;
      }
      i++;
    }
    let value: Buffer;
    if (!escapes) value = line.subarray(start, i);
    else {
      value = Buffer.allocUnsafe(i - start);
      let o = 0;
      for (let j = start; j < i; j++) {
        const c = line[j]!;
        if (c === BACKSLASH) j++;
        value[o++] = line[j]!;
      }
      value = value.subarray(0, o);
    }
    list.push({ kind: 'string', value, form: 'quoted' });
    return i + 1;
  }

  private atom(line: Buffer, start: number, list: ImapToken[]): number {
    let i = start;
    while (i < line.length) {
      const c = line[i]!;
      if (c === LBRACKET && isSectionName(line, start, i)) {
        // FETCH section (RFC 9051 §6.4.5): keep `[...]` whole, SP and parentheses included.
        // Elsewhere `[` is an ATOM-CHAR like any other (a mailbox name `a[b`).
        const end = line.indexOf(RBRACKET, i + 1);
        if (end < 0) throw new ParseError('unterminated [');
        for (let j = i + 1; j < end; j++) {
          const d = line[j]!;
          if (d < SP || d >= 0x7f || d === LBRACKET || d === LBRACE) throw new ParseError('invalid section');
        }
        i = end + 1;
        continue;
      }
      if (!isAtomChar(c)) break;
      i++;
    }
    if (i === start || (i < line.length && line[i] !== SP && line[i] !== RPAREN)) {
      throw new ParseError('invalid atom');
    }
    const value = line.toString('latin1', start, i);
    if (i - start === 3 && value.toUpperCase() === 'NIL') list.push({ kind: 'nil' });
    else list.push({ kind: 'atom', value });
    return i;
  }

  private onLiteralHeader(cmd: CommandState, header: LiteralHeader): void {
    const s = this.opts.stream;
    // Room for this literal and the line end that must still close the command.
    const budget = (this.opts.maxCommandSize ?? Infinity) - cmd.bytes - 2;
    const bufferable = Math.min(this.opts.maxLiteralSize - cmd.bufferedLiteralBytes, budget);
    const streams =
      s !== undefined && s.commands.includes(cmd.name) && (header.size > s.above || header.size > bufferable);
    let limit = streams ? s.maxSize : bufferable;
    let reason = !streams && header.size > budget ? 'Command too long' : 'Literal too large';
    if (
      !header.sync &&
      this.opts.maxNonSyncLiteral !== undefined &&
      header.size > this.opts.maxNonSyncLiteral
    ) {
      limit = Math.min(limit, this.opts.maxNonSyncLiteral);
      reason = 'Literal too large';
    }
    if (header.size > limit) {
      this.cmd = null;
      const { tag, name } = cmd;
      this.queue.push({ kind: 'literalTooLarge', tag, name, size: header.size, sync: header.sync, reason });
      // A {n} is never sent once refused; a {n+} is on its way and is drained (RFC 7888 §4).
      if (!header.sync) this.mode = drain(header.size);
      return;
    }
    if (header.sync) {
      this.mode = { kind: 'await', header, streams };
      this.queue.push({ kind: 'needContinuation', tag: cmd.tag, name: cmd.name, size: header.size });
      return;
    }
    this.startLiteral(header, streams);
  }

  private startLiteral(header: LiteralHeader, streams: boolean): void {
    const cmd = this.cmd!;
    if (streams) {
      this.queue.push({
        kind: 'literalStart',
        tag: cmd.tag,
        name: cmd.name,
        args: cmd.stack[0]!.slice(),
        size: header.size,
        binary: header.binary,
      });
      this.literalNul = false;
    } else {
      cmd.bufferedLiteralBytes += header.size;
      cmd.bytes += header.size;
    }
    this.literalParts = [];
    this.mode = {
      kind: 'literal',
      left: header.size,
      how: streams ? 'stream' : 'buffer',
      binary: header.binary,
      size: header.size,
    };
  }

  /**
   * A syntax error in a complete line: reported at once; a {n+} ending the line is drained and
   * the rest of the command skipped. Without a tag, a line announcing a literal cannot be
   * answered at all (its client waits for `+` or sends bytes we cannot place): unframed.
   */
  private failCommand(tag: string | null, reason: string, line: Buffer): void {
    this.cmd = null;
    const header = literalHeaderAtEnd(line);
    if (tag === null && header !== null)
      this.queue.push({ kind: 'unframed', reason: 'Literal without a tag' });
    else this.queue.push({ kind: 'bad', tag, reason });
    if (header !== null && !header.sync) this.mode = drain(header.size);
  }
}

function drain(size: number): Mode {
  return { kind: 'literal', left: size, how: 'drain', binary: false, size };
}

function stripCr(line: Buffer): Buffer {
  return line.length > 0 && line[line.length - 1] === CR ? line.subarray(0, line.length - 1) : line;
}

/** The text of an astring argument (atom, quoted, literal; NIL as the atom "NIL"), or null. */
export function astring(token: ImapToken | undefined): string | null {
  if (token === undefined) return null;
  if (token.kind === 'atom') return token.value;
  if (token.kind === 'nil') return 'NIL';
  if (token.kind === 'string') return token.value.toString('utf8');
  return null;
}
