// The program node:cluster runs in each worker process (see runtime.ts). It exits once the worker
// has shut down, so the primary can count exits.

import { runWorker } from './runtime.js';

runWorker().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(
      `postern worker ${process.pid} failed: ${err instanceof Error ? err.stack : String(err)}\n`,
    );
    process.exit(1);
  },
);
