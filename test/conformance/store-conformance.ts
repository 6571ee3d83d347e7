// The backend-agnostic MailStore conformance suite: every backend must pass all of it.
// runStoreConformance(name, factory) registers the tests; `factory(dataDir)` opens the backend
// on a directory (calling it twice on one directory gives two instances sharing one store, as
// two processes would). Tests that need another process spawn fixtures/append-worker.js, which
// opens the backend by the same name (see backends.ts).

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { after, afterEach, before, describe, it } from 'node:test';
import { isStoreError } from '../../src/core/errors.js';
import { DEFAULT_LIMITS, type Limits } from '../../src/core/limits.js';
import { deliverLocal, messageBlobOptions } from '../../src/delivery/local.js';
import {
  DEFAULT_MAILBOXES,
  type AppendOutcome,
  type AppendTarget,
  type Change,
  type MailStore,
  type Mailbox,
  type OutboundEnvelope,
} from '../../src/store/types.js';
import type { BackendFactory, BackendName, ConformanceBackend } from './backends.js';
import type { WorkerArgs } from './fixtures/append-worker.js';
import { testMessage } from './messages.js';
import { prng } from '../helpers/prng.js';

const WORKER = fileURLToPath(new URL('./fixtures/append-worker.js', import.meta.url));

function sha256(buf: Uint8Array): string {
  return createHash('sha256').update(buf).digest('hex');
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function sortedFlags(flags: readonly string[]): string[] {
  return [...flags].sort();
}

function assertIncreasing(values: readonly number[], what: string): void {
  for (let i = 1; i < values.length; i++) {
    assert.ok(
      values[i]! > values[i - 1]!,
      `${what} not strictly increasing at ${i}: ${values[i - 1]} then ${values[i]}`,
    );
  }
}

function okOutcome(outcome: AppendOutcome | undefined): Extract<AppendOutcome, { ok: true }> {
  assert.ok(outcome !== undefined, 'missing outcome');
  if (!outcome.ok) assert.fail(`append failed: ${outcome.error.code} ${outcome.error.message}`);
  return outcome;
}

/** uid -> flags, as the change log describes the mailbox. */
function replay(changes: readonly Change[], start = new Map<number, string[]>()): Map<number, string[]> {
  const state = new Map(start);
  for (const change of changes) {
    if (change.kind === 'expunged') state.delete(change.uid);
    else state.set(change.uid, sortedFlags(change.flags));
  }
  return state;
}

async function stateOf(store: MailStore, mailboxId: number): Promise<Map<number, string[]>> {
  const state = new Map<number, string[]>();
  for (const m of await store.listMessages(mailboxId)) state.set(m.uid, sortedFlags(m.flags));
  return state;
}

async function countFiles(dir: string): Promise<number> {
  try {
    const entries = await fsp.readdir(dir, { withFileTypes: true, recursive: true });
    return entries.filter((e) => e.isFile()).length;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw err;
  }
}

interface WorkerRun {
  acks: Array<{ uid: number; index: number; at: number }>;
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
}

/** Runs the append worker; `onAck` may kill it. Resolves when the process has exited. */
function runWorker(
  args: WorkerArgs,
  onAck?: (count: number, kill: () => void) => void,
): { ready: Promise<void>; done: Promise<WorkerRun> } {
  const child = spawn(process.execPath, [WORKER, JSON.stringify(args)], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, STORE: args.backend },
  });
  const run: WorkerRun = { acks: [], code: null, signal: null, stderr: '' };
  let markReady: () => void = () => undefined;
  const ready = new Promise<void>((resolve) => {
    markReady = resolve;
  });
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (s: string) => {
    if (run.stderr.length < 20_000) run.stderr += s;
  });
  const lines = createInterface({ input: child.stdout });
  lines.on('line', (line) => {
    if (line === 'ready') {
      markReady();
      return;
    }
    const m = /^ack (\d+) (\d+)$/.exec(line);
    if (m === null) return;
    run.acks.push({ uid: Number(m[1]), index: Number(m[2]), at: Date.now() });
    onAck?.(run.acks.length, () => child.kill('SIGKILL'));
  });
  const done = new Promise<WorkerRun>((resolve, reject) => {
    child.on('error', reject);
    // 'close' waits for stdout to drain, so every ack the child wrote has been read.
    child.on('close', (code, signal) => {
      markReady();
      run.code = code;
      run.signal = signal;
      resolve(run);
    });
  });
  return { ready, done };
}

export function runStoreConformance(backendName: BackendName, factory: BackendFactory): void {
  void describe(`MailStore conformance (${backendName})`, () => {
    let root: string;
    let dirs = 0;
    let open: ConformanceBackend[] = [];

    before(async () => {
      root = await fsp.mkdtemp(path.join(os.tmpdir(), `postern-conformance-${backendName}-`));
    });
    afterEach(async () => {
      const closing = open;
      open = [];
      await Promise.allSettled(closing.map((b) => b.store.close()));
    });
    after(async () => {
      await fsp.rm(root, { recursive: true, force: true });
    });

    async function fresh(): Promise<{ dataDir: string; b: ConformanceBackend }> {
      const dataDir = path.join(root, `store-${++dirs}`);
      await fsp.mkdir(dataDir);
      return { dataDir, b: await openOn(dataDir) };
    }
    async function openOn(dataDir: string): Promise<ConformanceBackend> {
      const b = await factory(dataDir);
      open.push(b);
      return b;
    }
    async function closeOne(b: ConformanceBackend): Promise<void> {
      open = open.filter((x) => x !== b);
      await b.store.close();
    }

    async function account(store: MailStore, address: string, quotaBytes?: number) {
      const domain = address.slice(address.indexOf('@') + 1);
      if ((await store.getDomain(domain)) === null) await store.createDomain(domain);
      const acct = await store.createAccount({ address, passwordHash: 'x', quotaBytes });
      const inbox = await store.getMailbox(acct.id, 'INBOX');
      assert.ok(inbox !== null);
      return { acct, inbox };
    }

    function deliver(
      b: ConformanceBackend,
      targets: AppendTarget[] | number,
      source: Uint8Array | AsyncIterable<Uint8Array>,
      opts: { allOrNothing?: boolean; limits?: Limits } = {},
    ): Promise<AppendOutcome[]> {
      return deliverLocal({
        store: b.store,
        blobs: b.blobs,
        limits: opts.limits ?? DEFAULT_LIMITS,
        source,
        targets: typeof targets === 'number' ? [{ mailboxId: targets }] : targets,
        allOrNothing: opts.allOrNothing,
      });
    }

    async function mailbox(store: MailStore, id: number): Promise<Mailbox> {
      const mb = await store.getMailboxById(id);
      assert.ok(mb !== null, `mailbox ${id} exists`);
      return mb;
    }

    void describe('domains, accounts, aliases', () => {
      void it('creates, lists, finds and deletes domains', async () => {
        const { store } = (await fresh()).b;
        const d = await store.createDomain('example.org');
        assert.equal(d.name, 'example.org');
        assert.ok(d.createdAt instanceof Date);
        await store.createDomain('example.net');
        await assert.rejects(store.createDomain('example.org'), (e) => isStoreError(e, 'ALREADY_EXISTS'));
        assert.deepEqual((await store.listDomains()).map((x) => x.name).sort(), [
          'example.net',
          'example.org',
        ]);
        assert.equal((await store.getDomain('example.org'))?.id, d.id);
        assert.equal(await store.getDomain('nowhere.test'), null);
        await store.createAccount({ address: 'a@example.org', passwordHash: 'h' });
        await assert.rejects(store.deleteDomain('example.org'), (e) => isStoreError(e, 'HAS_CHILDREN'));
        await store.deleteDomain('example.net');
        await store.deleteAccount('a@example.org');
        await store.deleteDomain('example.org');
        assert.deepEqual(await store.listDomains(), []);
      });

      void it('creates accounts with the default mailboxes, subscribed, and updates them', async () => {
        const { store } = (await fresh()).b;
        await assert.rejects(store.createAccount({ address: 'a@missing.test', passwordHash: 'h' }), (e) =>
          isStoreError(e, 'NOT_FOUND'),
        );
        const dom = await store.createDomain('example.org');
        const acct = await store.createAccount({
          address: 'Alice@Example.ORG',
          passwordHash: 'h1',
          quotaBytes: 1000,
        });
        assert.equal(acct.address, 'alice@example.org');
        assert.equal(acct.domainId, dom.id);
        assert.equal(acct.quotaBytes, 1000);
        assert.equal(acct.usedBytes, 0);
        assert.equal(acct.state, 'active');
        await assert.rejects(store.createAccount({ address: 'alice@example.org', passwordHash: 'h' }), (e) =>
          isStoreError(e, 'ALREADY_EXISTS'),
        );
        const boxes = await store.listMailboxes(acct.id);
        assert.deepEqual(
          boxes.map((m) => [m.name, m.specialUse]).sort(),
          DEFAULT_MAILBOXES.map((m) => [m.name, m.specialUse]).sort(),
        );
        for (const m of boxes) {
          assert.equal(m.accountId, acct.id);
          assert.equal(m.messages, 0);
          assert.ok(m.uidValidity > 0);
          assert.ok(m.uidNext >= 1);
        }
        assert.deepEqual(
          (await store.listSubscriptions(acct.id)).sort(),
          DEFAULT_MAILBOXES.map((m) => m.name).sort(),
        );
        await store.setPasswordHash('alice@example.org', 'h2');
        await store.setQuota('alice@example.org', 5000);
        const again = await store.getAccount('alice@example.org');
        assert.equal(again?.passwordHash, 'h2');
        assert.equal(again?.quotaBytes, 5000);
        assert.equal((await store.getAccountById(acct.id))?.address, 'alice@example.org');
        await store.createDomain('example.net');
        await store.createAccount({ address: 'bob@example.net', passwordHash: 'h' });
        assert.deepEqual(
          (await store.listAccounts('example.org')).map((a) => a.address),
          ['alice@example.org'],
        );
        assert.equal((await store.listAccounts()).length, 2);
        await store.deleteAccount('alice@example.org');
        assert.equal(await store.getAccount('alice@example.org'), null);
        assert.equal(await store.getAccountById(acct.id), null);
        assert.deepEqual(await store.listMailboxes(acct.id), []);
      });

      void it('resolves recipients: account, alias chains, sub-address, catch-all, remote, unknown', async () => {
        const { store } = (await fresh()).b;
        await store.createDomain('example.org');
        await store.createDomain('other.org');
        const alice = await store.createAccount({ address: 'alice@example.org', passwordHash: 'h' });
        const bob = await store.createAccount({ address: 'bob@other.org', passwordHash: 'h' });
        const local = (a: { id: number; address: string }) => ({
          kind: 'local',
          accountId: a.id,
          address: a.address,
          mailbox: 'INBOX',
        });
        assert.deepEqual(await store.resolveRecipient('alice@example.org'), [local(alice)]);
        assert.deepEqual(await store.resolveRecipient('ALICE@Example.Org'), [local(alice)]);
        assert.deepEqual(await store.resolveRecipient('alice+lists@example.org'), [local(alice)]);
        assert.deepEqual(await store.resolveRecipient('nobody@example.org'), []);
        assert.deepEqual(await store.resolveRecipient('someone@remote.test'), [
          { kind: 'remote', address: 'someone@remote.test' },
        ]);

        await store.addAlias({ source: 'postmaster@example.org', destination: 'alice@example.org' });
        await store.addAlias({ source: 'info@example.org', destination: 'postmaster@example.org' });
        await store.addAlias({ source: 'team@example.org', destination: 'alice@example.org' });
        await store.addAlias({ source: 'team@example.org', destination: 'bob@other.org' });
        await store.addAlias({ source: 'ext@example.org', destination: 'friend@remote.test' });
        assert.deepEqual(await store.resolveRecipient('postmaster@example.org'), [local(alice)]);
        assert.deepEqual(await store.resolveRecipient('info@example.org'), [local(alice)], 'alias chain');
        const team = await store.resolveRecipient('team@example.org');
        assert.deepEqual(
          team.map((r) => (r.kind === 'local' ? r.accountId : -1)).sort((x, y) => x - y),
          [alice.id, bob.id].sort((x, y) => x - y),
        );
        assert.deepEqual(await store.resolveRecipient('ext@example.org'), [
          { kind: 'remote', address: 'friend@remote.test' },
        ]);
        // Aliases that loop must terminate.
        await store.addAlias({ source: 'loop1@example.org', destination: 'loop2@example.org' });
        await store.addAlias({ source: 'loop2@example.org', destination: 'loop1@example.org' });
        assert.ok(Array.isArray(await store.resolveRecipient('loop1@example.org')));

        assert.deepEqual(await store.resolveRecipient('nobody@other.org'), []);
        await store.addAlias({ source: '@other.org', destination: 'bob@other.org' });
        assert.deepEqual(await store.resolveRecipient('nobody@other.org'), [local(bob)], 'catch-all');
        assert.deepEqual(
          await store.resolveRecipient('nobody@other.org', { catchAll: false }),
          [],
          'explicit rows only',
        );
        assert.deepEqual(await store.resolveRecipient('bob+tag@other.org', { catchAll: false }), [
          local(bob),
        ]);
        assert.deepEqual(await store.resolveRecipient('bob@other.org'), [local(bob)]);

        const aliases = await store.listAliases('example.org');
        assert.ok(
          aliases.some((a) => a.source === 'info@example.org' && a.destination === 'postmaster@example.org'),
        );
        assert.ok(aliases.every((a) => a.source.endsWith('@example.org')));
        await store.deleteAlias('postmaster@example.org');
        assert.deepEqual(await store.resolveRecipient('postmaster@example.org'), []);
        await store.deleteAlias('@other.org');
        assert.deepEqual(await store.resolveRecipient('nobody@other.org'), []);
      });
    });

    void describe('mailboxes', () => {
      void it('creates, finds, renames with children, deletes and subscribes', async () => {
        const { b } = await fresh();
        const { store } = b;
        const { acct, inbox } = await account(store, 'm@example.org');
        assert.equal((await store.getMailbox(acct.id, 'inbox'))?.id, inbox.id, 'INBOX in any case');
        assert.equal((await store.getMailbox(acct.id, 'InBoX'))?.name, 'INBOX');
        const projects = await store.createMailbox(acct.id, 'Projects');
        await store.createMailbox(acct.id, 'Projects/2024');
        const flagged = await store.createMailbox(acct.id, 'Starred', { specialUse: '\\Flagged' });
        assert.equal(flagged.specialUse, '\\Flagged');
        assert.equal(projects.name, 'Projects');
        await assert.rejects(store.createMailbox(acct.id, 'Projects'), (e) =>
          isStoreError(e, 'ALREADY_EXISTS'),
        );
        assert.equal((await store.getMailboxById(projects.id))?.name, 'Projects');
        assert.equal(
          await store.getMailbox(acct.id, 'projects'),
          null,
          'names other than INBOX are case-sensitive',
        );

        await deliver(b, projects.id, testMessage('mbox', 1));
        await store.renameMailbox(acct.id, 'Projects', 'Work');
        const names = (await store.listMailboxes(acct.id)).map((m) => m.name);
        assert.ok(
          names.includes('Work') && names.includes('Work/2024'),
          `children follow: ${names.join(',')}`,
        );
        assert.ok(!names.includes('Projects') && !names.includes('Projects/2024'));
        const work = await store.getMailbox(acct.id, 'Work');
        assert.equal(work?.messages, 1, 'messages follow the rename');
        await assert.rejects(store.renameMailbox(acct.id, 'Work', 'Sent'), (e) =>
          isStoreError(e, 'ALREADY_EXISTS'),
        );
        await assert.rejects(store.renameMailbox(acct.id, 'Nope', 'Nope2'), (e) =>
          isStoreError(e, 'NOT_FOUND'),
        );

        await assert.rejects(store.deleteMailbox(acct.id, 'INBOX'), (e) =>
          isStoreError(e, 'CANNOT_DELETE_INBOX'),
        );
        await assert.rejects(store.deleteMailbox(acct.id, 'Nope'), (e) => isStoreError(e, 'NOT_FOUND'));
        await store.deleteMailbox(acct.id, 'Work/2024');
        assert.equal(await store.getMailbox(acct.id, 'Work/2024'), null);

        await store.subscribe(acct.id, 'Work');
        assert.ok((await store.listSubscriptions(acct.id)).includes('Work'));
        await store.unsubscribe(acct.id, 'Work');
        assert.ok(!(await store.listSubscriptions(acct.id)).includes('Work'));
        await store.unsubscribe(acct.id, 'Drafts');
        assert.ok(!(await store.listSubscriptions(acct.id)).includes('Drafts'));
      });

      void it('renaming INBOX moves its messages and leaves an empty INBOX', async () => {
        const { b } = await fresh();
        const { store } = b;
        const { acct, inbox } = await account(store, 'r@example.org');
        await deliver(b, inbox.id, testMessage('inbox', 1));
        await deliver(b, inbox.id, testMessage('inbox', 2));
        await store.renameMailbox(acct.id, 'INBOX', 'Old');
        const old = await store.getMailbox(acct.id, 'Old');
        assert.equal(old?.messages, 2);
        assert.equal((await store.listMessages(old.id)).length, 2);
        const newInbox = await store.getMailbox(acct.id, 'INBOX');
        assert.ok(newInbox !== null);
        assert.equal(newInbox.messages, 0);
        assert.deepEqual(await store.listMessages(newInbox.id), []);
      });
    });

    void describe('messages', () => {
      void it('UIDs strictly increase and are never reused; a recreated mailbox gets a new UIDVALIDITY', async () => {
        const { dataDir, b } = await fresh();
        const { acct, inbox } = await account(b.store, 'u@example.org');
        const uids: number[] = [];
        for (let i = 0; i < 5; i++)
          uids.push(okOutcome((await deliver(b, inbox.id, testMessage('uid', i)))[0]).uid);
        assertIncreasing(uids, 'uids');
        assert.ok(uids[0]! >= 1);
        assert.deepEqual(await b.store.expunge(inbox.id, { uids: [uids[4]!] }), [uids[4]]);
        uids.push(okOutcome((await deliver(b, inbox.id, testMessage('uid', 5)))[0]).uid);
        assertIncreasing(uids, 'uids after expunging the highest');
        assert.deepEqual(
          (await b.store.expunge(inbox.id, { uids: uids.slice() })).sort((x, y) => x - y),
          [uids[0], uids[1], uids[2], uids[3], uids[5]],
        );
        uids.push(okOutcome((await deliver(b, inbox.id, testMessage('uid', 6)))[0]).uid);
        assertIncreasing(uids, 'uids after expunging everything');
        assert.ok((await mailbox(b.store, inbox.id)).uidNext > uids.at(-1)!);

        // Reopening keeps the counters.
        await closeOne(b);
        const b2 = await openOn(dataDir);
        uids.push(okOutcome((await deliver(b2, inbox.id, testMessage('uid', 7)))[0]).uid);
        assertIncreasing(uids, 'uids after reopening');

        const work = await b2.store.createMailbox(acct.id, 'Work');
        const workUid = okOutcome((await deliver(b2, work.id, testMessage('work', 1)))[0]);
        assert.equal(workUid.uidValidity, work.uidValidity);
        await b2.store.deleteMailbox(acct.id, 'Work');
        const again = await b2.store.createMailbox(acct.id, 'Work');
        assert.notEqual(again.uidValidity, work.uidValidity, 'UIDVALIDITY changes when a name is reused');
        assert.deepEqual(await b2.store.listMessages(again.id), []);
      });

      void it('modseq increases with every append, flag change, expunge, copy and move', async () => {
        const { b } = await fresh();
        const { store } = b;
        const { acct, inbox } = await account(store, 'ms@example.org');
        const other = await store.createMailbox(acct.id, 'Other');
        let last = (await mailbox(store, inbox.id)).highestModseq;
        let lastOther = (await mailbox(store, other.id)).highestModseq;
        const bump = async (what: string, mailboxId = inbox.id): Promise<void> => {
          const now = (await mailbox(store, mailboxId)).highestModseq;
          const prev = mailboxId === inbox.id ? last : lastOther;
          assert.ok(now > prev, `${what}: HIGHESTMODSEQ ${prev} -> ${now}`);
          if (mailboxId === inbox.id) last = now;
          else lastOther = now;
        };
        const a1 = okOutcome((await deliver(b, inbox.id, testMessage('ms', 1)))[0]);
        assert.ok(a1.modseq > 0);
        await bump('append');
        assert.equal(a1.modseq, last);
        const a2 = okOutcome((await deliver(b, inbox.id, testMessage('ms', 2)))[0]);
        assert.ok(a2.modseq > a1.modseq);
        await bump('append');
        const fl = await store.updateFlags(inbox.id, [a1.uid], { mode: 'add', flags: ['\\Seen'] });
        assert.equal(fl.changed.length, 1);
        assert.ok(fl.changed[0]!.modseq > a2.modseq);
        await bump('flags');
        const meta = await store.listMessages(inbox.id, { uids: [a1.uid] });
        assert.equal(meta[0]?.modseq, fl.changed[0]!.modseq, 'message modseq is that of its last change');
        assert.deepEqual(await store.expunge(inbox.id, { uids: [a2.uid] }), [a2.uid]);
        await bump('expunge');
        const a3 = okOutcome((await deliver(b, inbox.id, testMessage('ms', 3)))[0]);
        await bump('append');
        await store.copy(inbox.id, [a1.uid], other.id);
        await bump('copy destination', other.id);
        await store.move(inbox.id, [a3.uid], other.id);
        await bump('move source');
        await bump('move destination', other.id);
        const changes = await store.changesSince(inbox.id, 0);
        assertIncreasing(
          changes.map((c) => c.modseq).filter((m, i, all) => i === 0 || m !== all[i - 1]),
          'change-log modseqs',
        );
        assert.ok(changes.every((c, i) => i === 0 || c.modseq >= changes[i - 1]!.modseq));
        assert.equal(changes.at(-1)?.modseq, last);
      });

      void it('flags: system flags normalised, keywords kept, \\Recent never stored, CONDSTORE', async () => {
        const { b } = await fresh();
        const { store } = b;
        const { inbox } = await account(store, 'f@example.org');
        const internalDate = new Date('2023-05-06T07:08:09Z');
        const [o1] = await deliver(
          b,
          [{ mailboxId: inbox.id, flags: ['\\seen', '$Important', '\\Recent'], internalDate }],
          testMessage('flags', 1),
        );
        const u1 = okOutcome(o1).uid;
        const u2 = okOutcome((await deliver(b, inbox.id, testMessage('flags', 2)))[0]).uid;
        const [m1, m2] = await store.listMessages(inbox.id);
        assert.deepEqual(sortedFlags(m1!.flags), ['$Important', '\\Seen']);
        assert.equal(m1!.internalDate.getTime(), internalDate.getTime());
        assert.deepEqual(m2!.flags, []);
        let mb = await mailbox(store, inbox.id);
        assert.equal(mb.messages, 2);
        assert.equal(mb.unseen, 1);
        assert.equal(mb.deleted, 0);
        assert.equal(mb.size, m1!.size + m2!.size);

        const added = await store.updateFlags(inbox.id, [u1, u2], {
          mode: 'add',
          flags: ['\\FLAGGED', 'work'],
        });
        assert.deepEqual(added.changed.map((c) => c.uid).sort(), [u1, u2].sort());
        assert.deepEqual(sortedFlags(added.changed.find((c) => c.uid === u2)!.flags), ['\\Flagged', 'work']);
        const noop = await store.updateFlags(inbox.id, [u1], { mode: 'add', flags: ['\\Seen'] });
        assert.deepEqual(noop.changed, [], 'nothing changed, nothing reported');
        const removed = await store.updateFlags(inbox.id, [u1], {
          mode: 'remove',
          flags: ['\\Seen', 'work'],
        });
        assert.deepEqual(sortedFlags(removed.changed[0]!.flags), ['$Important', '\\Flagged']);
        const replaced = await store.updateFlags(inbox.id, [u2], {
          mode: 'replace',
          flags: ['\\Deleted', '\\Seen'],
        });
        assert.deepEqual(sortedFlags(replaced.changed[0]!.flags), ['\\Deleted', '\\Seen']);
        mb = await mailbox(store, inbox.id);
        assert.equal(mb.unseen, 1);
        assert.equal(mb.deleted, 1);

        await assert.rejects(store.updateFlags(inbox.id, [u1], { mode: 'add', flags: ['bad flag'] }), (e) =>
          isStoreError(e, 'INVALID_ARGUMENT'),
        );
        await assert.rejects(store.updateFlags(inbox.id, [u1], { mode: 'add', flags: ['x(y'] }), (e) =>
          isStoreError(e, 'INVALID_ARGUMENT'),
        );
        const recent = await store.updateFlags(inbox.id, [u1], { mode: 'add', flags: ['\\Recent'] });
        assert.deepEqual(recent.changed, []);
        assert.ok(!(await store.listMessages(inbox.id))[0]!.flags.includes('\\Recent'));

        // RFC 7162 §3.1.3: UNCHANGEDSINCE refuses messages modified after the given modseq.
        const [cur1, cur2] = await store.listMessages(inbox.id);
        const since = Math.min(cur1!.modseq, cur2!.modseq);
        const newer = cur1!.modseq > cur2!.modseq ? cur1! : cur2!;
        const older = newer === cur1 ? cur2! : cur1!;
        assert.ok(newer.modseq > older.modseq);
        const cond = await store.updateFlags(inbox.id, [u1, u2], {
          mode: 'add',
          flags: ['$Answered2'],
          unchangedSince: since,
        });
        assert.deepEqual(cond.modified, [newer.uid]);
        assert.deepEqual(
          cond.changed.map((c) => c.uid),
          [older.uid],
        );
      });

      void it('lists by UID set and minimum UID, and keeps the MIME record', async () => {
        const { b } = await fresh();
        const { store } = b;
        const { inbox } = await account(store, 'l@example.org');
        const uids: number[] = [];
        for (let i = 0; i < 6; i++)
          uids.push(okOutcome((await deliver(b, inbox.id, testMessage('list', i)))[0]).uid);
        const all = await store.listMessages(inbox.id);
        assert.deepEqual(
          all.map((m) => m.uid),
          uids,
        );
        assert.deepEqual(
          (await store.listMessages(inbox.id, { uids: [uids[4]!, uids[1]!, 999_999] })).map((m) => m.uid),
          [uids[1], uids[4]],
        );
        assert.deepEqual(
          (await store.listMessages(inbox.id, { minUid: uids[3] })).map((m) => m.uid),
          uids.slice(3),
        );
        assert.equal(await store.hasMessage(inbox.id, uids[2]!), true);
        assert.equal(await store.hasMessage(inbox.id, 999_999), false);
        assert.equal(await store.hasMessage(inbox.id + 1000, uids[2]!), false, 'no such mailbox');
        const bytes = testMessage('list', 2);
        const meta = all[2]!;
        assert.equal(meta.size, bytes.length);
        assert.equal(meta.blobId, sha256(bytes));
        assert.equal(meta.mailboxId, inbox.id);
        assert.ok((await b.blobs.readAll(meta.blobId)).equals(bytes));
        const stored = await b.blobs.write(bytes, {
          maxSize: DEFAULT_LIMITS.messageSize,
          mimeLimits: { mimeDepth: 32, mimeParts: 2000, headerSize: 256 * 1024 },
        });
        assert.deepEqual(await store.getMime(meta.blobId), JSON.parse(JSON.stringify(stored.mime)));
      });

      void it('expunges \\Deleted messages or given UIDs, copies and moves with flags and dates', async () => {
        const { b } = await fresh();
        const { store } = b;
        const { acct, inbox } = await account(store, 'e@example.org');
        const arch = (await store.getMailbox(acct.id, 'Archive'))!;
        const date = new Date('2022-02-03T04:05:06Z');
        const uids: number[] = [];
        for (let i = 0; i < 5; i++) {
          const targets = [
            { mailboxId: inbox.id, flags: i % 2 === 0 ? ['\\Deleted'] : ['\\Seen'], internalDate: date },
          ];
          uids.push(okOutcome((await deliver(b, targets, testMessage('exp', i)))[0]).uid);
        }
        // RFC 9051 §6.4.3: UID EXPUNGE removes only those UIDs that are also \Deleted.
        assert.deepEqual(await store.expunge(inbox.id, { uids: [uids[0]!, uids[1]!], onlyDeleted: true }), [
          uids[0],
        ]);
        assert.deepEqual(
          (await store.expunge(inbox.id)).sort((x, y) => x - y),
          [uids[2], uids[4]],
        );
        assert.deepEqual(
          (await store.listMessages(inbox.id)).map((m) => m.uid),
          [uids[1], uids[3]],
        );
        assert.equal(await store.hasMessage(inbox.id, uids[0]!), false, 'expunged');
        assert.equal(await store.hasMessage(inbox.id, uids[1]!), true);
        assert.deepEqual(await store.expunge(inbox.id), []);

        const copied = await store.copy(inbox.id, [uids[3]!, uids[1]!], arch.id);
        assert.equal(copied.uidValidity, arch.uidValidity);
        assert.deepEqual(
          copied.mapping.map(([src]) => src),
          [uids[1], uids[3]],
        );
        assertIncreasing(
          copied.mapping.map(([, dst]) => dst),
          'destination uids',
        );
        const inArch = await store.listMessages(arch.id);
        assert.equal(inArch.length, 2);
        for (const m of inArch) {
          assert.deepEqual(m.flags, ['\\Seen']);
          assert.equal(m.internalDate.getTime(), date.getTime());
        }
        assert.equal((await store.listMessages(inbox.id)).length, 2, 'copy keeps the source');
        assert.equal(
          (await store.getAccountById(acct.id))?.usedBytes,
          inArch[0]!.size * 2 + inArch[1]!.size * 2,
        );

        const moved = await store.move(inbox.id, [uids[1]!], arch.id);
        assert.equal(moved.mapping.length, 1);
        assert.deepEqual(
          (await store.listMessages(inbox.id)).map((m) => m.uid),
          [uids[3]],
        );
        assert.equal((await store.listMessages(arch.id)).length, 3);
        assert.ok(
          (await store.changesSince(inbox.id, 0)).some((c) => c.kind === 'expunged' && c.uid === uids[1]),
          'move logs an expunge in the source',
        );
        const archChanges = await store.changesSince(arch.id, 0);
        assert.ok(archChanges.some((c) => c.kind === 'added' && c.uid === moved.mapping[0]![1]));
        const movedMeta = (await store.listMessages(arch.id, { uids: [moved.mapping[0]![1]] }))[0]!;
        assert.ok((await b.blobs.readAll(movedMeta.blobId)).equals(testMessage('exp', 1)));
        assert.equal((await mailbox(store, inbox.id)).messages, 1);
        assert.equal((await mailbox(store, arch.id)).messages, 3);
      });

      void it('expungedSince is exact within the retention; pruning raises the floor and keeps adds and flags', async () => {
        const { b } = await fresh();
        const { store } = b;
        const { inbox } = await account(store, 'prune@example.org');
        const uids: number[] = [];
        for (let i = 0; i < 6; i++) {
          uids.push(okOutcome((await deliver(b, [{ mailboxId: inbox.id }], testMessage('prune', i)))[0]).uid);
        }
        const start = (await mailbox(store, inbox.id)).highestModseq;
        await store.expunge(inbox.id, { uids: [uids[0]!, uids[1]!] });
        const afterFirst = (await mailbox(store, inbox.id)).highestModseq;
        assert.deepEqual(await store.expungedSince(inbox.id, start), {
          uids: [uids[0], uids[1]],
          complete: true,
        });
        // The default retention keeps everything.
        assert.equal((await store.collectGarbage()).changeRowsPruned, 0);
        assert.equal((await store.expungedSince(inbox.id, 0)).complete, true);
        // Retention 0 prunes every expunge clocked so far; later ones stay exact.
        assert.equal((await store.collectGarbage({ changeLogRetentionMs: 0 })).changeRowsPruned, 2);
        await store.updateFlags(inbox.id, [uids[2]!], { mode: 'add', flags: ['\\Seen'] });
        await store.expunge(inbox.id, { uids: [uids[3]!] });
        assert.deepEqual(await store.expungedSince(inbox.id, start), { uids: [uids[3]], complete: false });
        assert.deepEqual(await store.expungedSince(inbox.id, afterFirst), {
          uids: [uids[3]],
          complete: true,
        });
        const changes = await store.changesSince(inbox.id, 0);
        assert.deepEqual(
          changes.filter((c) => c.kind === 'added').map((c) => c.uid),
          [uids[2], uids[3], uids[4], uids[5]],
          'the added rows of pruned expunges go with them',
        );
        assert.ok(changes.some((c) => c.kind === 'flags' && c.uid === uids[2]));
        // Idempotent: nothing new to prune.
        assert.equal((await store.collectGarbage({ changeLogRetentionMs: 0 })).changeRowsPruned, 1);
        assert.equal((await store.collectGarbage({ changeLogRetentionMs: 0 })).changeRowsPruned, 0);
        assert.deepEqual(
          (await store.changesSince(inbox.id, 0)).filter((c) => c.kind === 'added').map((c) => c.uid),
          [uids[2], uids[4], uids[5]],
        );
      });

      void it('replaying the change log reconstructs exactly the listed state (seeded random operations)', async () => {
        const { b } = await fresh();
        const { store } = b;
        const { acct, inbox } = await account(store, 'log@example.org');
        const other = await store.createMailbox(acct.id, 'Other');
        const rand = prng(20240601);
        const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
        const subset = <T>(xs: readonly T[]): T[] => xs.filter(() => rand() < 0.3);
        const pool = [
          '\\Seen',
          '\\Flagged',
          '\\Answered',
          '\\Deleted',
          '\\Draft',
          '$Label1',
          '$Junk',
          'work',
        ];
        const model = new Map<number, Map<number, Set<string>>>([
          [inbox.id, new Map()],
          [other.id, new Map()],
        ]);
        const uidsOf = (id: number): number[] => [...model.get(id)!.keys()];
        let n = 0;
        let checkpoint: { modseq: number; state: Map<number, string[]> } | null = null;
        for (let step = 0; step < 160; step++) {
          const box = rand() < 0.75 ? inbox.id : other.id;
          const dest = box === inbox.id ? other.id : inbox.id;
          const r = rand();
          if (r < 0.3 || uidsOf(box).length === 0) {
            const flags = subset(pool);
            const o = okOutcome((await deliver(b, [{ mailboxId: box, flags }], testMessage('log', n++)))[0]);
            model.get(box)!.set(o.uid, new Set(flags));
          } else if (r < 0.6) {
            const uids = subset(uidsOf(box));
            const mode = pick(['add', 'remove', 'replace'] as const);
            const flags = subset(pool);
            const res = await store.updateFlags(box, uids, { mode, flags });
            for (const uid of uids) {
              const cur = model.get(box)!.get(uid)!;
              const next = mode === 'replace' ? new Set(flags) : new Set(cur);
              if (mode === 'add') for (const f of flags) next.add(f);
              if (mode === 'remove') for (const f of flags) next.delete(f);
              const changed = next.size !== cur.size || [...next].some((f) => !cur.has(f));
              model.get(box)!.set(uid, next);
              const reported = res.changed.find((c) => c.uid === uid);
              assert.equal(
                reported !== undefined,
                changed,
                `step ${step}: change of ${uid} reported iff it changed`,
              );
            }
          } else if (r < 0.7) {
            const uids = subset(uidsOf(box));
            const gone = await store.expunge(box, { uids });
            assert.deepEqual(
              [...gone].sort((x, y) => x - y),
              uids,
            );
            for (const uid of uids) model.get(box)!.delete(uid);
          } else if (r < 0.78) {
            const deleted = uidsOf(box).filter((u) => model.get(box)!.get(u)!.has('\\Deleted'));
            const gone = await store.expunge(box);
            assert.deepEqual(
              [...gone].sort((x, y) => x - y),
              deleted,
            );
            for (const uid of deleted) model.get(box)!.delete(uid);
          } else {
            const uids = subset(uidsOf(box));
            if (uids.length === 0) continue;
            const isMove = rand() < 0.5;
            const res = isMove ? await store.move(box, uids, dest) : await store.copy(box, uids, dest);
            assert.deepEqual(
              res.mapping.map(([s]) => s),
              uids,
            );
            for (const [src, dst] of res.mapping) {
              model.get(dest)!.set(dst, new Set(model.get(box)!.get(src)!));
              if (isMove) model.get(box)!.delete(src);
            }
          }
          if (step === 80) {
            checkpoint = {
              modseq: (await mailbox(store, inbox.id)).highestModseq,
              state: await stateOf(store, inbox.id),
            };
          }
        }
        for (const id of [inbox.id, other.id]) {
          const listed = await stateOf(store, id);
          const expected = new Map([...model.get(id)!].map(([uid, flags]) => [uid, sortedFlags([...flags])]));
          assert.deepEqual(listed, expected, 'listMessages matches the operations');
          const changes = await store.changesSince(id, 0);
          assert.deepEqual(replay(changes), listed, 'the change log from 0 rebuilds the mailbox');
          for (let i = 1; i < changes.length; i++) assert.ok(changes[i]!.modseq >= changes[i - 1]!.modseq);
          // A message's modseq is that of the last change that touched it.
          const lastChange = new Map<number, number>();
          for (const c of changes) lastChange.set(c.uid, c.modseq);
          for (const m of await store.listMessages(id))
            assert.equal(m.modseq, lastChange.get(m.uid), `modseq of ${m.uid}`);
          const mb = await mailbox(store, id);
          assert.equal(mb.messages, listed.size);
          assert.equal(mb.highestModseq, Math.max(0, ...changes.map((c) => c.modseq)));
        }
        // A session catching up from a checkpoint reaches the same state.
        assert.ok(checkpoint !== null);
        const caughtUp = replay(await store.changesSince(inbox.id, checkpoint.modseq), checkpoint.state);
        assert.deepEqual(caughtUp, await stateOf(store, inbox.id));
        assert.ok(
          (await store.changesSince(inbox.id, checkpoint.modseq)).every((c) => c.modseq > checkpoint.modseq),
        );
      });
    });

    void describe('delivery', () => {
      void it('stores exactly the given bytes, refuses oversized messages, honours allOrNothing', async () => {
        const { b } = await fresh();
        const { store } = b;
        const { acct, inbox } = await account(store, 'd@example.org');
        const sent = (await store.getMailbox(acct.id, 'Sent'))!;
        const bytes = testMessage('deliver', 1, 5000);
        async function* pieces(): AsyncGenerator<Uint8Array> {
          for (let i = 0; i < bytes.length; i += 333) yield bytes.subarray(i, i + 333);
        }
        const [o] = await deliver(b, inbox.id, pieces());
        const meta = (await store.listMessages(inbox.id, { uids: [okOutcome(o).uid] }))[0]!;
        assert.ok((await b.blobs.readAll(meta.blobId)).equals(bytes));

        const small: Limits = { ...DEFAULT_LIMITS, messageSize: 1000 };
        await assert.rejects(deliver(b, inbox.id, bytes, { limits: small }), (e) =>
          isStoreError(e, 'TOO_LARGE'),
        );
        await assert.rejects(deliver(b, inbox.id, pieces(), { limits: small }), (e) =>
          isStoreError(e, 'TOO_LARGE'),
        );
        await assert.rejects(deliver(b, [], bytes), (e) => isStoreError(e, 'INVALID_ARGUMENT'));
        assert.equal((await mailbox(store, inbox.id)).messages, 1);

        const missing = 987_654_321;
        const all = await deliver(
          b,
          [{ mailboxId: sent.id }, { mailboxId: missing }],
          testMessage('deliver', 2),
          {
            allOrNothing: true,
          },
        );
        assert.equal(all.length, 2);
        assert.ok(all.every((x) => !x.ok));
        assert.equal(all[1]!.mailboxId, missing);
        assert.equal((await mailbox(store, sent.id)).messages, 0, 'all or nothing');
        const some = await deliver(
          b,
          [{ mailboxId: sent.id }, { mailboxId: missing }],
          testMessage('deliver', 3),
        );
        assert.equal(some[0]!.ok, true);
        assert.equal(some[0]!.mailboxId, sent.id);
        assert.equal(some[1]!.ok, false);
        if (!some[1]!.ok) assert.equal(some[1]!.error.code, 'NOT_FOUND');
        assert.equal((await mailbox(store, sent.id)).messages, 1);
      });

      for (const kind of ['inline', 'file'] as const) {
        void it(`one message (${kind}) to 100 accounts is stored once and collected only after the last reference goes`, async () => {
          const { dataDir, b } = await fresh();
          const { store } = b;
          // A message small enough for the backend's table, or one that needs a file.
          const size = kind === 'inline' ? 3000 : Math.max(3000, b.inlineMaxBytes + 1);
          const files = kind === 'file' || b.inlineMaxBytes < size ? 1 : 0;
          await store.createDomain('dedupe.test');
          const targets: AppendTarget[] = [];
          for (let i = 0; i < 100; i++) {
            const acct = await store.createAccount({ address: `user${i}@dedupe.test`, passwordHash: 'x' });
            targets.push({ mailboxId: (await store.getMailbox(acct.id, 'INBOX'))!.id });
          }
          const bytes = testMessage('dedupe', 1, size);
          const outcomes = await deliver(b, targets, bytes);
          assert.equal(outcomes.filter((o) => o.ok).length, 100);
          const blobId = sha256(bytes);
          const blobDir = path.join(dataDir, 'blobs');
          assert.equal(await countFiles(blobDir), files, 'stored once');
          if (b.blobRefcount !== undefined) assert.equal(await b.blobRefcount(blobId), 100);
          // Delivering the same bytes again (a second copy for the last user) adds a reference, not a copy.
          const again = await deliver(b, targets[99]!.mailboxId, bytes);
          okOutcome(again[0]);
          assert.equal(await countFiles(blobDir), files);
          if (b.blobRefcount !== undefined) assert.equal(await b.blobRefcount(blobId), 101);

          for (let i = 0; i < 99; i++) await store.deleteAccount(`user${i}@dedupe.test`);
          if (b.blobRefcount !== undefined) assert.equal(await b.blobRefcount(blobId), 2);
          await sleep(20);
          assert.equal((await store.collectGarbage()).blobsRemoved, 0);
          assert.equal(await b.blobs.exists(blobId), true);
          assert.equal(await countFiles(blobDir), files);
          assert.ok((await b.blobs.readAll(blobId)).equals(bytes));

          await store.deleteAccount('user99@dedupe.test');
          await sleep(20);
          const gc = await store.collectGarbage();
          assert.equal(gc.blobsRemoved, 1);
          assert.equal(gc.bytesFreed, bytes.length);
          assert.equal(await b.blobs.exists(blobId), false);
          await assert.rejects(b.blobs.readAll(blobId), (e) => isStoreError(e, 'NOT_FOUND'));
          assert.equal(await countFiles(blobDir), 0);
          assert.deepEqual(await store.collectGarbage(), {
            blobsRemoved: 0,
            bytesFreed: 0,
            orphanFilesRemoved: 0,
            orphanBytesFreed: 0,
            changeRowsPruned: 0,
          });
        });
      }

      void it('concurrent deliveries through two store instances never push an account over quota', async () => {
        const { dataDir, b } = await fresh();
        const b2 = await openOn(dataDir);
        const size = testMessage('quota', 0, 1000).length;
        const quota = size * 10 + Math.floor(size / 2);
        const { acct, inbox } = await account(b.store, 'q@example.org', quota);
        const sends: Array<Promise<AppendOutcome[]>> = [];
        for (let i = 0; i < 40; i++) {
          // Same size, different bytes.
          const msg = testMessage('quota', i, 1000);
          assert.equal(msg.length, size);
          sends.push(deliver(i % 2 === 0 ? b : b2, inbox.id, msg));
        }
        const outcomes = (await Promise.all(sends)).map((o) => o[0]!);
        const ok = outcomes.filter((o) => o.ok).length;
        for (const o of outcomes) if (!o.ok) assert.equal(o.error.code, 'OVER_QUOTA');
        assert.equal(ok, 10, 'exactly as many as fit');
        const used = (await b.store.getAccountById(acct.id))!.usedBytes;
        assert.ok(used <= quota, `usedBytes ${used} <= quota ${quota}`);
        assert.equal(used, ok * size);
        assert.equal((await mailbox(b.store, inbox.id)).size, used);
        const arch = (await b.store.getMailbox(acct.id, 'Archive'))!;
        const first = (await b.store.listMessages(inbox.id))[0]!;
        await assert.rejects(b.store.copy(inbox.id, [first.uid], arch.id), (e) =>
          isStoreError(e, 'OVER_QUOTA'),
        );
        assert.equal((await b.store.getAccountById(acct.id))!.usedBytes, used);
        await b.store.expunge(inbox.id, { uids: [first.uid] });
        assert.equal((await b.store.getAccountById(acct.id))!.usedBytes, used - size);
        okOutcome((await deliver(b2, inbox.id, testMessage('quota', 100, 1000)))[0]);
        await b.store.setQuota('q@example.org', 0);
        okOutcome((await deliver(b, inbox.id, testMessage('quota', 101, 1000)))[0]);
      });

      void it('reserveQuota holds bytes for messages still arriving, until released', async () => {
        const { b } = await fresh();
        const { store } = b;
        const { acct, inbox } = await account(store, 'reserve@example.org', 1000);
        const first = await store.reserveQuota(acct.id, 600);
        await assert.rejects(store.reserveQuota(acct.id, 500), (e) => isStoreError(e, 'OVER_QUOTA'));
        const second = await store.reserveQuota(acct.id, 400); // exactly the quota
        second.release();
        second.release(); // idempotent: gives back 400 once
        await assert.rejects(store.reserveQuota(acct.id, 401), (e) => isStoreError(e, 'OVER_QUOTA'));
        first.release();
        // Used bytes count too: a stored message and a reservation together stay under quota.
        const msg = testMessage('reserve', 1, 300);
        okOutcome((await deliver(b, inbox.id, msg))[0]);
        await assert.rejects(store.reserveQuota(acct.id, 1000 - msg.length + 1), (e) =>
          isStoreError(e, 'OVER_QUOTA'),
        );
        (await store.reserveQuota(acct.id, 1000 - msg.length)).release();
        await store.setQuota('reserve@example.org', 0);
        (await store.reserveQuota(acct.id, 10 ** 12)).release(); // unlimited
        await assert.rejects(store.reserveQuota(acct.id + 1000, 1), (e) => isStoreError(e, 'NOT_FOUND'));
      });

      void it('GC sweeps files no row names once older than the orphan age, never referenced ones', async () => {
        const { dataDir, b } = await fresh();
        const { store } = b;
        const { inbox } = await account(store, 'orphan@example.org');
        // Large enough for files (a small message written but never appended leaves nothing).
        const kept = testMessage('orphan-kept', 1, b.inlineMaxBytes + 2000);
        okOutcome((await deliver(b, inbox.id, kept))[0]);
        // Written but never appended: what a crash between the blob write and the commit leaves.
        const orphan = await b.blobs.write(
          testMessage('orphan', 2, b.inlineMaxBytes + 3000),
          messageBlobOptions(DEFAULT_LIMITS),
        );
        const blobDir = path.join(dataDir, 'blobs');
        assert.equal(await countFiles(blobDir), 2);
        // Young (default orphan age: one hour): kept, a delivery may be about to commit it.
        assert.equal((await store.collectGarbage()).orphanFilesRemoved, 0);
        assert.equal(await b.blobs.exists(orphan.blobId), true);
        const gc = await store.collectGarbage({ orphanAgeMs: 0 });
        assert.equal(gc.orphanFilesRemoved, 1);
        assert.equal(gc.orphanBytesFreed, orphan.size);
        assert.equal(await b.blobs.exists(orphan.blobId), false);
        assert.equal(await b.blobs.exists(sha256(kept)), true, 'a referenced blob stays');
        assert.equal(await countFiles(blobDir), 1);
        assert.equal(await countFiles(path.join(dataDir, 'tmp')), 0);
      });

      void it('GC honours a grace period given per call', async () => {
        const { b } = await fresh();
        const { store } = b;
        const { inbox } = await account(store, 'grace@example.org');
        const bytes = testMessage('grace', 1, 1000);
        const [o] = await deliver(b, inbox.id, bytes);
        await store.expunge(inbox.id, { uids: [okOutcome(o).uid] });
        assert.equal((await store.collectGarbage({ graceMs: 3_600_000 })).blobsRemoved, 0, 'too recent');
        assert.equal(await b.blobs.exists(sha256(bytes)), true);
        assert.equal((await store.collectGarbage({ graceMs: 0 })).blobsRemoved, 1);
        assert.equal(await b.blobs.exists(sha256(bytes)), false);
      });
    });

    void describe('outbound queue', () => {
      const envelope = (over: Partial<OutboundEnvelope> = {}): OutboundEnvelope => ({
        mailFrom: 'sender@example.org',
        recipients: [
          { address: 'far@remote.test', notify: ['SUCCESS', 'FAILURE'], orcpt: 'rfc822;far@remote.test' },
          { address: 'other@remote.test', notify: null, orcpt: null },
        ],
        envid: 'env-1',
        ret: 'HDRS',
        body: '8BITMIME',
        smtputf8: false,
        accountId: null,
        ...over,
      });

      void it('queues the outbound copy with the local targets, visible to every instance', async () => {
        const { dataDir, b } = await fresh();
        const { store } = b;
        const { acct, inbox } = await account(store, 'local@example.org');
        assert.equal(await store.countOutbound(), 0);
        assert.deepEqual(await store.listOutbound(), []);
        const bytes = testMessage('outbound', 1, 2000);
        const blob = await b.blobs.write(bytes, messageBlobOptions(DEFAULT_LIMITS));
        const before = Date.now();
        const outcomes = await store.append({
          blob,
          targets: [{ mailboxId: inbox.id }],
          outbound: envelope({ accountId: acct.id }),
        });
        assert.equal(outcomes.length, 1);
        okOutcome(outcomes[0]);
        assert.equal(await store.countOutbound(), 1);
        const [q] = await store.listOutbound();
        assert.ok(q !== undefined);
        assert.ok(q.id > 0);
        assert.equal(q.blobId, blob.blobId);
        assert.equal(q.size, bytes.length);
        assert.equal(q.mailFrom, 'sender@example.org');
        assert.deepEqual(q.recipients, envelope().recipients);
        assert.equal(q.envid, 'env-1');
        assert.equal(q.ret, 'HDRS');
        assert.equal(q.body, '8BITMIME');
        assert.equal(q.smtputf8, false);
        assert.equal(q.accountId, acct.id);
        assert.equal(q.attempts, 0);
        assert.ok(q.queuedAt.getTime() >= before - 1000 && q.queuedAt.getTime() <= Date.now() + 1000);
        assert.ok(q.nextAttemptAt.getTime() <= Date.now() + 1000);
        assert.ok((await b.blobs.readAll(q.blobId)).equals(bytes));
        if (b.blobRefcount !== undefined) assert.equal(await b.blobRefcount(blob.blobId), 2);

        // Only remote recipients: no local target, the null sender, SMTPUTF8, BINARYMIME.
        const blob2 = await b.blobs.write(
          testMessage('outbound', 2, 900),
          messageBlobOptions(DEFAULT_LIMITS),
        );
        const none = await store.append({
          blob: blob2,
          targets: [],
          outbound: envelope({ mailFrom: '', ret: null, envid: null, body: 'BINARYMIME', smtputf8: true }),
        });
        assert.deepEqual(none, []);
        const other = await openOn(dataDir);
        assert.equal(await other.store.countOutbound(), 2);
        const list = await other.store.listOutbound();
        assert.deepEqual(
          list.map((m) => [m.blobId, m.mailFrom, m.body, m.smtputf8, m.ret, m.envid, m.accountId]),
          [
            [blob.blobId, 'sender@example.org', '8BITMIME', false, 'HDRS', 'env-1', acct.id],
            [blob2.blobId, '', 'BINARYMIME', true, null, null, null],
          ],
        );
        assert.ok(list[1]!.id > list[0]!.id, 'oldest first');
      });

      void it('a queued blob survives GC after its local copies go, until it is dequeued', async () => {
        const { b } = await fresh();
        const { store } = b;
        const { inbox } = await account(store, 'gone@example.org');
        const bytes = testMessage('outbound-gc', 1, 1500);
        const blob = await b.blobs.write(bytes, messageBlobOptions(DEFAULT_LIMITS));
        await store.append({ blob, targets: [{ mailboxId: inbox.id }], outbound: envelope() });
        await store.deleteAccount('gone@example.org');
        if (b.blobRefcount !== undefined) assert.equal(await b.blobRefcount(blob.blobId), 1);
        await sleep(20);
        assert.equal((await store.collectGarbage()).blobsRemoved, 0);
        assert.ok((await b.blobs.readAll(blob.blobId)).equals(bytes), 'the queued bytes are kept');

        const [q] = await store.listOutbound();
        await store.deleteOutbound(q!.id);
        assert.equal(await store.countOutbound(), 0);
        await assert.rejects(store.deleteOutbound(q!.id), (e) => isStoreError(e, 'NOT_FOUND'));
        if (b.blobRefcount !== undefined) assert.equal(await b.blobRefcount(blob.blobId), 0);
        await sleep(20);
        assert.equal((await store.collectGarbage()).blobsRemoved, 1);
        assert.equal(await b.blobs.exists(blob.blobId), false);
      });

      void it('commits atomically with the local targets, and refuses bad requests', async () => {
        const { b } = await fresh();
        const { store } = b;
        const { inbox } = await account(store, 'atom@example.org');
        const blob = await b.blobs.write(
          testMessage('outbound-atomic', 1),
          messageBlobOptions(DEFAULT_LIMITS),
        );
        const missing = 987_654_321;
        // allOrNothing: a failing local target means nothing is stored and nothing is queued.
        const refused = await store.append({
          blob,
          targets: [{ mailboxId: inbox.id }, { mailboxId: missing }],
          allOrNothing: true,
          outbound: envelope(),
        });
        assert.ok(refused.every((o) => !o.ok));
        assert.equal(await store.countOutbound(), 0);
        assert.equal((await mailbox(store, inbox.id)).messages, 0);
        // An unreferenced file keeps its row until GC removes both; inline bytes leave nothing.
        if (b.blobRefcount !== undefined)
          assert.equal(await b.blobRefcount(blob.blobId), blob.inline === undefined ? 0 : null);
        // Without allOrNothing the good target and the queue row are both committed.
        const partial = await store.append({
          blob,
          targets: [{ mailboxId: inbox.id }, { mailboxId: missing }],
          outbound: envelope(),
        });
        assert.equal(partial[0]!.ok, true);
        assert.equal(partial[1]!.ok, false);
        assert.equal(await store.countOutbound(), 1);
        if (b.blobRefcount !== undefined) assert.equal(await b.blobRefcount(blob.blobId), 2);

        await assert.rejects(store.append({ blob, targets: [] }), (e) => isStoreError(e, 'INVALID_ARGUMENT'));
        for (const bad of [
          envelope({ recipients: [] }),
          envelope({ body: 'QUOTED' as OutboundEnvelope['body'] }),
          envelope({ ret: 'ALL' as OutboundEnvelope['ret'] }),
          envelope({ recipients: [{ address: '', notify: null, orcpt: null }] }),
          envelope({ accountId: -1 }),
        ]) {
          await assert.rejects(
            store.append({ blob, targets: [{ mailboxId: inbox.id }], outbound: bad }),
            (e) => isStoreError(e, 'INVALID_ARGUMENT'),
          );
        }
        assert.equal(await store.countOutbound(), 1);
        assert.equal((await mailbox(store, inbox.id)).messages, 1);
      });

      void it('concurrent appends with outbound copies share group commits and all get queued', async () => {
        const { b } = await fresh();
        const { store } = b;
        const { inbox } = await account(store, 'many@example.org');
        const sends: Array<Promise<AppendOutcome[]>> = [];
        for (let i = 0; i < 30; i++) {
          const blob = await b.blobs.write(
            testMessage('outbound-many', i, 700),
            messageBlobOptions(DEFAULT_LIMITS),
          );
          sends.push(
            store.append({
              blob,
              targets: i % 3 === 0 ? [] : [{ mailboxId: inbox.id }],
              outbound: envelope({ envid: `e${i}` }),
            }),
          );
        }
        await Promise.all(sends);
        assert.equal(await store.countOutbound(), 30);
        assert.deepEqual(
          (await store.listOutbound()).map((m) => m.envid),
          Array.from({ length: 30 }, (_, i) => `e${i}`),
        );
        assert.equal((await mailbox(store, inbox.id)).messages, 20);
      });
    });

    void describe('mailboxSummary', () => {
      void it('lists UIDs, the first unseen UID and the keywords in use, consistent with listMessages', async () => {
        const { b } = await fresh();
        const { inbox } = await account(b.store, 'sum@example.org');
        assert.deepEqual(await b.store.mailboxSummary(inbox.id), {
          uids: [],
          firstUnseenUid: 0,
          keywords: [],
        });
        const uids: number[] = [];
        for (let i = 0; i < 5; i++)
          uids.push(okOutcome((await deliver(b, inbox.id, testMessage('sum', i)))[0]).uid);
        await b.store.updateFlags(inbox.id, uids.slice(0, 2), { mode: 'add', flags: ['\\Seen', 'Work'] });
        await b.store.updateFlags(inbox.id, [uids[3]!], { mode: 'add', flags: ['$Junk', 'work'] });
        await b.store.expunge(inbox.id, { uids: [uids[4]!] });
        const summary = await b.store.mailboxSummary(inbox.id);
        assert.deepEqual(summary.uids, uids.slice(0, 4));
        assert.deepEqual(
          summary.uids,
          (await b.store.listMessages(inbox.id)).map((m) => m.uid),
        );
        assert.equal(summary.firstUnseenUid, uids[2]);
        assert.deepEqual(summary.keywords, ['$Junk', 'Work']);
        await assert.rejects(b.store.mailboxSummary(999_999), /not found|NOT_FOUND/i);
      });
    });

    void describe('SEARCH support', () => {
      void it('matchSearchField matches decoded, folded fields; textParts locates the text parts', async () => {
        const { b } = await fresh();
        const { inbox } = await account(b.store, 'srch@example.org');
        const msgs = [
          'From: =?UTF-8?Q?Ren=C3=A9e?= <renee@example.org>\r\nSubject: =?UTF-8?Q?Caf=C3=A9_Menu?=\r\n\r\nHello\r\n',
          'From: bob@example.org\r\nSubject: other\r\nContent-Type: multipart/alternative; boundary=b\r\n\r\n' +
            '--b\r\nContent-Type: text/plain\r\n\r\nplain\r\n--b\r\nContent-Type: text/html\r\n\r\n<p>x</p>\r\n--b--\r\n',
          'To: nobody\r\n\r\nno subject, no from\r\n',
        ];
        const uids: number[] = [];
        for (const m of msgs) uids.push(okOutcome((await deliver(b, inbox.id, Buffer.from(m)))[0]).uid);
        assert.deepEqual(await b.store.matchSearchField(inbox.id, 'subject', 'café'), {
          uids: [uids[0]!],
          unparsed: [],
        });
        assert.deepEqual((await b.store.matchSearchField(inbox.id, 'from', 'renée')).uids, [uids[0]]);
        assert.deepEqual(
          (await b.store.matchSearchField(inbox.id, 'from', 'example.org')).uids,
          uids.slice(0, 2),
        );
        // An empty needle matches every message that has the field.
        assert.deepEqual((await b.store.matchSearchField(inbox.id, 'subject', '')).uids, uids.slice(0, 2));
        const parts = await b.store.textParts(inbox.id, uids);
        assert.equal(parts.get(uids[0]!)!.length, 1);
        assert.equal(parts.get(uids[1]!)!.length, 2);
        const [start, end] = parts.get(uids[0]!)![0]!;
        assert.equal(msgs[0]!.slice(start, end), 'Hello\r\n');
      });
      void it('matchSearchField follows copies, moves, expunges and renaming INBOX', async () => {
        const { b } = await fresh();
        const { acct, inbox } = await account(b.store, 'srch2@example.org');
        const other = await b.store.createMailbox(acct.id, 'Other');
        const uids: number[] = [];
        for (const subject of ['apple pie', 'banana split', 'apple tart'])
          uids.push(
            okOutcome((await deliver(b, inbox.id, Buffer.from(`Subject: ${subject}\r\n\r\nx\r\n`)))[0]).uid,
          );
        const match = async (mailboxId: number, needle: string): Promise<number[]> =>
          (await b.store.matchSearchField(mailboxId, 'subject', needle)).uids;
        assert.deepEqual(await match(inbox.id, 'apple'), [uids[0], uids[2]]);
        const copied = await b.store.copy(inbox.id, [uids[0]!], other.id);
        assert.deepEqual(
          await match(other.id, 'apple'),
          copied.mapping.map((m) => m[1]),
        );
        const moved = await b.store.move(inbox.id, [uids[2]!], other.id);
        assert.deepEqual(await match(inbox.id, 'apple'), [uids[0]]);
        assert.deepEqual(
          await match(other.id, 'apple'),
          [...copied.mapping, ...moved.mapping].map((m) => m[1]),
        );
        await b.store.updateFlags(inbox.id, [uids[0]!], { mode: 'add', flags: ['\\Deleted'] });
        await b.store.expunge(inbox.id, { onlyDeleted: true });
        assert.deepEqual(await match(inbox.id, 'apple'), []);
        assert.deepEqual(await match(inbox.id, 'banana'), [uids[1]]);
        // RFC 9051 §6.3.6: the messages of INBOX move to the new name.
        await b.store.renameMailbox(acct.id, 'INBOX', 'Old');
        const old = await b.store.getMailbox(acct.id, 'Old');
        assert.ok(old !== null);
        assert.deepEqual(await match(old.id, 'banana'), [uids[1]]);
        assert.deepEqual(await match(inbox.id, 'banana'), []);
        await b.store.deleteMailbox(acct.id, 'Other');
        assert.deepEqual(await match(other.id, 'apple'), []);
      });

      void it('listFlags of a large mailbox follows changes made through another instance', async () => {
        const { dataDir, b } = await fresh();
        const b2 = await openOn(dataDir);
        const { inbox } = await account(b.store, 'flags@example.org');
        const blob = await b.blobs.write(testMessage('flags', 0, 300), messageBlobOptions(DEFAULT_LIMITS));
        const targets = Array.from({ length: 2500 }, (_, i) => ({
          mailboxId: inbox.id,
          flags: i % 3 === 0 ? ['\\Seen'] : i % 3 === 1 ? ['$Work', '\\Flagged'] : [],
        }));
        const uids = (await b.store.append({ blob, targets })).map((o) => okOutcome(o).uid);
        const expected = async (): Promise<string[]> =>
          (await b2.store.listMessages(inbox.id)).map(
            (m) => `${m.uid} ${m.modseq} ${[...m.flags].sort().join(' ')}`,
          );
        const actual = async (list = uids): Promise<string[]> =>
          (await b.store.listFlags(inbox.id, list)).map(
            (m) => `${m.uid} ${m.modseq} ${[...m.flags].sort().join(' ')}`,
          );
        const same = (a: string[], e: string[]): void => {
          const i = a.findIndex((x, k) => x !== e[k]);
          assert.ok(
            a.length === e.length && i < 0,
            `first difference at ${i}: ${a[i]} / ${e[i]} (${a.length}, ${e.length})`,
          );
        };
        same(await actual(), await expected());
        // Changes by the other instance: flags, an expunge, new messages.
        await b2.store.updateFlags(inbox.id, uids.slice(0, 100), {
          mode: 'add',
          flags: ['\\Answered', 'Later'],
        });
        await b2.store.updateFlags(inbox.id, [uids[5]!, uids[7]!], { mode: 'add', flags: ['\\Deleted'] });
        await b2.store.expunge(inbox.id, { onlyDeleted: true });
        const more = (
          await b2.store.append({ blob, targets: [{ mailboxId: inbox.id, flags: ['\\Draft'] }] })
        ).map((o) => okOutcome(o).uid);
        await b2.store.updateFlags(inbox.id, [uids[9]!], { mode: 'replace', flags: [] });
        same(await actual([...uids, ...more]), await expected());
        const all = [...uids, ...more];
        const got = await b.store.listFlags(inbox.id, all);
        assert.equal(got.length, all.length - 2);
        assert.deepEqual(got.find((m) => m.uid === more[0])?.flags, ['\\Draft']);
        // A subset, with UIDs that do not exist.
        const some = await b.store.listFlags(inbox.id, [uids[5]!, uids[6]!, 999_999]);
        assert.deepEqual(
          some.map((m) => m.uid),
          [uids[6]],
        );
      });
    });

    void describe('several processes and instances', () => {
      void it('recordPop3Login lets one login through per interval, across instances', async () => {
        const { dataDir, b } = await fresh();
        const b2 = await openOn(dataDir);
        const { acct } = await account(b.store, 'delay@example.org');
        // RFC 2449 §6.5 LOGIN-DELAY: of two logins at once, one passes.
        const both = await Promise.all([
          b.store.recordPop3Login(acct.id, 60_000),
          b2.store.recordPop3Login(acct.id, 60_000),
        ]);
        assert.deepEqual(both.sort(), [false, true]);
        assert.equal(await b.store.recordPop3Login(acct.id, 60_000), false);
        // A shorter interval than the time since the last login lets it through.
        await new Promise((resolve) => setTimeout(resolve, 20));
        assert.equal(await b2.store.recordPop3Login(acct.id, 10), true);
        assert.equal(await b.store.recordPop3Login(acct.id, 0), true);
        await assert.rejects(b.store.recordPop3Login(999_999, 0), (e) => isStoreError(e, 'NOT_FOUND'));
      });

      void it('claimRecent gives each new message to exactly one of two store instances', async () => {
        const { dataDir, b } = await fresh();
        const b2 = await openOn(dataDir);
        const { inbox } = await account(b.store, 'rec@example.org');
        const uids: number[] = [];
        for (let i = 0; i < 10; i++)
          uids.push(okOutcome((await deliver(b, inbox.id, testMessage('rec', i)))[0]).uid);
        const [x, y] = await Promise.all([b.store.claimRecent(inbox.id), b2.store.claimRecent(inbox.id)]);
        assert.deepEqual(
          [...x!, ...y!].sort((p, q) => p - q),
          uids,
          'every uid claimed once',
        );
        assert.deepEqual(await b.store.claimRecent(inbox.id), []);
        assert.deepEqual(await b2.store.claimRecent(inbox.id), []);
        const more = okOutcome((await deliver(b2, inbox.id, testMessage('rec', 99)))[0]).uid;
        const [p, q] = await Promise.all([b2.store.claimRecent(inbox.id), b.store.claimRecent(inbox.id)]);
        assert.deepEqual([...p!, ...q!], [more]);
      });

      void it('watch() hears a change made by another store instance within 1 s', async () => {
        const { dataDir, b } = await fresh();
        const { inbox } = await account(b.store, 'w@example.org');
        const b2 = await openOn(dataDir);
        const heard: number[] = [];
        let onHeard: (() => void) | null = null;
        const stop = b.store.watch(inbox.id, (id) => {
          heard.push(id);
          onHeard?.();
        });
        try {
          await sleep(150); // let the watcher settle on the current state
          heard.length = 0;
          // Only a notification that comes after the other instance's change counts.
          const gotIt = new Promise<'heard'>((resolve) => {
            onHeard = () => resolve('heard');
          });
          const t0 = Date.now();
          okOutcome((await deliver(b2, inbox.id, testMessage('watch', 1)))[0]);
          const timeout = sleep(1000).then(() => 'timeout' as const);
          assert.equal(await Promise.race([gotIt, timeout]), 'heard', 'notified within 1 s');
          assert.ok(Date.now() - t0 < 1500);
          assert.ok(heard.length > 0 && heard.every((id) => id === inbox.id));
        } finally {
          stop();
        }
        // Unsubscribed listeners hear nothing more.
        const count = heard.length;
        okOutcome((await deliver(b2, inbox.id, testMessage('watch', 2)))[0]);
        await sleep(300);
        assert.equal(heard.length, count);
      });

      void it('two processes appending 500 messages each to one mailbox get 1000 distinct increasing UIDs', async () => {
        const { dataDir, b } = await fresh();
        const { inbox } = await account(b.store, 'two@example.org');
        let firstNotify: number | null = null;
        const stop = b.store.watch(inbox.id, () => {
          firstNotify ??= Date.now();
        });
        await sleep(150); // let the watcher settle; only what follows is about the children
        firstNotify = null;
        const base = { backend: backendName, dataDir, mailboxId: inbox.id, count: 500, inFlight: 10 };
        const w1 = runWorker({ ...base, tag: 'p1' });
        const w2 = runWorker({ ...base, tag: 'p2' });
        const [r1, r2] = await Promise.all([w1.done, w2.done]);
        stop();
        assert.equal(r1.code, 0, r1.stderr);
        assert.equal(r2.code, 0, r2.stderr);
        assert.equal(r1.acks.length, 500);
        assert.equal(r2.acks.length, 500);
        const firstAck = Math.min(r1.acks[0]!.at, r2.acks[0]!.at);
        assert.ok(firstNotify !== null, 'the parent heard the children');
        assert.ok(firstNotify - firstAck < 1000, `notified ${firstNotify - firstAck} ms after the first ack`);

        const listed = await b.store.listMessages(inbox.id);
        assert.equal(listed.length, 1000);
        assertIncreasing(
          listed.map((m) => m.uid),
          'listed uids',
        );
        const acked = new Map<number, Buffer>();
        for (const [run, tag] of [
          [r1, 'p1'],
          [r2, 'p2'],
        ] as const) {
          for (const a of run.acks) {
            assert.ok(!acked.has(a.uid), `uid ${a.uid} acknowledged twice`);
            acked.set(a.uid, testMessage(tag, a.index));
          }
        }
        assert.equal(acked.size, 1000);
        assert.deepEqual(
          listed.map((m) => m.uid),
          [...acked.keys()].sort((x, y) => x - y),
        );
        for (const m of listed) {
          const bytes = await b.blobs.readAll(m.blobId);
          assert.ok(bytes.equals(acked.get(m.uid)!), `message ${m.uid} intact`);
        }
        const mb = await mailbox(b.store, inbox.id);
        assert.equal(mb.messages, 1000);
        assert.ok(mb.uidNext > listed.at(-1)!.uid);
        const changes = await b.store.changesSince(inbox.id, 0);
        assert.equal(changes.filter((c) => c.kind === 'added').length, 1000);
      });

      void it('nothing acknowledged is lost when the writing process is killed with SIGKILL', async () => {
        const { dataDir, b } = await fresh();
        const { inbox } = await account(b.store, 'kill@example.org');
        await closeOne(b);
        const worker = runWorker(
          {
            backend: backendName,
            dataDir,
            mailboxId: inbox.id,
            count: 100_000,
            inFlight: 20,
            tag: 'k',
            size: 2000,
          },
          (count, kill) => {
            if (count === 300) kill();
          },
        );
        const run = await worker.done;
        assert.equal(run.signal, 'SIGKILL', `worker ended by itself: ${run.code} ${run.stderr}`);
        assert.ok(run.acks.length >= 300);

        const reopened = await openOn(dataDir);
        const listed = await reopened.store.listMessages(inbox.id);
        const byUid = new Map(listed.map((m) => [m.uid, m]));
        for (const a of run.acks) {
          const m = byUid.get(a.uid);
          assert.ok(m !== undefined, `acknowledged uid ${a.uid} is there`);
          const bytes = await reopened.blobs.readAll(m.blobId);
          assert.equal(sha256(bytes), m.blobId, `blob of ${a.uid} re-hashes to its id`);
          assert.ok(bytes.equals(testMessage('k', a.index, 2000)), `bytes of ${a.uid}`);
        }
        assertIncreasing(
          listed.map((m) => m.uid),
          'uids after the crash',
        );
        // The store stays usable and keeps UIDs increasing.
        const next = okOutcome((await deliver(reopened, inbox.id, testMessage('k-after', 0, 2000)))[0]);
        assert.ok(next.uid > Math.max(...listed.map((m) => m.uid)));
      });
    });
  });
}
