// Two cluster workers serve the same (ephemeral) HTTP port: both answer /healthz, and SIGTERM
// to the primary shuts every process down.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { rm } from 'node:fs/promises';
import http from 'node:http';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import type { ReadyInfo } from '../../src/app/server.js';
import { LOOPBACK_0, tempDir, testConfig } from './server-fixture.js';

const MAIN = fileURLToPath(new URL('./server-cluster-main.js', import.meta.url));

function healthz(port: number): Promise<{ status: number; pid: string }> {
  return new Promise((resolve, reject) => {
    // agent: false -> a new connection each time, so the primary hands them out in turn.
    const req = http.get({ host: '127.0.0.1', port, path: '/healthz', agent: false }, (res) => {
      res.resume();
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, pid: String(res.headers['x-postern-pid']) }),
      );
    });
    req.on('error', reject);
  });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

void test(
  'cluster with 2 workers: both answer /healthz on one port; SIGTERM stops them all',
  { timeout: 25_000 },
  async () => {
    const dir = await tempDir('cluster');
    const config = testConfig(dir, {
      listen: { http: LOOPBACK_0 },
      server: { workers: 2, shutdownGrace: 2 },
      level: 'warn',
    });
    const child = spawn(process.execPath, [MAIN, JSON.stringify(config)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      const info = await new Promise<ReadyInfo>((resolve, reject) => {
        let out = '';
        const timer = setTimeout(() => reject(new Error(`not ready; stderr: ${stderr}`)), 15_000);
        child.stdout.on('data', (c: Buffer) => {
          out += c.toString();
          const line = out.split('\n').find((l) => l.startsWith('READY '));
          if (line !== undefined) {
            clearTimeout(timer);
            resolve(JSON.parse(line.slice(6)) as ReadyInfo);
          }
        });
        child.on('exit', () => reject(new Error(`exited before ready; stderr: ${stderr}`)));
      });
      assert.equal(info.workers, 2);
      assert.equal(info.pid, child.pid);
      const port = info.listeners.find((l) => l.name === 'http')?.port ?? 0;
      assert.ok(port > 0, 'port 0 resolved to a real port');

      const pids = new Set<string>();
      for (let i = 0; i < 8; i++) {
        const r = await healthz(port);
        assert.equal(r.status, 200);
        pids.add(r.pid);
      }
      assert.equal(pids.size, 2, `answers came from ${[...pids].join(', ')}`);
      assert.ok(!pids.has(String(child.pid)), 'the primary does not serve');

      child.kill('SIGTERM');
      assert.equal(await exited, 0, stderr);
      for (const pid of pids) assert.equal(alive(Number(pid)), false, `worker ${pid} exited`);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
      await rm(dir, { recursive: true, force: true });
    }
  },
);
