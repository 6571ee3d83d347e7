// What one sequential tiny APPEND costs the server (issue 11), two instruments in one run
// against `postern serve` (no Dovecot, no root needed):
//   - CPU per APPEND of each server thread (main, writer, GC helpers...), from
//     /proc/PID/task/*/stat around N appends (wall time per APPEND beside it);
//   - WAL frames per commit by b-tree: after each of K more appends, the WAL's frame headers of
//     the last commit are read (SQLite's documented WAL format) and their page numbers mapped to
//     tables and indexes with the dbstat virtual table (a read-only connection).
// On a shared virtual machine the wall and CPU figures move by tens of percent between runs;
// the frame counts do not. Usage: node BUILD/bench/append-cost.js [--appends N] [--frames K]

import Database from 'better-sqlite3';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { ImapRawClient } from '../test/helpers/imap-raw-client.js';
import { startPosternImap } from '../test/helpers/postern-imap.js';
import { describeMachine, log, onCleanup, runBench } from './bench-process.js';

const { values } = parseArgs({
  options: {
    appends: { type: 'string', default: '2000' },
    frames: { type: 'string', default: '20' },
  },
});
const APPENDS = Number(values.appends);
const FRAMES = Number(values.frames);
const USER = 'cost@example.test';
const PASSWORD = 'cost-password';

function tiny(i: number): Buffer {
  return Buffer.from(
    `From: <sent@example.test>\r\nTo: <${USER}>\r\nSubject: tiny ${i}\r\n` +
      `Message-ID: <tiny.${i}@bench.example.test>\r\n\r\nA short note, number ${i}.\r\n`,
  );
}

/** CPU milliseconds so far of each thread of `pid`, by "name/tid". */
function threadCpu(pid: number): Map<string, number> {
  const ticksPerMs = 100 / 1000; // USER_HZ
  const out = new Map<string, number>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
    const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    out.set(`${name}/${tid}`, (Number(fields[11]) + Number(fields[12])) / ticksPerMs);
  }
  return out;
}

/** The pages of the WAL's last commit (frames after the one before it), from the frame headers. */
function lastCommitPages(wal: Buffer): number[] {
  const pageSize = wal.readUInt32BE(8);
  const salt = wal.readUInt32BE(16);
  const frames: Array<{ page: number; commit: boolean }> = [];
  for (let at = 32; at + 24 + pageSize <= wal.length; at += 24 + pageSize) {
    if (wal.readUInt32BE(at + 8) !== salt) break; // a frame of an earlier generation
    frames.push({ page: wal.readUInt32BE(at), commit: wal.readUInt32BE(at + 4) !== 0 });
  }
  let end = frames.length - 1;
  while (end >= 0 && !frames[end]!.commit) end--;
  let start = end - 1;
  while (start >= 0 && !frames[start]!.commit) start--;
  return frames.slice(start + 1, end + 1).map((f) => f.page);
}

async function main(): Promise<void> {
  const server = await startPosternImap({
    domains: ['example.test'],
    users: [{ address: USER, password: PASSWORD }],
    logLevel: 'warn',
  });
  onCleanup('postern', () => server.stop());
  const c = await ImapRawClient.connect(server.imapPort);
  c.socket.setNoDelay(true);
  onCleanup('client', () => c.close());
  const must = async (parts: Parameters<ImapRawClient['command']>[0]): Promise<void> => {
    const r = await c.command(parts);
    if (r.status !== 'OK') throw new Error(r.tagged);
  };
  await must(`LOGIN ${USER} ${PASSWORD}`);
  await must('CREATE Tiny');
  let n = 0;
  log(`warm-up: 300 APPENDs`);
  for (; n < 300; n++) await must(['APPEND Tiny ', { literal: tiny(n) }]);
  log(`${APPENDS} sequential APPENDs, CPU per thread`);
  const before = threadCpu(server.pid);
  const t0 = performance.now();
  for (let i = 0; i < APPENDS; i++, n++) await must(['APPEND Tiny ', { literal: tiny(n) }]);
  const wallUs = ((performance.now() - t0) / APPENDS) * 1000;
  const after = threadCpu(server.pid);
  const out = [`APPEND cost, ${new Date().toISOString()}, ${describeMachine()}`, ''];
  out.push(`wall per APPEND: ${wallUs.toFixed(0)} µs (client in another process)`);
  const rows = [...after]
    .map(([k, ms]) => [k, ((ms - (before.get(k) ?? 0)) / APPENDS) * 1000] as const)
    .filter(([, us]) => us > 0)
    .sort((a, b) => b[1] - a[1]);
  for (const [k, us] of rows) out.push(`  ${k.padEnd(24)} ${us.toFixed(0).padStart(6)} µs CPU per APPEND`);
  log(`${FRAMES} more APPENDs, WAL frames of each commit`);
  const file = path.join(server.dir, 'data', 'postern.sqlite');
  const byTree = new Map<string, number>();
  let total = 0;
  for (let k = 0; k < FRAMES; k++, n++) {
    await must(['APPEND Tiny ', { literal: tiny(n) }]);
    const pages = lastCommitPages(readFileSync(`${file}-wal`));
    const db = new Database(file, { readonly: true });
    try {
      const names = new Map(
        db
          .prepare<[], { pageno: number; name: string; pagetype: string }>(
            'SELECT pageno, name, pagetype FROM dbstat',
          )
          .all()
          .map((r) => [r.pageno, `${r.name} (${r.pagetype})`]),
      );
      for (const p of pages) {
        const name = names.get(p) ?? `page ${p} (not in dbstat: new)`;
        byTree.set(name, (byTree.get(name) ?? 0) + 1);
      }
    } finally {
      db.close();
    }
    total += pages.length;
  }
  out.push('', `WAL frames per commit: ${(total / FRAMES).toFixed(2)} (mean of ${FRAMES})`);
  for (const [name, count] of [...byTree].sort((a, b) => b[1] - a[1]))
    out.push(`  ${(count / FRAMES).toFixed(2).padStart(5)}  ${name}`);
  process.stdout.write(out.join('\n') + '\n');
}

await runBench('append-cost', main);
