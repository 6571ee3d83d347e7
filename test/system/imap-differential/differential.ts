// The IMAP differential harness: scripted sessions (test/system/imap-differential/*.imap) are
// run against two servers over real sockets and the normalised answers compared command by
// command. Script format, one item per line:
//   # comment                     (and blank lines) ignored
//   COMMAND ARGS                  a command on connection 1; the harness adds the tag
//   @2 COMMAND ARGS               the same on connection 2 (up to @9); a connection opens at its
//                                 first use (its greeting belongs to that command's answer) and
//                                 again after the server closed it (LOGOUT)
//   >> TEXT                       a line sent on the next "+" of the command above (AUTHENTICATE,
//                                 IDLE's DONE) beyond the ones its literals consume
//   !raw TEXT                     TEXT sent as is (no tag added), then a NOOP: the answer is all
//                                 that arrives up to the NOOP's completion
//   !sleep MS                     a pause (for changes made by another connection to settle)
// In command and raw text: {{msg:NAME}} is a synchronizing literal holding messages/NAME.eml
// (LF line ends turned into CRLF), {{msg+:NAME}} the same as a non-synchronizing literal
// (RFC 7888), {{lit:TEXT}} a synchronizing literal of TEXT (UTF-8; \r \n \\ and \xHH escapes); $USER, $PASS,
// $USER2, $PASS2 and $PLAIN (base64 of "\0USER\0PASS" for AUTHENTICATE PLAIN) are the script's
// own accounts, so that scripts are independent of each other.

import { readdirSync, readFileSync, statSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ImapRawClient, type CommandPart } from '../../helpers/imap-raw-client.js';
import { normaliseAnswer, withoutCapabilities, withoutExtensionCodes } from './normalise.js';

export interface ScriptCommand {
  /** 1-based line number in the script file. */
  line: number;
  conn: number;
  kind: 'command' | 'raw' | 'sleep';
  /** The text as written in the script (variables not substituted): the key for readers. */
  source: string;
  continuations: string[];
}

export interface ScriptAccounts {
  user: string;
  pass: string;
  user2: string;
  pass2: string;
}

export interface CommandAnswer {
  /** "<script>:<line>" */
  key: string;
  source: string;
  raw: string[];
  normalised: string[];
}

const MAX_SCRIPT_LINES = 5000;

/** The repository root: the nearest ancestor of this file holding test/system/imap-differential. */
export function repoRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let k = 0; k < 10; k++) {
    try {
      if (statSync(path.join(dir, 'test/system/imap-differential')).isDirectory()) {
        if (statSync(path.join(dir, 'package.json')).isFile()) return dir;
      }
    } catch {
      // not here
    }
    dir = path.dirname(dir);
  }
  throw new Error('imap-differential: repository root not found');
}

export function dataDir(): string {
  return path.join(repoRoot(), 'test/system/imap-differential');
}

export function scriptNames(): string[] {
  return readdirSync(dataDir())
    .filter((f) => f.endsWith('.imap'))
    .sort();
}

export function parseScript(text: string): ScriptCommand[] {
  const lines = text.split('\n');
  if (lines.length > MAX_SCRIPT_LINES) throw new Error('script too long');
  const out: ScriptCommand[] = [];
  lines.forEach((rawLine, idx) => {
    const line = rawLine.replace(/\r$/, '');
    if (line.trim() === '' || line.startsWith('#')) return;
    if (line.startsWith('>> ')) {
      const prev = out[out.length - 1];
      if (prev === undefined) throw new Error(`line ${idx + 1}: continuation without a command`);
      prev.continuations.push(line.slice(3));
      return;
    }
    let conn = 1;
    let body = line;
    const m = /^@(\d) (.*)$/.exec(line);
    if (m !== null) {
      conn = Number(m[1]);
      body = m[2];
    }
    if (body.startsWith('!sleep ')) {
      out.push({ line: idx + 1, conn, kind: 'sleep', source: body.slice(7), continuations: [] });
    } else if (body === '!raw' || body.startsWith('!raw ')) {
      out.push({ line: idx + 1, conn, kind: 'raw', source: body.slice(5), continuations: [] });
    } else {
      out.push({ line: idx + 1, conn, kind: 'command', source: body, continuations: [] });
    }
  });
  return out;
}

function substitute(text: string, acc: ScriptAccounts): string {
  const plain = Buffer.from(`\0${acc.user}\0${acc.pass}`).toString('base64');
  return text
    .replaceAll('$USER2', acc.user2)
    .replaceAll('$PASS2', acc.pass2)
    .replaceAll('$USER', acc.user)
    .replaceAll('$PASS', acc.pass)
    .replaceAll('$PLAIN', plain);
}

/** Literal text: UTF-8, with \\r \\n \\\\ and \\xHH (one raw byte) escapes. */
function literalBytes(s: string): Buffer {
  const out: Buffer[] = [];
  let plain = '';
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c !== '\\' || i + 1 >= s.length) {
      plain += c;
      continue;
    }
    const e = s[i + 1];
    if (e === 'x' && /^[0-9a-fA-F]{2}$/.test(s.slice(i + 2, i + 4))) {
      out.push(Buffer.from(plain, 'utf8'), Buffer.from([parseInt(s.slice(i + 2, i + 4), 16)]));
      plain = '';
      i += 3;
    } else {
      plain += e === 'r' ? '\r' : e === 'n' ? '\n' : e;
      i += 1;
    }
  }
  out.push(Buffer.from(plain, 'utf8'));
  return Buffer.concat(out);
}

const messageCache = new Map<string, Buffer>();

export function messageBytes(name: string): Buffer {
  let b = messageCache.get(name);
  if (b === undefined) {
    if (!/^[a-z0-9-]+$/.test(name)) throw new Error(`bad message name ${name}`);
    const lf = readFileSync(path.join(dataDir(), 'messages', `${name}.eml`), 'latin1');
    b = Buffer.from(lf.replace(/\r?\n/g, '\r\n'), 'latin1');
    messageCache.set(name, b);
  }
  return b;
}

/** Splits text at {{msg:..}}, {{msg+:..}} and {{lit:..}} into command parts. */
export function commandParts(text: string): CommandPart[] {
  const parts: CommandPart[] = [];
  let rest = text;
  for (let k = 0; k < 100; k++) {
    const open = rest.indexOf('{{');
    if (open < 0) break;
    const close = rest.indexOf('}}', open);
    if (close < 0) break;
    parts.push(rest.slice(0, open));
    const spec = rest.slice(open + 2, close);
    if (spec.startsWith('msg:')) parts.push({ literal: messageBytes(spec.slice(4)) });
    else if (spec.startsWith('msg+:')) parts.push({ literal: messageBytes(spec.slice(5)), nonSync: true });
    else if (spec.startsWith('lit:')) parts.push({ literal: literalBytes(spec.slice(4)) });
    else throw new Error(`unknown literal spec {{${spec}}}`);
    rest = rest.slice(close + 2);
  }
  parts.push(rest);
  return parts.filter((p) => typeof p !== 'string' || p !== '');
}

/** Bytes of a raw line: literal specs inlined without waiting for "+". */
function rawBytes(text: string): Buffer {
  const out: Buffer[] = [];
  for (const p of commandParts(text)) {
    if (typeof p === 'string') out.push(Buffer.from(p, 'utf8'));
    else
      out.push(Buffer.from(`{${p.literal.length}${p.nonSync === true ? '+' : ''}}\r\n`, 'latin1'), p.literal);
  }
  out.push(Buffer.from('\r\n'));
  return Buffer.concat(out);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Runs one script against a server; one answer per command (sleeps excluded). */
export async function runScript(
  name: string,
  commands: ScriptCommand[],
  port: number,
  acc: ScriptAccounts,
  opts: { timeoutMs?: number } = {},
): Promise<CommandAnswer[]> {
  const conns = new Map<number, ImapRawClient>();
  const answers: CommandAnswer[] = [];
  const now = Date.now();
  try {
    for (const cmd of commands) {
      if (cmd.kind === 'sleep') {
        await sleep(Math.min(5000, Number(cmd.source)));
        continue;
      }
      const raw: string[] = [];
      let client = conns.get(cmd.conn);
      if (client === undefined || client.closed) {
        try {
          client = await ImapRawClient.connect(port, { timeoutMs: opts.timeoutMs ?? 10_000 });
          conns.set(cmd.conn, client);
          raw.push(client.greeting);
        } catch (err) {
          raw.push(`<connect failed: ${String(err)}>`);
          answers.push({ key: `${name}:${cmd.line}`, source: cmd.source, raw, normalised: raw });
          continue;
        }
      }
      const text = substitute(cmd.source, acc);
      try {
        if (cmd.kind === 'raw') {
          client.write(rawBytes(text));
          const r = await client.command('NOOP', { timeoutMs: opts.timeoutMs ?? 10_000, tag: 'RAWNOOP' });
          raw.push(...r.lines, r.tagged);
        } else {
          const r = await client.command(commandParts(text), {
            continuations: cmd.continuations.map((c) => substitute(c, acc)),
            timeoutMs: opts.timeoutMs ?? 10_000,
          });
          raw.push(...r.lines, r.tagged);
        }
      } catch {
        raw.push(...client.takeUnsolicited(), '<connection lost>');
        client.socket.destroy();
      }
      answers.push({
        key: `${name}:${cmd.line}`,
        source: cmd.source,
        raw,
        normalised: normaliseAnswer(raw, now),
      });
      if (raw.some((l) => /^\* BYE( |$)/i.test(l))) {
        // The server is closing: the next command on this connection opens a new one.
        client.socket.destroy();
        conns.delete(cmd.conn);
      }
    }
  } finally {
    for (const c of conns.values()) c.socket.destroy();
  }
  return answers;
}

export interface Difference {
  key: string;
  source: string;
  reference: string[];
  subject: string[];
}

/**
 * A difference accepted by its content: the normalised lines only the reference server
 * (Dovecot) sends and those only the subject (Postern) sends, at each place listed. The rest of
 * the two answers must be identical, in order; any other line, or these lines at another
 * place, is a difference not accepted. A tagged line is written with the tag `<tag>`.
 */
export interface AcceptedDifference {
  /** Short name, one per kind of difference (several places may share it). */
  name: string;
  /** Why it is allowed, with the RFC section. */
  reason: string;
  dovecot: readonly string[];
  postern: readonly string[];
  /** Where: "<script>:<line>" and the command as written there. */
  at: ReadonlyArray<readonly [key: string, source: string]>;
}

/** A capability that only one of the two servers announces, accepted by name. */
export interface AcceptedCapability {
  capability: string;
  /** The server that announces it. */
  only: 'dovecot' | 'postern';
  reason: string;
}

export interface Comparison {
  differences: Difference[];
  /** The accepted capabilities that occurred on their server's side. */
  capabilitiesSeen: Set<string>;
}

/**
 * Compares the answers command by command. The capabilities that only one server is accepted
 * to announce are taken out of that server's capability lists first, so the rest of the lists
 * must be equal as sets.
 */
export function compareAnswers(
  reference: CommandAnswer[],
  subject: CommandAnswer[],
  capabilities: readonly AcceptedCapability[] = [],
): Comparison {
  const referenceOnly = new Set(capabilities.filter((c) => c.only === 'dovecot').map((c) => c.capability));
  const subjectOnly = new Set(capabilities.filter((c) => c.only === 'postern').map((c) => c.capability));
  const capabilitiesSeen = new Set<string>();
  const differences: Difference[] = [];
  const byKey = new Map(subject.map((a) => [a.key, a]));
  for (const r of reference) {
    const s = byKey.get(r.key);
    const rn = withoutExtensionCodes(
      r.normalised.map((l) => withoutCapabilities(l, referenceOnly, capabilitiesSeen)),
      referenceOnly,
      capabilitiesSeen,
    );
    const sn = withoutExtensionCodes(
      (s?.normalised ?? ['<no answer>']).map((l) => withoutCapabilities(l, subjectOnly, capabilitiesSeen)),
      subjectOnly,
      capabilitiesSeen,
    );
    if (JSON.stringify(rn) !== JSON.stringify(sn)) {
      differences.push({ key: r.key, source: r.source, reference: rn, subject: sn });
    }
  }
  return { differences, capabilitiesSeen };
}

/** A tagged line with its tag written as `<tag>` (untagged and continuation lines as they are). */
export function withTagPlaceholder(line: string): string {
  if (line.startsWith('* ') || line.startsWith('+')) return line;
  const sp = line.indexOf(' ');
  return sp < 0 ? line : `<tag>${line.slice(sp)}`;
}

/** `lines` without one occurrence of each of `remove`; null when one of them is missing. */
function removeEach(lines: readonly string[], remove: readonly string[]): string[] | null {
  const out = [...lines];
  for (const r of remove) {
    const at = out.indexOf(r);
    if (at < 0) return null;
    out.splice(at, 1);
  }
  return out;
}

export interface Judgement {
  /** Each difference with the accepted differences that explain it exactly (empty: none). */
  verdicts: Array<{ difference: Difference; accepted: AcceptedDifference[] }>;
  unexpected: Difference[];
  /** Accepted differences (name and place) that did not occur. */
  stale: Array<{ name: string; key: string; source: string }>;
}

/**
 * Judges each difference against the accepted ones listed for its place: accepted only when
 * removing their lines from the two answers leaves identical answers.
 */
export function judgeDifferences(diffs: Difference[], accepted: readonly AcceptedDifference[]): Judgement {
  const verdicts: Judgement['verdicts'] = [];
  const unexpected: Difference[] = [];
  const explained = new Set<string>();
  for (const d of diffs) {
    const listed = accepted.filter((a) => a.at.some(([key]) => key === d.key));
    const reference = removeEach(
      d.reference.map(withTagPlaceholder),
      listed.flatMap((a) => a.dovecot),
    );
    const subject = removeEach(
      d.subject.map(withTagPlaceholder),
      listed.flatMap((a) => a.postern),
    );
    const ok =
      listed.length > 0 &&
      reference !== null &&
      subject !== null &&
      JSON.stringify(reference) === JSON.stringify(subject);
    verdicts.push({ difference: d, accepted: ok ? listed : [] });
    if (ok) for (const a of listed) explained.add(`${a.name}\n${d.key}`);
    else unexpected.push(d);
  }
  const stale: Judgement['stale'] = [];
  const differing = new Set(diffs.map((d) => d.key));
  for (const a of accepted) {
    for (const [key, source] of a.at) {
      // A place whose difference is unexpected is reported there, not again as stale.
      if (!explained.has(`${a.name}\n${key}`) && !differing.has(key))
        stale.push({ name: a.name, key, source });
    }
  }
  return { verdicts, unexpected, stale };
}

function clip(line: string, max = 1500): string {
  return line.length > max ? `${line.slice(0, max)}... (${line.length} chars)` : line;
}

/** A readable report of the differences (Markdown). */
export function renderDifferences(
  judgement: Judgement,
  opts: {
    title: string;
    total: number;
    referenceName: string;
    subjectName: string;
    staleCapabilities?: readonly AcceptedCapability[];
  },
): string {
  const out: string[] = [`# ${opts.title}`, ''];
  const { verdicts, unexpected, stale } = judgement;
  const staleCaps = opts.staleCapabilities ?? [];
  out.push(
    `${opts.total} commands compared, ${verdicts.length} differ: ${verdicts.length - unexpected.length} ` +
      `accepted (docs/imap.md), ${unexpected.length} not accepted; ${stale.length} accepted difference(s) ` +
      `and ${staleCaps.length} accepted capability difference(s) no longer seen.`,
    '',
    `Lines: \`-\` ${opts.referenceName} only, \`+\` ${opts.subjectName} only, \`=\` both (normalised).`,
    '',
  );
  for (const { difference: d, accepted } of verdicts) {
    const names = accepted.map((a) => a.name).join('; ');
    out.push(
      `## ${d.key} \`${d.source}\`${accepted.length > 0 ? ` (accepted: ${names})` : ' (NOT ACCEPTED)'}`,
      '',
      '```',
    );
    const inSubject = new Set(d.subject);
    const inReference = new Set(d.reference);
    for (const l of d.reference) out.push(`${inSubject.has(l) ? '=' : '-'} ${clip(l)}`);
    for (const l of d.subject) if (!inReference.has(l)) out.push(`+ ${clip(l)}`);
    out.push('```', '');
  }
  if (stale.length > 0 || staleCaps.length > 0) {
    out.push('## Accepted differences no longer seen', '');
    for (const s of stale) out.push(`- ${s.key} \`${s.source}\`: ${s.name}`);
    for (const c of staleCaps) out.push(`- capability ${c.capability} (${c.only} only)`);
    out.push('');
  }
  return out.join('\n');
}

/** The heading from which a report file's hand-written tail is kept when it is rewritten. */
export const FINDINGS_HEADING = '## Findings (hand-written, kept when the report is rewritten)';

/** Writes the report; a findings section already in the file is kept at its end. */
export async function writeReport(file: string, report: string): Promise<void> {
  let kept = '';
  try {
    const old = await readFile(file, 'utf8');
    const at = old.indexOf(FINDINGS_HEADING);
    if (at >= 0) kept = old.slice(at);
  } catch {
    // no previous report
  }
  await writeFile(file, kept === '' ? report : `${report}\n${kept}`);
}
