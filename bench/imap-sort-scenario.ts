// The `--scenario sort` workloads of the IMAP benchmark (issue 13), run on the big mailbox by
// bench/imap-bench.ts against Postern and Dovecot alike:
//   (s) SORT (ARRIVAL), SORT (DATE), SORT (SUBJECT), SORT (FROM) and THREAD=REFERENCES over the
//       whole mailbox (RFC 5256), each timed on the wire over several rounds (first = cold);
//   (q) a QRESYNC SELECT (RFC 7162 §3.2.5) after another session's 1,000 flag changes and 100
//       expunges: session A notes UIDVALIDITY and HIGHESTMODSEQ, session B stores \Flagged on
//       1,000 messages (even UIDs) and expunges 100 others (odd UIDs), then a new session timed
//       on `SELECT INBOX (QRESYNC (uidvalidity modseq))`; each round changes other messages.
// Every answer is checked (number of SORT/THREAD numbers, VANISHED count, FETCH count), and a
// digest of each SORT/THREAD answer is kept so the report can say whether both servers agree.

import { createHash } from 'node:crypto';
import { ImapRawClient } from '../test/helpers/imap-raw-client.js';
import { median } from './sample-stats.js';

export const SORT_COMMANDS: ReadonlyArray<{ key: string; text: string }> = [
  { key: 'SORT (ARRIVAL)', text: 'SORT (ARRIVAL) US-ASCII ALL' },
  { key: 'SORT (DATE)', text: 'SORT (DATE) US-ASCII ALL' },
  { key: 'SORT (SUBJECT)', text: 'SORT (SUBJECT) US-ASCII ALL' },
  { key: 'SORT (FROM)', text: 'SORT (FROM) US-ASCII ALL' },
  { key: 'THREAD=REFERENCES', text: 'THREAD REFERENCES US-ASCII ALL' },
];

export const QRESYNC_KEY = 'SELECT (QRESYNC) after 1,000 flag changes + 100 expunges';
const FLAG_CHANGES = 1000;
const EXPUNGES = 100;

export interface TimedFigures {
  cold: Record<string, number>;
  warm: Record<string, number>;
  /** sha256 of each SORT/THREAD answer (first round): equal digests mean equal answers. */
  digests: Record<string, string>;
}

interface Login {
  port: number;
  user: string;
  password: string;
}

async function session(l: Login): Promise<ImapRawClient> {
  const c = await ImapRawClient.connect(l.port, { timeoutMs: 60_000 });
  const r = await c.command(`LOGIN ${l.user} ${l.password}`);
  if (r.status !== 'OK') throw new Error(`LOGIN failed: ${r.tagged}`);
  return c;
}

function summarize(samples: Map<string, number[]>, digests: Record<string, string>): TimedFigures {
  const cold: Record<string, number> = {};
  const warm: Record<string, number> = {};
  for (const [key, list] of samples) {
    cold[key] = list[0]!;
    warm[key] = median(list.length > 1 ? list.slice(1) : list);
  }
  return { cold, warm, digests };
}

/** How many message numbers a `* SORT` or `* THREAD` line holds. */
function numbersIn(line: string): number {
  return line.match(/\d+/g)?.length ?? 0;
}

/** (s): every SORT/THREAD command of SORT_COMMANDS, `rounds` times, on a mailbox of `messages`. */
export async function benchSortThread(l: Login, messages: number, rounds: number): Promise<TimedFigures> {
  const samples = new Map<string, number[]>();
  const digests: Record<string, string> = {};
  for (let round = 0; round < rounds; round++) {
    const c = await session(l);
    try {
      const sel = await c.command('SELECT INBOX', { timeoutMs: 600_000 });
      if (sel.status !== 'OK') throw new Error(`SELECT: ${sel.tagged}`);
      for (const cmd of SORT_COMMANDS) {
        const started = performance.now();
        const r = await c.command(cmd.text, { timeoutMs: 600_000 });
        const ms = performance.now() - started;
        if (r.status !== 'OK') throw new Error(`${cmd.text}: ${r.tagged}`);
        const word = cmd.text.split(' ')[0]!;
        const line = r.lines.find((x) => x.startsWith(`* ${word}`));
        if (line === undefined) throw new Error(`${cmd.text}: no * ${word} response`);
        const n = numbersIn(line.slice(2 + word.length));
        if (n !== messages) throw new Error(`${cmd.text}: ${n} numbers, want ${messages}`);
        if (round === 0) digests[cmd.key] = createHash('sha256').update(line).digest('hex').slice(0, 16);
        const list = samples.get(cmd.key) ?? [];
        list.push(ms);
        samples.set(cmd.key, list);
      }
    } finally {
      await c.close();
    }
  }
  return summarize(samples, digests);
}

/**
 * The UIDs round `round` (of `rounds`) changes: even ones get \Flagged, odd ones are expunged;
 * disjoint across rounds. 1,000 and 100 of them, fewer when the mailbox is too small for that.
 */
export function qresyncUids(
  messages: number,
  round: number,
  rounds: number,
): { flagged: number[]; expunged: number[] } {
  const half = Math.floor(messages / 2);
  const pick = (count: number, first: number): number[] => {
    const stride = Math.max(rounds, Math.floor(half / count));
    const out: number[] = [];
    for (let k = 0; k < count && k * stride + round < half; k++) out.push(first + 2 * (k * stride + round));
    return out;
  };
  return { flagged: pick(FLAG_CHANGES, 2), expunged: pick(EXPUNGES, 1) };
}

function status(c: ImapRawClient, text: string): Promise<string[]> {
  return c.command(text, { timeoutMs: 600_000 }).then((r) => {
    if (r.status !== 'OK') throw new Error(`${text.slice(0, 80)}: ${r.tagged}`);
    return r.lines;
  });
}

/** (q): `rounds` rounds of note modseq -> other session changes -> timed QRESYNC SELECT. */
export async function benchQresync(l: Login, messages: number, rounds: number): Promise<TimedFigures> {
  const samples: number[] = [];
  for (let round = 0; round < rounds; round++) {
    const { flagged, expunged } = qresyncUids(messages, round, rounds);
    // Session A: what a client knows when it goes offline.
    const a = await session(l);
    let uidValidity = '';
    let modseq = '';
    try {
      await status(a, 'ENABLE QRESYNC');
      for (const line of await status(a, 'SELECT INBOX')) {
        uidValidity = /\[UIDVALIDITY (\d+)\]/.exec(line)?.[1] ?? uidValidity;
        modseq = /\[HIGHESTMODSEQ (\d+)\]/.exec(line)?.[1] ?? modseq;
      }
    } finally {
      await a.close();
    }
    if (uidValidity === '' || modseq === '') throw new Error('no UIDVALIDITY or HIGHESTMODSEQ');
    // Session B: the changes.
    const b = await session(l);
    try {
      await status(b, 'SELECT INBOX');
      await status(b, `UID STORE ${flagged.join(',')} +FLAGS.SILENT (\\Flagged)`);
      await status(b, `UID STORE ${expunged.join(',')} +FLAGS.SILENT (\\Deleted)`);
      await status(b, `UID EXPUNGE ${expunged.join(',')}`);
    } finally {
      await b.close();
    }
    // Session A again, resynchronising.
    const c = await session(l);
    try {
      await status(c, 'ENABLE QRESYNC');
      const started = performance.now();
      const r = await c.command(`SELECT INBOX (QRESYNC (${uidValidity} ${modseq}))`, { timeoutMs: 600_000 });
      const ms = performance.now() - started;
      if (r.status !== 'OK') throw new Error(`SELECT QRESYNC: ${r.tagged}`);
      const vanished = r.lines.find((x) => x.startsWith('* VANISHED (EARLIER) '));
      const gone = vanished === undefined ? [] : expandSet(vanished.slice('* VANISHED (EARLIER) '.length));
      // Only this round's expunges: a set holding every earlier round's too is a superset (allowed
      // by RFC 7162 but not what is measured here).
      if (gone.length !== expunged.length)
        throw new Error(`VANISHED lists ${gone.length} UIDs, want ${expunged.length}`);
      const fetches = r.lines.filter((x) => / FETCH \(/.test(x)).length;
      if (fetches !== flagged.length) throw new Error(`${fetches} FETCH responses, want ${flagged.length}`);
      samples.push(ms);
    } finally {
      await c.close();
    }
  }
  return summarize(new Map([[QRESYNC_KEY, samples]]), {});
}

/** The numbers of a sequence set such as `1:3,7`. */
function expandSet(set: string): number[] {
  const out: number[] = [];
  for (const part of set.trim().split(',')) {
    const [lo, hi] = part.split(':').map(Number);
    for (let n = lo!; n <= (hi ?? lo!); n++) out.push(n);
  }
  return out;
}
