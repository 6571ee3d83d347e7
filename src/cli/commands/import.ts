// postern import ADDRESS PATH [--mailbox M]: an mbox file or a Maildir into one mailbox.
// The input is streamed (an mbox is never read whole); each message goes through a Delivery
// (source 'import'), up to IMPORT_CONCURRENCY at once so the store's group commit batches them.

import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { Command } from 'commander';
import cliProgress from 'cli-progress';
import { UsageError, isStoreError } from '../../core/errors.js';
import { formatSize, formatSizeExact } from '../../config/units.js';
import { readMbox, MboxFormatError } from '../../mail/mbox/mbox-reader.js';
import {
  isMaildir,
  listMaildir,
  readMaildir,
  MaildirFormatError,
  type MaildirListing,
} from '../../mail/mbox/maildir-reader.js';
import { toCrlf } from '../../mail/mbox/crlf.js';
import type { Mailbox } from '../../store/types.js';
import { withCommandStore, type StoreContext } from '../context.js';
import { parseAddress } from '../address.js';
import { runPipeline, type PipelineItem } from '../import-pipeline.js';
import { CommitOrder, type CommitTicket } from '../../delivery/commit-order.js';

export const IMPORT_CONCURRENCY = 32;
const MAX_BYTES_IN_FLIGHT = 128 * 1024 * 1024;
const MAX_FAILURES_SHOWN = 10;

interface ImportItem extends PipelineItem {
  label: string;
  source: () => AsyncIterable<Uint8Array> | Uint8Array;
  flags: string[];
  internalDate: Date | null;
  /** Set when the reader already knows the message cannot be stored. */
  refusal: string | null;
  /** Input bytes consumed up to this message (mbox), for the progress bar. */
  inputOffset: number;
}

export interface ImportSummary {
  imported: number;
  failed: number;
  bytes: number;
  seconds: number;
}

/** Counts the bytes of a stream as they pass. */
async function* counting(
  source: AsyncIterable<Uint8Array>,
  add: (n: number) => void,
): AsyncGenerator<Uint8Array> {
  for await (const chunk of source) {
    add(chunk.length);
    yield chunk;
  }
}

async function* fromChunks(chunks: Buffer[]): AsyncGenerator<Uint8Array> {
  yield* chunks;
}

async function* mboxItems(file: string, messageSize: number): AsyncGenerator<ImportItem> {
  for await (const m of readMbox(createReadStream(file, { highWaterMark: 256 * 1024 }), {
    maxMessageSize: messageSize,
  })) {
    const chunks = m.chunks;
    yield {
      label: `message ${m.index + 1} (From ${m.fromLine.slice(0, 60)})`,
      bufferedBytes: m.oversized ? 0 : m.size,
      source: () => (chunks.length === 1 ? chunks[0]! : fromChunks(chunks)),
      flags: [],
      internalDate: m.internalDate,
      refusal: m.oversized
        ? `${formatSize(m.size)} is larger than limits.message_size (${formatSizeExact(messageSize)})`
        : null,
      inputOffset: m.inputOffset,
    };
  }
}

async function* maildirItems(dir: string, listed: MaildirListing): AsyncGenerator<ImportItem> {
  for await (const e of readMaildir(dir, listed)) {
    yield {
      label: `${e.folder}/${e.name}`,
      bufferedBytes: 0,
      source: () => toCrlf(createReadStream(e.path)),
      flags: e.flags,
      internalDate: e.internalDate,
      refusal: null,
      inputOffset: 0,
    };
  }
}

function describeError(err: unknown): string {
  if (isStoreError(err, 'TOO_LARGE')) return 'larger than limits.message_size';
  if (isStoreError(err, 'OVER_QUOTA')) return 'over quota';
  return err instanceof Error ? err.message : String(err);
}

async function targetMailbox(ctx: StoreContext, accountId: number, name: string): Promise<Mailbox> {
  const existing = await ctx.store.getMailbox(accountId, name);
  if (existing !== null) return existing;
  try {
    const created = await ctx.store.createMailbox(accountId, name);
    process.stderr.write(`created mailbox ${name}\n`);
    return created;
  } catch (err) {
    if (isStoreError(err, 'INVALID_NAME'))
      throw new UsageError(`not a valid mailbox name: ${JSON.stringify(name)}`);
    throw err;
  }
}

export function registerImport(program: Command): void {
  program
    .command('import <address> <path>')
    .description('import an mbox file or a Maildir (a directory with cur/ and new/) into a mailbox')
    .option('--mailbox <name>', 'target mailbox (created when missing)', 'INBOX')
    .action(async (input: string, inputPath: string, opts: { mailbox: string }, cmd: Command) => {
      const { address } = parseAddress(input);
      let st;
      try {
        st = await stat(inputPath);
      } catch {
        throw new UsageError(`${inputPath}: no such file or directory`);
      }
      const maildir = st.isDirectory();
      if (maildir && !(await isMaildir(inputPath))) {
        throw new UsageError(`${inputPath}: a directory but not a Maildir (it needs cur/ and new/)`);
      }
      const summary = await withCommandStore(cmd, async (ctx) => {
        const account = await ctx.store.getAccount(address);
        if (account === null) throw new UsageError(`no such user: ${address}`);
        const mailbox = await targetMailbox(ctx, account.id, opts.mailbox);
        if (maildir) {
          const listed = await listMaildir(inputPath);
          return importItems(ctx, mailbox, maildirItems(inputPath, listed), {
            unit: 'messages',
            total: listed.length,
          });
        }
        const items = mboxItems(inputPath, ctx.config.limits.messageSize);
        return importItems(ctx, mailbox, items, { unit: 'bytes', total: st.size });
      }).catch((err: unknown) => {
        if (err instanceof MboxFormatError || err instanceof MaildirFormatError) {
          throw new UsageError(`${inputPath}: ${err.message}`);
        }
        throw err;
      });
      const rate = summary.seconds > 0 ? Math.round(summary.imported / summary.seconds) : summary.imported;
      process.stdout.write(
        `imported ${summary.imported} messages (${formatSize(summary.bytes)}) into ${address}/${opts.mailbox} ` +
          `in ${summary.seconds.toFixed(1)} s (${rate} msg/s), ${summary.failed} failed\n`,
      );
      if (summary.failed > 0) {
        throw new UsageError(
          `${summary.failed} of ${summary.imported + summary.failed} messages could not be imported`,
        );
      }
    });
}

async function importItems(
  ctx: StoreContext,
  mailbox: Mailbox,
  items: AsyncIterable<ImportItem>,
  progress: { unit: 'bytes' | 'messages'; total: number },
): Promise<ImportSummary> {
  const { Delivery } = await import('../../delivery/delivery.js');
  const started = process.hrtime.bigint();
  const elapsed = (): number => Number(process.hrtime.bigint() - started) / 1e9;
  let imported = 0;
  let failed = 0;
  let bytes = 0;
  let inputOffset = 0;
  const failures: string[] = [];

  const bar =
    process.stderr.isTTY === true
      ? new cliProgress.SingleBar(
          {
            stream: process.stderr,
            hideCursor: true,
            clearOnComplete: true,
            format:
              progress.unit === 'bytes'
                ? 'importing [{bar}] {percentage}% | {done} msgs | {rate} msg/s | {read} of {total_size}'
                : 'importing [{bar}] {percentage}% | {done} of {total} msgs | {rate} msg/s | {read}',
          },
          cliProgress.Presets.shades_classic,
        )
      : null;
  const payload = (): object => {
    const s = elapsed();
    return {
      done: imported + failed,
      rate: s > 0 ? Math.round((imported + failed) / s) : 0,
      read: formatSize(progress.unit === 'bytes' ? inputOffset : bytes),
      total_size: formatSize(progress.total),
    };
  };
  bar?.start(Math.max(progress.total, 1), 0, payload());

  const commitOrder = new CommitOrder();
  const deliverOne = async (item: ImportItem, order: CommitTicket): Promise<void> => {
    if (item.refusal !== null) throw new UsageError(item.refusal);
    let size = 0;
    const src = item.source();
    const source =
      src instanceof Uint8Array
        ? src
        : counting(src, (n) => {
            size += n;
          });
    const delivery = Delivery.start(
      {
        store: ctx.store,
        blobs: ctx.blobs,
        limits: ctx.config.limits,
        // An import that fills the mailbox warns as a delivery would.
        quotaWarnings: { thresholds: ctx.config.store.quotaWarnings, hostname: ctx.config.hostname },
      },
      { kind: 'import' },
    );
    delivery.addTarget({
      mailboxId: mailbox.id,
      flags: item.flags,
      ...(item.internalDate !== null ? { internalDate: item.internalDate } : {}),
    });
    try {
      await delivery.writeAll(source);
    } catch (err) {
      await delivery.abort();
      throw err;
    }
    const outcome = (await delivery.commit({ order })).targets[0];
    if (outcome === undefined) throw new Error('the store returned no outcome');
    if (!outcome.ok) throw outcome.error;
    bytes += src instanceof Uint8Array ? src.length : size;
  };

  try {
    await runPipeline(items, {
      concurrency: IMPORT_CONCURRENCY,
      maxBytesInFlight: MAX_BYTES_IN_FLIGHT,
      deliver: async (item) => {
        // Taken synchronously, in input order, so that UIDs follow the input.
        const ticket = commitOrder.next();
        try {
          await deliverOne(item, ticket);
        } finally {
          ticket.release();
        }
      },
      onSettled: (item, err) => {
        if (err === null) imported++;
        else {
          failed++;
          if (failures.length < MAX_FAILURES_SHOWN) failures.push(`${item.label}: ${describeError(err)}`);
        }
        if (item.inputOffset > inputOffset) inputOffset = item.inputOffset;
        bar?.update(progress.unit === 'bytes' ? inputOffset : imported + failed, payload());
      },
    });
  } finally {
    bar?.stop();
  }
  for (const f of failures) process.stderr.write(`failed: ${f}\n`);
  if (failed > failures.length) process.stderr.write(`failed: ... and ${failed - failures.length} more\n`);
  return { imported, failed, bytes, seconds: elapsed() };
}
