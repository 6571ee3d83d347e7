// postern queue list|show|retry|hold|release|delete [--json]
// The outbound queue's administration, like Postfix's mailq/postqueue/postsuper: one line per
// queued message with its recipients' states, one message in full, and per-message actions.
// Safe while the server runs (the store is built for several processes); an action on a
// recipient being sent right now takes effect when that attempt is recorded (hold keeps a
// deferred recipient held; a delivery still counts). Several ids may be given: each is acted
// on, and ids not in the queue are named in one error at the end (exit status 1).

import type { Command } from 'commander';
import { UsageError, isStoreError } from '../../core/errors.js';
import { formatSize } from '../../config/units.js';
import {
  RECIPIENT_STATUSES,
  type QueueDetail,
  type QueueFilter,
  type QueueListEntry,
  type RecipientStatus,
} from '../../store/types.js';
import { withCommandStore } from '../context.js';
import { parseDomain } from '../address.js';
import { printJson, printTable } from '../table.js';

/** A queue id as typed: a positive decimal integer. */
function parseQueueId(text: string): number {
  const n = /^[1-9][0-9]{0,15}$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(n))
    throw new UsageError(`expected a queue id (a positive integer), got "${text}"`);
  return n;
}

function parseCount(option: string, text: string, min: number, max: number): number {
  const n = /^[0-9]{1,16}$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    throw new UsageError(`${option}: expected an integer from ${min} to ${max}, got "${text}"`);
  }
  return n;
}

function parseStatus(text: string): RecipientStatus {
  const s = text.toLowerCase() as RecipientStatus;
  if (!RECIPIENT_STATUSES.includes(s)) {
    throw new UsageError(`--status: expected one of ${RECIPIENT_STATUSES.join(', ')}, got "${text}"`);
  }
  return s;
}

/** "2 queued, 1 deferred": the states that have recipients, in a fixed order. */
function countsText(counts: Record<RecipientStatus, number>): string {
  return RECIPIENT_STATUSES.filter((s) => counts[s] > 0)
    .map((s) => `${counts[s]} ${s}`)
    .join(', ');
}

function sender(mailFrom: string): string {
  return mailFrom === '' ? '<>' : mailFrom;
}

function printDetail(d: QueueDetail): void {
  const lines = [
    `id: ${d.id}`,
    `sender: ${sender(d.mailFrom)}`,
    `size: ${formatSize(d.size)} (${d.size} bytes)`,
    `queued: ${d.queuedAt.toISOString()}`,
    `next attempt: ${d.nextAttemptAt.toISOString()}`,
    `attempts: ${d.attempts}`,
    `body: ${d.body}${d.smtputf8 ? ' SMTPUTF8' : ''}`,
    `envid: ${d.envid ?? '-'}`,
    `ret: ${d.ret ?? '-'}`,
    `blob: ${d.blobId}`,
    '',
  ];
  process.stdout.write(lines.join('\n') + '\n');
  printTable(
    [
      { header: 'RCPT', right: true },
      { header: 'ADDRESS' },
      { header: 'STATUS' },
      { header: 'ATTEMPTS', right: true },
      { header: 'NEXT ATTEMPT' },
      { header: 'LAST REPLY' },
    ],
    d.recipients.map((r) => [
      String(r.id),
      r.address,
      r.leaseOwner !== null && r.leaseExpiresAt !== null && r.leaseExpiresAt.getTime() > Date.now()
        ? `${r.status} (sending)`
        : r.status,
      String(r.attempts),
      r.status === 'delivered' || r.status === 'failed' ? '-' : r.nextAttemptAt.toISOString(),
      r.lastReply === null
        ? '-'
        : `${r.lastReply.code}${r.lastReply.enhanced === null ? '' : ` ${r.lastReply.enhanced}`} ${r.lastReply.text}`.slice(
            0,
            200,
          ),
    ]),
  );
}

type Action = 'retry' | 'hold' | 'release' | 'delete';

const ACTIONS: ReadonlyArray<{ name: Action; description: string; done: string }> = [
  {
    name: 'retry',
    description: 'make the queued and deferred recipients of these messages due now',
    done: 'due now',
  },
  { name: 'hold', description: 'hold these messages: no attempt until they are released', done: 'held' },
  { name: 'release', description: 'release held messages (due now)', done: 'released' },
  { name: 'delete', description: 'delete these messages from the queue, without a bounce', done: 'deleted' },
];

export function registerQueue(program: Command): void {
  const queue = program
    .command('queue')
    .description('the outbound queue: list, show, retry, hold, release, delete');

  queue
    .command('list')
    .description('list queued messages with their recipients per state (oldest first)')
    .option(
      '--status <status>',
      `only messages with a recipient in this state (${RECIPIENT_STATUSES.join(', ')})`,
    )
    .option('--domain <domain>', 'only messages with a recipient at this domain')
    .option('--sender <address>', 'only messages from this envelope sender ("" or "<>" for the null sender)')
    .option('--after <id>', 'only messages with an id above this one (paging)')
    .option('--limit <n>', 'at most this many messages (default 100, at most 10000)')
    .option('--json', 'print JSON')
    .action(
      async (
        opts: {
          status?: string;
          domain?: string;
          sender?: string;
          after?: string;
          limit?: string;
          json?: boolean;
        },
        cmd: Command,
      ) => {
        const filter: QueueFilter = {};
        if (opts.status !== undefined) filter.status = parseStatus(opts.status);
        if (opts.domain !== undefined) filter.domain = parseDomain(opts.domain);
        if (opts.sender !== undefined) filter.sender = opts.sender === '<>' ? '' : opts.sender;
        if (opts.after !== undefined)
          filter.afterId = parseCount('--after', opts.after, 0, Number.MAX_SAFE_INTEGER);
        if (opts.limit !== undefined) filter.limit = parseCount('--limit', opts.limit, 1, 10_000);
        await withCommandStore(cmd, async ({ store }) => {
          const entries: QueueListEntry[] = await store.listQueue(filter);
          if (opts.json === true) return printJson(entries);
          printTable(
            [
              { header: 'ID', right: true },
              { header: 'QUEUED' },
              { header: 'SIZE', right: true },
              { header: 'SENDER' },
              { header: 'NEXT ATTEMPT' },
              { header: 'RECIPIENTS' },
            ],
            entries.map((e) => [
              String(e.id),
              e.queuedAt.toISOString(),
              formatSize(e.size),
              sender(e.mailFrom),
              e.nextAttemptAt.toISOString(),
              countsText(e.counts),
            ]),
          );
        });
      },
    );

  queue
    .command('show <id>')
    .description('show a queued message and the state of each recipient')
    .option('--json', 'print JSON')
    .action(async (idText: string, opts: { json?: boolean }, cmd: Command) => {
      const id = parseQueueId(idText);
      await withCommandStore(cmd, async ({ store }) => {
        const d = await store.showQueued(id);
        if (d === null) throw new UsageError(`no such queued message: ${id}`);
        if (opts.json === true) return printJson(d);
        printDetail(d);
      });
    });

  for (const action of ACTIONS) {
    queue
      .command(`${action.name} <id...>`)
      .description(action.description)
      .option('--json', 'print JSON')
      .action(async (idTexts: string[], opts: { json?: boolean }, cmd: Command) => {
        const ids = idTexts.map(parseQueueId);
        const results: Array<{ id: number; recipients?: number }> = [];
        const missing: number[] = [];
        await withCommandStore(cmd, async ({ store }) => {
          for (const id of ids) {
            try {
              if (action.name === 'delete') {
                await store.deleteOutbound(id);
                results.push({ id });
              } else {
                const n =
                  action.name === 'retry'
                    ? await store.retryOutbound(id)
                    : action.name === 'hold'
                      ? await store.holdOutbound(id)
                      : await store.releaseOutbound(id);
                results.push({ id, recipients: n });
              }
            } catch (err) {
              if (!isStoreError(err, 'NOT_FOUND')) throw err;
              missing.push(id);
            }
          }
        });
        if (opts.json === true) {
          printJson(results);
        } else {
          for (const r of results) {
            const what =
              r.recipients === undefined
                ? ''
                : ` (${r.recipients} recipient${r.recipients === 1 ? '' : 's'})`;
            process.stdout.write(`${action.done} ${r.id}${what}\n`);
          }
        }
        if (missing.length > 0) throw new UsageError(`no such queued message: ${missing.join(', ')}`);
      });
  }
}
