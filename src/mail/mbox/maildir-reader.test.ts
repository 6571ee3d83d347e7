import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, mkdir, rm, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {
  isMaildir,
  maildirFlags,
  readMaildir,
  MaildirFormatError,
  type MaildirEntry,
} from './maildir-reader.js';

void test('maildirFlags maps the :2, info letters to system flags', () => {
  assert.deepEqual(maildirFlags('1700000000.M1P2.host:2,FRS'), ['\\Flagged', '\\Answered', '\\Seen']);
  assert.deepEqual(maildirFlags('1700000000.M1P2.host:2,DT'), ['\\Draft', '\\Deleted']);
  assert.deepEqual(maildirFlags('1700000000.M1P2.host:2,Pabc'), []);
  assert.deepEqual(maildirFlags('1700000000.M1P2.host'), []);
  assert.deepEqual(maildirFlags('x:2,SS'), ['\\Seen']);
});

void test('reads new/ and cur/ in name order with flags, mtime and size; skips dot files', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'postern-maildir-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  for (const sub of ['cur', 'new', 'tmp']) await mkdir(path.join(dir, sub));
  await writeFile(path.join(dir, 'new', '200.b.host'), 'Subject: new\n\nx\n');
  await writeFile(path.join(dir, 'cur', '100.a.host:2,S'), 'Subject: seen\n\nyy\n');
  await writeFile(path.join(dir, 'cur', '150.c.host:2,RF'), 'Subject: flagged\n\nz\n');
  await writeFile(path.join(dir, 'cur', '.hidden'), 'junk');
  await writeFile(path.join(dir, 'tmp', '300.d.host'), 'in flight');
  const when = new Date('2020-05-06T07:08:09Z');
  await utimes(path.join(dir, 'cur', '100.a.host:2,S'), when, when);

  assert.equal(await isMaildir(dir), true);
  const entries: MaildirEntry[] = [];
  for await (const e of readMaildir(dir)) entries.push(e);
  assert.deepEqual(
    entries.map((e) => [e.folder, e.name, e.flags]),
    [
      ['new', '200.b.host', []],
      ['cur', '100.a.host:2,S', ['\\Seen']],
      ['cur', '150.c.host:2,RF', ['\\Answered', '\\Flagged']],
    ],
  );
  assert.equal(entries[1]!.internalDate.toISOString(), when.toISOString());
  assert.equal(entries[1]!.size, Buffer.byteLength('Subject: seen\n\nyy\n'));
  assert.equal(entries[0]!.path, path.join(dir, 'new', '200.b.host'));
});

void test('an empty Maildir has no entries; a directory without cur/ and new/ is refused', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'postern-maildir-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await mkdir(path.join(dir, 'cur'));
  assert.equal(await isMaildir(dir), false);
  await assert.rejects(async () => {
    for await (const _ of readMaildir(dir)) void _;
  }, MaildirFormatError);
  await mkdir(path.join(dir, 'new'));
  const entries: MaildirEntry[] = [];
  for await (const e of readMaildir(dir)) entries.push(e);
  assert.deepEqual(entries, []);
});
