// The set-up the smaller conformance suites share: inside a describe(), each test asks for a
// fresh backend in its own data directory under one temp root; every backend opened is closed
// after its test, and the root is removed after the suite.

import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, afterEach, before } from 'node:test';
import type { BackendFactory, BackendName, ConformanceBackend } from './backends.js';

export interface FreshBackends {
  /** A backend on a new data directory. */
  fresh(): Promise<{ dataDir: string; b: ConformanceBackend }>;
  /** Another backend on the same data directory (as another process would open it). */
  reopen(dataDir: string): Promise<ConformanceBackend>;
}

/** Registers the hooks in the calling describe() and returns the suite's backends. */
export function freshBackends(
  suite: string,
  backendName: BackendName,
  factory: BackendFactory,
): FreshBackends {
  let root: string;
  let dirs = 0;
  let open: ConformanceBackend[] = [];
  before(async () => {
    root = await fsp.mkdtemp(path.join(os.tmpdir(), `postern-conformance-${suite}-${backendName}-`));
  });
  afterEach(async () => {
    const closing = open;
    open = [];
    await Promise.allSettled(closing.map((b) => b.store.close()));
  });
  after(async () => {
    await fsp.rm(root, { recursive: true, force: true });
  });
  const reopen = async (dataDir: string): Promise<ConformanceBackend> => {
    const b = await factory(dataDir);
    open.push(b);
    return b;
  };
  return {
    reopen,
    fresh: async () => {
      const dataDir = path.join(root, `store-${++dirs}`);
      await fsp.mkdir(dataDir);
      return { dataDir, b: await reopen(dataDir) };
    },
  };
}
