// The program node:cluster runs in each worker process (see src/server/runtime.ts): it serves
// with the same parts as server.ts. It exits once the worker has shut down, so the primary can
// count exits.

import { runWorker } from '../server/runtime.js';
import { openStore } from './open-store.js';
import { startOutboundService } from './outbound-service.js';
import { PROTOCOL_HANDLERS } from './protocol-registry.js';

runWorker({ handlers: PROTOCOL_HANDLERS, openStore, outbound: startOutboundService }).then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(
      `postern worker ${process.pid} failed: ${err instanceof Error ? err.stack : String(err)}\n`,
    );
    process.exit(1);
  },
);
