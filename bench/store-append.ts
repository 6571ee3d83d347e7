// Appends per second into the embedded store for 4 KiB messages, with 1 and with 20 concurrent
// writers, beside the disk's own fsync rate measured in the same run (the physical limit that
// group commit works around).
// Usage: npm run bench -- [--messages N] [--dir DIR] [--inline-max BYTES]
// Every message goes the full durable path the server takes (open-store.ts): hashed and
// MIME-indexed, then its bytes stored in the append's own transaction (messages up to
// --inline-max, default 32 KiB), or written to a blob file, fsynced, renamed and its directory
// fsynced first (--inline-max 0: every message a file); acknowledged after the WAL fsync.

import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { DEFAULT_LIMITS } from '../src/core/limits.js';
import { FileBlobStore } from '../src/store/blob/file-blob-store.js';
import { DEFAULT_INLINE_MAX_BYTES, InlineBlobStore } from '../src/store/blob/inline-blob-store.js';
import { openSqliteStore } from '../src/store/sqlite/sqlite-store.js';
import { deliverLocal } from '../src/delivery/local.js';

const { values } = parseArgs({
  options: {
    messages: { type: 'string', default: '3000' },
    dir: { type: 'string', default: '' },
    seconds: { type: 'string', default: '3' },
    'inline-max': { type: 'string', default: String(DEFAULT_INLINE_MAX_BYTES) },
  },
});
const inlineMaxBytes = Number(values['inline-max']);
const total = Number(values.messages);
const fsyncSeconds = Number(values.seconds);
const baseDir = values.dir || (await fs.mkdtemp(path.join(os.tmpdir(), 'postern-bench-')));

function message(i: number, writer: number): Buffer {
  const head =
    `From: Writer ${writer} <w${writer}@bench.test>\r\nTo: bench@example.test\r\n` +
    `Subject: bench message ${i} from writer ${writer}\r\nMessage-ID: <${i}.${writer}.${Date.now()}@bench.test>\r\n` +
    `Date: ${new Date().toUTCString()}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n`;
  const line = `The quick brown fox jumps over the lazy dog ${i}/${writer}.\r\n`;
  let body = '';
  while (head.length + body.length + line.length <= 4096) body += line;
  return Buffer.from(head + body.padEnd(4096 - head.length, '.'), 'utf8');
}

async function fsyncRate(dir: string): Promise<{ sequential: number; newFiles20: number }> {
  const buf = Buffer.alloc(4096, 0x61);
  const file = await fs.open(path.join(dir, 'fsync-probe'), 'w');
  let n = 0;
  let t0 = performance.now();
  while (performance.now() - t0 < fsyncSeconds * 1000) {
    await file.write(buf);
    await file.sync();
    n++;
  }
  const sequential = n / ((performance.now() - t0) / 1000);
  await file.close();
  // New file + fsync with 20 concurrent writers: what 20 blob writes cost with no batching at all.
  n = 0;
  t0 = performance.now();
  const worker = async (w: number): Promise<void> => {
    while (performance.now() - t0 < fsyncSeconds * 1000) {
      const f = await fs.open(path.join(dir, `probe-${w}-${n++}`), 'w');
      await f.write(buf);
      await f.sync();
      await f.close();
    }
  };
  await Promise.all(Array.from({ length: 20 }, (_, w) => worker(w)));
  const newFiles20 = n / ((performance.now() - t0) / 1000);
  await fs.rm(dir, { recursive: true, force: true });
  await fs.mkdir(dir, { recursive: true });
  return { sequential, newFiles20 };
}

async function appendRate(
  dataDir: string,
  writers: number,
): Promise<{ rate: number; commits: number; fsyncs: number }> {
  await fs.mkdir(dataDir, { recursive: true });
  const files = new FileBlobStore(dataDir);
  const store = await openSqliteStore({ dataDir, blobs: files });
  const blobs = new InlineBlobStore({ files, inline: store.inlineBlobs, inlineMaxBytes });
  await store.createDomain('example.test');
  const account = await store.createAccount({ address: 'bench@example.test', passwordHash: 'x' });
  const inbox = await store.getMailbox(account.id, 'INBOX');
  if (!inbox) throw new Error('no INBOX');
  const commitsBefore = store.stats.commits;
  const fsyncsBefore = store.stats.fsyncs;
  let next = 0;
  const t0 = performance.now();
  const worker = async (w: number): Promise<void> => {
    for (;;) {
      const i = next++;
      if (i >= total) return;
      const [outcome] = await deliverLocal({
        store,
        blobs,
        limits: DEFAULT_LIMITS,
        source: message(i, w),
        targets: [{ mailboxId: inbox.id }],
      });
      if (!outcome?.ok) throw new Error(`append ${i} failed`);
    }
  };
  await Promise.all(Array.from({ length: writers }, (_, w) => worker(w)));
  const seconds = (performance.now() - t0) / 1000;
  const commits = store.stats.commits - commitsBefore;
  const fsyncs = store.stats.fsyncs - fsyncsBefore;
  const status = await store.getMailboxById(inbox.id);
  if (status?.messages !== total) throw new Error(`expected ${total} messages, found ${status?.messages}`);
  await store.close();
  return { rate: total / seconds, commits, fsyncs };
}

const probeDir = path.join(baseDir, 'fsync');
await fs.mkdir(probeDir, { recursive: true });
const disk = await fsyncRate(probeDir);
const one = await appendRate(path.join(baseDir, 'w1'), 1);
const twenty = await appendRate(path.join(baseDir, 'w20'), 20);
await fs.rm(baseDir, { recursive: true, force: true });

const f = (x: number): string => x.toFixed(0);
console.log(
  `node ${process.version}, ${os.cpus().length} cores, ${os.cpus()[0]?.model ?? '?'}; ${total} messages of 4 KiB per run, ` +
    (inlineMaxBytes >= 4096 ? 'stored inline' : 'stored as files'),
);
console.log(
  `disk: sequential write+fsync ${f(disk.sequential)}/s; new file+fsync, 20 concurrent ${f(disk.newFiles20)}/s`,
);
console.log(`append, 1 writer:   ${f(one.rate)} msg/s (${one.commits} commits, ${one.fsyncs} WAL fsyncs)`);
console.log(
  `append, 20 writers: ${f(twenty.rate)} msg/s (${twenty.commits} commits, ${twenty.fsyncs} WAL fsyncs, ${(total / twenty.fsyncs).toFixed(1)} msg/fsync)`,
);
console.log(`ratio 20 writers / sequential fsync rate: ${(twenty.rate / disk.sequential).toFixed(2)}`);
