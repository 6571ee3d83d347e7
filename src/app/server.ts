// The server as assembled: the runtime (src/server/runtime.ts) given the protocols of
// protocol-registry.ts and the store opener of open-store.ts. The runtime imports neither; this
// file and worker-main.ts (what each cluster worker runs) hand the same parts over.

import { fileURLToPath } from 'node:url';
import type { ListenerName, PosternConfig } from '../config/types.js';
import { runServer as runRuntime, type RunServerOptions as RuntimeOptions } from '../server/runtime.js';
import type { ProtocolFactory } from '../server/types.js';
import { openStore } from './open-store.js';
import { outboundService, startOutboundService, type OutboundServiceOptions } from './outbound-service.js';
import { PROTOCOL_HANDLERS } from './protocol-registry.js';

export type { ListenerInfo, ReadyInfo } from '../server/runtime.js';

const WORKER_MAIN = fileURLToPath(new URL('./worker-main.js', import.meta.url));

export interface RunServerOptions extends RuntimeOptions {
  /**
   * Protocol handlers instead of protocol-registry.ts (tests). Single process only: cluster
   * workers run worker-main.ts, which always uses the registry.
   */
  handlers?: ReadonlyMap<ListenerName, ProtocolFactory>;
  /** Options of the outbound queue worker (tests: trust anchors, timeouts). Single process only. */
  outbound?: OutboundServiceOptions;
}

export function runServer(config: PosternConfig, opts: RunServerOptions = {}): Promise<void> {
  const { handlers, outbound, ...runtimeOpts } = opts;
  const parts = {
    handlers: handlers ?? PROTOCOL_HANDLERS,
    openStore,
    workerMain: WORKER_MAIN,
    outbound: outbound === undefined ? startOutboundService : outboundService(outbound),
  };
  return runRuntime(config, parts, runtimeOpts);
}
