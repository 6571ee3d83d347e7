// Shared by the cli*.test.ts files: runs the `postern` CLI of the same build as the tests, as
// a real process, in temp directories.

import assert from 'node:assert/strict';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
/** The CLI of the same build as this test (dist/ or a private build dir). */
export const CLI = path.resolve(here, '../../src/cli/main.js');

function findRepoRoot(start: string): string {
  let dir = start;
  while (!existsSync(path.join(dir, 'package.json'))) {
    const up = path.dirname(dir);
    if (up === dir) throw new Error('package.json not found above ' + start);
    dir = up;
  }
  return dir;
}
export const SCRIPT = path.join(findRepoRoot(here), 'test/integration/cli-script.sh');

export async function tempDir(t: { after: (fn: () => Promise<void>) => void }): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'postern-cli-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** Runs `postern ARGS` in `cwd`; POSTERN_CONFIG and POSTERN_DEBUG only when given in opts.env. */
export function postern(
  cwd: string,
  args: string[],
  opts: { input?: string; env?: NodeJS.ProcessEnv } = {},
): SpawnSyncReturns<string> {
  const env = { ...process.env };
  delete env.POSTERN_CONFIG;
  delete env.POSTERN_DEBUG;
  Object.assign(env, opts.env);
  return spawnSync(process.execPath, [CLI, ...args], {
    cwd,
    encoding: 'utf8',
    input: opts.input ?? '',
    env,
    timeout: 60_000,
  });
}

export function ok(r: SpawnSyncReturns<string>): string {
  assert.equal(r.status, 0, `exit ${r.status}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  return r.stdout;
}

/** Exit status 1 and exactly one line on stderr, without a stack trace; returns that line. */
export function fails(r: SpawnSyncReturns<string>): string {
  assert.equal(r.status, 1, `expected exit 1, got ${r.status}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  const lines = r.stderr.split('\n').filter((l) => l.length > 0);
  assert.equal(lines.length, 1, `expected one line on stderr, got:\n${r.stderr}`);
  assert.doesNotMatch(r.stderr, /^\s+at /m);
  return lines[0]!;
}
