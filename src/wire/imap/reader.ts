// Sans-I/O framing and tokenizing of the IMAP client stream (RFC 9051 §4, §9; RFC 3501 §9).
// Invariants:
// - Received chunks are kept in a list and searched in place; a line is copied only when it
//   spans chunks, and a line is at most maxLineLength bytes. A longer line is dropped as it
//   arrives (only its last bytes are kept, to see a literal header at its end) and reported once.
// - A command is tokenized one complete line at a time; the open-list stack carries over a
//   literal, so lists and literals nest freely. The literal header must end its line.
// - Literal bytes are never parsed as commands: a refused {n+} (too large, or part of a bad
//   command) is drained by count (RFC 7888 §4), and so is one at the end of a dropped long line.
// - FETCH section syntax is kept as one raw atom: `BODY.PEEK[HEADER.FIELDS (From To)]<0.100>`
//   is the atom text exactly as sent (SP and parentheses allowed inside the brackets); the
//   FETCH parser re-parses it.
// - Streaming (for APPEND): a literal above `stream.above` bytes in a command named in
//   `stream.commands` is not buffered. The reader yields literalStart (tag, name, the top-level
//   arguments so far, size), then literalChunk pieces, then literalEnd; later the command itself,
//   where that literal is a { kind: 'streamed' } token. If the command then fails to parse,
//   a bad / lineTooLong / literalTooLarge output comes instead and the session drops the blob.

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
  /** A literal over the limit: a {n} is refused before `+`, a {n+} has been drained. */
  | { kind: 'literalTooLarge'; tag: string; size: number }
  | { kind: 'lineTooLong' }
  | { kind: 'bad'; tag: string | null; reason: string }
  /** One raw line (without CRLF), after expectRawLine(): AUTHENTICATE responses, IDLE's DONE. */
  | { kind: 'line'; line: Buffer };

export interface ImapReaderOptions {
  /** Longest line (one segment between literals), counting CRLF. */
  maxLineLength: number;
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
}

type Mode =
  | { kind: 'line' }
  | { kind: 'await'; header: LiteralHeader }
  | { kind: 'literal'; left: number; how: 'buffer' | 'stream' | 'drain'; binary: boolean; size: number };

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

function isTagChar(c: number): boolean {
  // RFC 9051 §9: tag = 1*<any ASTRING-CHAR except "+">; list-wildcards are not ATOM-CHARs.
  return isAtomChar(c) && c !== PLUS && c !== 0x2a && c !== 0x25;
}

export class ImapReader {
  private readonly opts: ImapReaderOptions;
  private chunks: Buffer[] = [];
  private held = 0;
  private scanChunk = 0;
  private scanPos = 0;
  private scanned = 0;
  private discarding = false;
  private tail: Buffer = Buffer.alloc(0);
  private tooLongDue = false;
  private mode: Mode = { kind: 'line' };
  private cmd: CommandState | null = null;
  private literalParts: Buffer[] = [];
  private literalNul = false;
  /** The command is being discarded; this output is due when it ends. */
  private discardOutput: ImapInput | null = null;
  private rawLineWanted = false;
  private queue: ImapInput[] = [];

  constructor(opts: ImapReaderOptions) {
    for (const k of ['maxLineLength', 'maxLiteralSize', 'maxListDepth', 'maxTokensPerCommand'] as const) {
      if (!Number.isSafeInteger(opts[k]) || opts[k] < 1)
        throw new RangeError(`${k} must be a positive integer`);
    }
    // A copy: the caller changes limits through setMaxNonSyncLiteral(), not the object it gave.
    this.opts = { ...opts };
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

  /** Bytes received and not yet consumed. */
  get buffered(): number {
    return this.held;
  }

  /** Appends received bytes; the buffer must not be modified afterwards. */
  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    if (this.discarding) {
      const lf = chunk.indexOf(LF);
      this.keepTail(lf < 0 ? chunk : chunk.subarray(0, lf));
      if (lf < 0) return;
      this.discarding = false;
      this.tooLongDue = true;
      chunk = chunk.subarray(lf + 1);
      if (chunk.length === 0) return;
    }
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
    this.startLiteral(this.mode.header);
  }

  /** After needContinuation: the session refused the command; its line is discarded. */
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
      if (this.tooLongDue) {
        this.tooLongDue = false;
        this.lineTooLong(this.tail);
        continue;
      }
      switch (this.mode.kind) {
        case 'await':
          return null;
        case 'literal':
          if (!this.readLiteral(this.mode)) return null;
          continue;
        case 'line': {
          const line = this.takeLine();
          if (line === null) {
            // An overlong line may just have been reported (or set a literal to drain).
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
    else {
      const joined = Buffer.concat([this.tail, bytes]);
      this.tail = joined.subarray(Math.max(0, joined.length - TAIL_KEEP));
    }
  }

  /** A line over the limit ended; `tail` holds its last bytes (without LF). */
  private lineTooLong(tail: Buffer): void {
    this.tail = Buffer.alloc(0);
    this.cmd = null;
    this.rawLineWanted = false;
    const header = literalHeaderAtEnd(stripCr(tail));
    if (header !== null && !header.sync) {
      this.discardOutput = { kind: 'lineTooLong' };
      this.mode = {
        kind: 'literal',
        left: header.size,
        how: 'drain',
        binary: header.binary,
        size: header.size,
      };
    } else {
      this.discardOutput = null;
      this.queue.push({ kind: 'lineTooLong' });
    }
  }

  /** Takes one line (without LF) from the buffer, or null. Handles overlong lines. */
  private takeLine(): Buffer | null {
    while (this.scanChunk < this.chunks.length) {
      const c = this.chunks[this.scanChunk]!;
      const lf = c.indexOf(LF, this.scanPos);
      if (lf >= 0) {
        const total = this.scanned + (lf - this.scanPos) + 1;
        const line = this.consume(total);
        this.scanChunk = 0;
        this.scanPos = 0;
        this.scanned = 0;
        const body = line.subarray(0, line.length - 1);
        if (total > this.opts.maxLineLength) {
          this.lineTooLong(body.subarray(Math.max(0, body.length - TAIL_KEEP)));
          return null;
        }
        return body;
      }
      this.scanned += c.length - this.scanPos;
      this.scanChunk++;
      this.scanPos = 0;
    }
    if (this.scanned > this.opts.maxLineLength) {
      // Drop what is held, keep watching for the LF (and a literal header before it).
      this.tail = Buffer.alloc(0);
      for (const c of this.chunks) this.keepTail(c);
      this.chunks = [];
      this.held = 0;
      this.scanChunk = 0;
      this.scanned = 0;
      this.discarding = true;
    }
    return null;
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
    this.mode = { kind: 'line' };
    if (m.how === 'drain') return true;
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
        this.discardOutput = { kind: 'bad', tag: cmd.tag, reason: 'NUL in literal' };
      } else list.push({ kind: 'string', value, form: m.binary ? 'literal8' : 'literal' });
    }
    return true;
  }

  private onLine(raw: Buffer): void {
    const line = stripCr(raw);
    if (this.discardOutput !== null) {
      // The rest of a discarded command: drain further {n+} literals, never parse.
      const header = literalHeaderAtEnd(line);
      if (header !== null && !header.sync) {
        this.mode = { kind: 'literal', left: header.size, how: 'drain', binary: false, size: header.size };
      } else {
        this.queue.push(this.discardOutput);
        this.discardOutput = null;
      }
      return;
    }
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
    this.cmd = { tag, name, stack: [[]], tokens: 0, bufferedLiteralBytes: 0 };
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
      if (c === LBRACKET) {
        // FETCH section (RFC 9051 §6.4.5): keep `[...]` whole, SP and parentheses included.
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
    const streams = s !== undefined && header.size > s.above && s.commands.includes(cmd.name);
    let limit = streams ? s.maxSize : this.opts.maxLiteralSize - cmd.bufferedLiteralBytes;
    if (!header.sync && this.opts.maxNonSyncLiteral !== undefined)
      limit = Math.min(limit, this.opts.maxNonSyncLiteral);
    if (header.size > limit) {
      const out: ImapInput = { kind: 'literalTooLarge', tag: cmd.tag, size: header.size };
      this.cmd = null;
      if (header.sync) this.queue.push(out);
      else {
        this.discardOutput = out;
        this.mode = { kind: 'literal', left: header.size, how: 'drain', binary: false, size: header.size };
      }
      return;
    }
    if (header.sync) {
      this.mode = { kind: 'await', header };
      this.queue.push({ kind: 'needContinuation', tag: cmd.tag, name: cmd.name, size: header.size });
      return;
    }
    this.startLiteral(header);
  }

  private startLiteral(header: LiteralHeader): void {
    const cmd = this.cmd!;
    const s = this.opts.stream;
    const streams = s !== undefined && header.size > s.above && s.commands.includes(cmd.name);
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
    } else cmd.bufferedLiteralBytes += header.size;
    this.literalParts = [];
    this.mode = {
      kind: 'literal',
      left: header.size,
      how: streams ? 'stream' : 'buffer',
      binary: header.binary,
      size: header.size,
    };
  }

  /** A syntax error: the rest of the command is discarded, draining a {n+} that ends the line. */
  private failCommand(tag: string | null, reason: string, line: Buffer): void {
    this.cmd = null;
    const out: ImapInput = { kind: 'bad', tag, reason };
    const header = literalHeaderAtEnd(line);
    if (header !== null && !header.sync) {
      this.discardOutput = out;
      this.mode = { kind: 'literal', left: header.size, how: 'drain', binary: false, size: header.size };
    } else this.queue.push(out);
  }
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
