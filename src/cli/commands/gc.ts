// postern gc [--grace DURATION] [--orphan-age DURATION] [--change-log-retention DURATION] [--json]
// Runs the store's garbage collection once, now: the same collectGarbage() the server runs every
// store.gc_interval. Safe while the server runs (the store is built for several processes).

import type { Command } from 'commander';
import { UsageError } from '../../core/errors.js';
import { formatSize, parseDurationSeconds } from '../../config/units.js';
import type { GcOptions } from '../../store/types.js';
import { withCommandStore } from '../context.js';
import { printJson, printTable } from '../table.js';

function duration(option: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const seconds = parseDurationSeconds(value);
  if (seconds === null) {
    throw new UsageError(`${option}: expected a duration ("0", "30s", "10m", "1h"), got "${value}"`);
  }
  return seconds * 1000;
}

export function registerGc(program: Command): void {
  program
    .command('gc')
    .description('remove message files no message refers to (and their search rows) now')
    .option('--grace <duration>', 'keep unreferenced blobs this long (default: store.gc_grace)')
    .option(
      '--orphan-age <duration>',
      'remove files no row names once this old (default: store.gc_orphan_age); 0 only when no delivery runs',
    )
    .option(
      '--change-log-retention <duration>',
      'prune expunges older than this from the change log (default: store.change_log_retention)',
    )
    .option('--json', 'print JSON')
    .action(
      async (
        opts: { grace?: string; orphanAge?: string; changeLogRetention?: string; json?: boolean },
        cmd: Command,
      ) => {
        const gcOpts: GcOptions = {};
        const graceMs = duration('--grace', opts.grace);
        const orphanAgeMs = duration('--orphan-age', opts.orphanAge);
        if (graceMs !== undefined) gcOpts.graceMs = graceMs;
        if (orphanAgeMs !== undefined) gcOpts.orphanAgeMs = orphanAgeMs;
        const retentionMs = duration('--change-log-retention', opts.changeLogRetention);
        if (retentionMs !== undefined) gcOpts.changeLogRetentionMs = retentionMs;
        await withCommandStore(cmd, async ({ store }) => {
          const r = await store.collectGarbage(gcOpts);
          if (opts.json === true) return printJson(r);
          printTable(
            [
              { header: 'BLOBS REMOVED', right: true },
              { header: 'FREED', right: true },
              { header: 'ORPHAN FILES', right: true },
              { header: 'ORPHAN BYTES', right: true },
              { header: 'CHANGES PRUNED', right: true },
            ],
            [
              [
                String(r.blobsRemoved),
                formatSize(r.bytesFreed),
                String(r.orphanFilesRemoved),
                formatSize(r.orphanBytesFreed),
                String(r.changeRowsPruned),
              ],
            ],
          );
        });
      },
    );
}
