// postern serve: runs the server with the config file; the runtime handles signals.

import type { Command } from 'commander';
import { UsageError } from '../../core/errors.js';
import { buildConfig } from '../../config/load.js';
import { loadCommandConfig } from '../context.js';
import { renderListeners, type ReadyInfo } from '../listener-report.js';

export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('run the server')
    .option('--workers <n>', 'processes serving the store (0 = one per CPU core); overrides server.workers')
    .action(async (opts: { workers?: string }, cmd: Command) => {
      let config = await loadCommandConfig(cmd);
      if (opts.workers !== undefined) {
        const n = Number(opts.workers);
        if (!Number.isSafeInteger(n) || n < 0 || opts.workers.trim() === '') {
          throw new UsageError(
            `--workers: expected a non-negative integer, got ${JSON.stringify(opts.workers)}`,
          );
        }
        config = buildConfig({ server: { workers: n } }, config);
      }
      const { runServer } = await import('../../app/server.js');
      await runServer(config, {
        onReady: (info: ReadyInfo) => {
          process.stdout.write(`postern ${config.hostname} ready, data in ${config.dataDir}\n`);
          process.stdout.write(renderListeners(config, info));
        },
      });
    });
}
