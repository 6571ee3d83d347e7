// Shared by the cli*.test.ts files: runs the `postern` CLI of the same build as the tests, as
// a real process, in temp directories.

import assert from 'node:assert/strict';
import { spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process';
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

export interface ServeProcess {
  /** Everything printed on stdout up to the listener report. */
  out: string;
  /** The listeners the report names, with the port each one opened. */
  listeners: Map<string, number>;
  /** SIGTERM, then the exit code. */
  stop(): Promise<number | null>;
}

/**
 * Runs `postern serve` in `cwd` (with its postern.toml) until it prints its listener report;
 * rejects if it exits first or is not ready within `timeoutMs`.
 */
export async function startServe(cwd: string, timeoutMs = 30_000): Promise<ServeProcess> {
  const env = { ...process.env };
  delete env.POSTERN_CONFIG;
  delete env.POSTERN_DEBUG;
  const child = spawn(process.execPath, [CLI, 'serve'], { cwd, env });
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  // The listener report is one write after the "ready" line (one pipe write: it arrives whole).
  const ready = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`serve not ready in ${timeoutMs} ms\n${out}\n${err}`)),
      timeoutMs,
    );
    const check = (): void => {
      // The report is one write, so one of its lines means all of them; JSON log lines may come
      // before or after it (the logger writes on its own schedule).
      if (/ready, data in /.test(out) && /^ {2}\w+ +\S+:\d+\n/m.test(out)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout.on('data', check);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`serve exited with ${code} before it was ready\nstdout: ${out}\nstderr: ${err}`));
    });
  });
  try {
    await ready;
  } catch (e) {
    child.kill('SIGKILL');
    throw e;
  }
  const listeners = new Map<string, number>();
  for (const m of out.matchAll(/^ {2}(\w+) +127\.0\.0\.1:(\d+)$/gm)) listeners.set(m[1]!, Number(m[2]));
  return {
    out,
    listeners,
    async stop() {
      child.kill('SIGTERM');
      return exited;
    },
  };
}
