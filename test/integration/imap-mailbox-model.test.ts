// Mailbox state under concurrency (issue 11): 20 raw IMAP sessions share three mailboxes and run
// a mixed write-heavy workload (STORE +/-FLAGS and FLAGS with keywords, .SILENT or not, by
// sequence number and UID; APPEND; COPY; MOVE; STORE \Deleted + EXPUNGE; UID EXPUNGE; FETCH
// FLAGS; SEARCH; NOOP; IDLE; a SELECT of another mailbox now and then). Each session keeps a
// model of its mailbox from what the server told it and checks every untagged response the
// moment it arrives (imap-mailbox-model.ts). At the end every session sends NOOP, and its model
// must equal what a fresh session reads (UID FETCH 1:* FLAGS): the same UIDs in the same order,
// and the same flags wherever the session was told them, so no flag change was lost.
// The workload is bounded by a count of commands per session; it is drawn from a seeded PRNG
// (POSTERN_MODEL_SEED, printed on failure), so the same seed replays the same commands (the
// interleaving still depends on timing).

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { prng } from '../helpers/prng.js';
import { IMAP_PASSWORDS, startImapServer, type ImapTestServer } from './imap-harness.js';
import {
  ImapModelError,
  MailboxUidLedger,
  ModelClient,
  normalizeFlags,
  sameFlags,
  showFlags,
} from './imap-mailbox-model.js';

const SEED = Number(process.env.POSTERN_MODEL_SEED ?? 20261211);
const CLIENTS = 20;
/** Commands each session draws (an expunge step is two commands). */
const OPS = 45;
/** Sessions that may IDLE (the first ones). */
const IDLERS = 5;
const MAILBOXES = ['Team1', 'Team2', 'Team3'];
const SEEDED_PER_MAILBOX = 20;
const USER = 'alice@example.test';
const SYSTEM_FLAGS = ['\\Seen', '\\Flagged', '\\Answered', '\\Draft'];
const KEYWORDS = ['$k0', '$k1', '$k2', '$k3', '$k4', '$k5'];

let server: ImapTestServer;
const clients: ModelClient[] = [];

before(async () => {
  server = await startImapServer();
});

after(async () => {
  for (const c of clients) c.destroy();
  await server.close();
});

/** Counts finished commands, so an IDLE can last "until the others did N more" (no timers). */
class Progress {
  done = 0;
  readonly waiting = new Set<number>();
  readonly finished = new Set<number>();
  private listeners = new Set<() => void>();

  changed(): void {
    for (const l of [...this.listeners]) l();
  }

  /** Resolves once `cond` holds (checked at every change). */
  until(cond: () => boolean): Promise<void> {
    if (cond()) return Promise.resolve();
    return new Promise((resolve) => {
      const l = (): void => {
        if (!cond()) return;
        this.listeners.delete(l);
        resolve();
      };
      this.listeners.add(l);
    });
  }
}

function pick<T>(rnd: () => number, list: readonly T[]): T {
  return list[Math.floor(rnd() * list.length)]!;
}

/** Up to `max` distinct items of `list`, ascending if numbers. */
function some(rnd: () => number, list: readonly number[], max: number): number[] {
  const n = Math.min(list.length, 1 + Math.floor(rnd() * max));
  const chosen = new Set<number>();
  while (chosen.size < n) chosen.add(pick(rnd, list));
  return [...chosen].sort((a, b) => a - b);
}

function messageBytes(id: string, rnd: () => number): Buffer {
  const body = 'x'.repeat(Math.floor(rnd() * 2000)) + '\r\n';
  return Buffer.from(
    `From: Alice <alice@example.test>\r\nTo: Team <team@example.test>\r\nSubject: ${id}\r\n` +
      `Date: Fri, 11 Dec 2026 10:00:00 +0000\r\nMessage-ID: <${id}@model.example.test>\r\n\r\n${body}`,
  );
}

async function login(name: string, ledger: MailboxUidLedger): Promise<ModelClient> {
  const c = await ModelClient.connect(name, server.ports.imap, ledger);
  clients.push(c);
  const r = await c.command(`LOGIN ${USER} ${IMAP_PASSWORDS[USER]}`);
  assert.equal(r.status, 'OK', `${name}: ${r.tagged}`);
  return c;
}

async function runClient(
  index: number,
  c: ModelClient,
  progress: Progress,
  counts: Map<string, number>,
): Promise<void> {
  const rnd = prng(SEED * 131 + index);
  const flagsFor = (op: number): string[] => {
    const n = 1 + Math.floor(rnd() * 2);
    const out = new Set<string>();
    for (let i = 0; i < n; i++) out.add(rnd() < 0.5 ? pick(rnd, SYSTEM_FLAGS) : pick(rnd, KEYWORDS));
    // Now and then a keyword no session has seen: it must be announced before it is shown.
    if (rnd() < 0.06) out.add(`$new${index}x${op}`);
    return [...out];
  };
  const count = (what: string): void => {
    counts.set(what, (counts.get(what) ?? 0) + 1);
  };
  const finished = (): void => {
    progress.done++;
    progress.changed();
  };
  if (index % 3 === 1) {
    const r = await c.command('ENABLE IMAP4rev2');
    assert.equal(r.status, 'OK');
    c.rev2 = true;
  }
  await c.select(MAILBOXES[index % MAILBOXES.length]!);
  await c.fetchFlags('1:*', { uid: false });
  for (let op = 0; op < OPS; op++) {
    const model = c.model!;
    const seqs = model.entries.map((_, i) => i + 1);
    const uids = model.knownUids();
    const r = rnd();
    if (r < 0.3 && seqs.length > 0) {
      const byUid = rnd() < 0.5 && uids.length > 0;
      const mode = pick(rnd, ['+', '+', '-', '-', ''] as const);
      await c.store(byUid ? some(rnd, uids, 4) : some(rnd, seqs, 4), {
        uid: byUid,
        mode,
        flags: flagsFor(op),
        silent: rnd() < 0.5,
      });
      count(`STORE ${mode}FLAGS`);
    } else if (r < 0.4) {
      await c.append(pick(rnd, MAILBOXES), messageBytes(`m${index}-${op}`, rnd), flagsFor(op));
      count('APPEND');
    } else if (r < 0.47 && uids.length > 0) {
      const byUid = rnd() < 0.5;
      await c.copyOrMove('COPY', byUid ? some(rnd, uids, 3) : some(rnd, seqs, 3), pick(rnd, MAILBOXES), {
        uid: byUid,
      });
      count('COPY');
    } else if (r < 0.54 && uids.length > 0) {
      const byUid = rnd() < 0.5;
      const others = MAILBOXES.filter((m) => m !== model.mailbox);
      await c.copyOrMove('MOVE', byUid ? some(rnd, uids, 3) : some(rnd, seqs, 3), pick(rnd, others), {
        uid: byUid,
      });
      count('MOVE');
    } else if (r < 0.6 && seqs.length > 0) {
      await c.store(some(rnd, seqs, 2), { uid: false, mode: '+', flags: ['\\Deleted'], silent: rnd() < 0.5 });
      finished();
      await c.expungeAll();
      count('EXPUNGE');
    } else if (r < 0.66 && uids.length > 0) {
      const chosen = some(rnd, uids, 2);
      await c.store(chosen, { uid: true, mode: '+', flags: ['\\Deleted'], silent: true });
      finished();
      await c.uidExpunge(chosen);
      count('UID EXPUNGE');
    } else if (r < 0.8 && seqs.length > 0) {
      // As a client does after EXISTS: mostly the messages whose flags it has not been told.
      const untold = seqs.filter((s) => model.entries[s - 1]!.flags === null);
      const kind = rnd();
      const byUid = kind >= 0.7 && uids.length > 0;
      let set = '1:*';
      if (kind < 0.6 && untold.length > 0) set = some(rnd, untold, 20).join(',');
      else if (kind >= 0.8) set = (byUid ? some(rnd, uids, 5) : some(rnd, seqs, 5)).join(',');
      await c.fetchFlags(set, { uid: byUid });
      count('FETCH');
    } else if (r < 0.83) {
      await c.search(`KEYWORD ${pick(rnd, KEYWORDS)}`, { uid: rnd() < 0.5 });
      count('SEARCH');
    } else if (r < 0.9 && index < IDLERS) {
      const start = progress.done;
      progress.waiting.add(index);
      progress.changed();
      // Until the others finished 15 more commands, or none of them is left working.
      await c.idle(() =>
        progress.until(() => {
          if (progress.done >= start + 15) return true;
          for (let i = 0; i < CLIENTS; i++) {
            if (i !== index && !progress.waiting.has(i) && !progress.finished.has(i)) return false;
          }
          return true;
        }),
      );
      progress.waiting.delete(index);
      count('IDLE');
    } else if (r < 0.97) {
      await c.noop();
      count('NOOP');
    } else {
      await c.select(pick(rnd, MAILBOXES));
      count('SELECT');
    }
    finished();
  }
  progress.finished.add(index);
  progress.changed();
}

void test(`twenty sessions on shared mailboxes: every response agrees with each session's model (seed ${SEED})`, async (t) => {
  const ledger = new MailboxUidLedger();
  const setup = await login('setup', ledger);
  const rnd = prng(SEED);
  for (const box of MAILBOXES) {
    assert.equal((await setup.command(`CREATE ${box}`)).status, 'OK');
    for (let i = 0; i < SEEDED_PER_MAILBOX; i++) {
      const flags = [pick(rnd, SYSTEM_FLAGS), pick(rnd, KEYWORDS)].slice(0, Math.floor(rnd() * 3));
      await setup.append(box, messageBytes(`seed-${box}-${i}`, rnd), flags);
    }
  }
  // The credentials cache makes the twenty logins after the first cheap.
  const sessions = await Promise.all(Array.from({ length: CLIENTS }, (_, i) => login(`c${i}`, ledger)));
  const progress = new Progress();
  const counts = new Map<string, number>();
  let first: Error | null = null;
  await Promise.all(
    sessions.map((c, i) =>
      runClient(i, c, progress, counts).catch((err: Error) => {
        // The first inconsistency is the report; the rest are its consequences.
        if (first !== null) return;
        first = err;
        for (const s of sessions) s.destroy();
      }),
    ),
  );
  if (first !== null) {
    const err: Error = first;
    throw new ImapModelError(
      `${err.message}\n  (seed ${SEED}; POSTERN_MODEL_SEED=${SEED} replays the commands)`,
    );
  }

  // Quiet now: every session hears of the last changes, then learns the UIDs it lacks (FETCH
  // UID tells nothing about flags, so flags the session was never told stay unknown).
  await Promise.all(sessions.map((c) => c.noop()));
  for (const c of sessions) if (c.model!.count > 0) await c.fetchUids();
  const truthClient = await login('truth', ledger);
  assert.equal((await truthClient.command('ENABLE IMAP4rev2')).status, 'OK');
  truthClient.rev2 = true;
  const truth = new Map<string, Array<{ uid: number; flags: Set<string> }>>();
  for (const box of MAILBOXES) {
    await truthClient.select(box, true);
    const r = await truthClient.command('UID FETCH 1:* (FLAGS)');
    assert.equal(r.status, 'OK', r.tagged);
    truth.set(
      box,
      truthClient.model!.entries.map((e) => ({ uid: e.uid!, flags: normalizeFlags(e.flags ?? []) })),
    );
  }

  let compared = 0;
  let total = 0;
  for (const c of sessions) {
    const model = c.model!;
    const server = truth.get(model.mailbox)!;
    assert.deepEqual(
      model.entries.map((e) => e.uid),
      server.map((m) => m.uid),
      `${c.name} (${model.mailbox}): its UIDs differ from the server's`,
    );
    model.entries.forEach((e, i) => {
      total++;
      if (e.flags === null) return;
      compared++;
      assert.ok(
        sameFlags(e.flags, server[i]!.flags),
        `${c.name} (${model.mailbox}): UID ${e.uid} has ${showFlags(e.flags)} in the session's model, ` +
          `${showFlags(server[i]!.flags)} on the server: a flag change was lost (seed ${SEED})`,
      );
    });
  }
  const stats = sessions.map((c) => c.stats);
  const sum = (k: keyof ModelClient['stats']): number => stats.reduce((n, s) => n + s[k], 0);
  t.diagnostic(
    `seed ${SEED}; commands ${sum('commands')}; ${[...counts].map(([k, v]) => `${k} ${v}`).join(', ')}; ` +
      `flag updates from others ${sum('flagUpdates')}; EXPUNGE ${sum('expunges')}; EXISTS ${sum('exists')}; ` +
      `FLAGS ${sum('flagsAnnouncements')}; UIDs given ${ledger.count()}; flags compared ${compared} of ${total}`,
  );
  // The check is not vacuous: the workload did what it claims and many flags were compared
  // (about half of them usually: flags of messages that arrived after a session's last FETCH
  // are unknown to it until someone changes them).
  for (const what of ['APPEND', 'COPY', 'MOVE', 'EXPUNGE', 'UID EXPUNGE', 'IDLE', 'FETCH', 'NOOP']) {
    assert.ok((counts.get(what) ?? 0) > 0, `the workload ran ${what}`);
  }
  assert.ok(sum('flagUpdates') > 0 && sum('expunges') > 0, 'sessions heard of each other');
  assert.ok(compared >= total / 3, `flags compared for ${compared} of ${total} messages`);
});
