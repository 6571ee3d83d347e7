// Maildir reader (https://cr.yp.to/proto/maildir.html): the files of new/ and cur/, in name
// order (names start with the delivery time, so this is roughly arrival order). Flags come
// from the ":2," info suffix; the internal date is the file's mtime. Bytes are not read here:
// each entry's file is streamed by the importer.

import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';

/** The IMAP system flags (RFC 9051 §2.3.2) that Maildir info letters stand for. */
export type MaildirFlag = '\\Seen' | '\\Answered' | '\\Flagged' | '\\Deleted' | '\\Draft';

export interface MaildirEntry {
  /** Absolute path of the message file. */
  path: string;
  /** "new" or "cur". */
  folder: 'new' | 'cur';
  name: string;
  flags: MaildirFlag[];
  internalDate: Date;
  /** File size in bytes (before CRLF conversion). */
  size: number;
}

export class MaildirFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MaildirFormatError';
  }
}

const INFO_FLAGS = new Map<string, MaildirFlag>([
  ['S', '\\Seen'],
  ['R', '\\Answered'],
  ['F', '\\Flagged'],
  ['T', '\\Deleted'],
  ['D', '\\Draft'],
]);

/** System flags of a Maildir file name's ":2," info; other letters (P, keywords a-z) are ignored. */
export function maildirFlags(name: string): MaildirFlag[] {
  const at = name.lastIndexOf(':2,');
  if (at < 0) return [];
  const flags: MaildirFlag[] = [];
  for (const ch of name.slice(at + 3)) {
    const flag = INFO_FLAGS.get(ch);
    if (flag !== undefined && !flags.includes(flag)) flags.push(flag);
  }
  return flags;
}

/** True when `dir` has cur/ and new/ subdirectories. */
export async function isMaildir(dir: string): Promise<boolean> {
  try {
    const [cur, nw] = await Promise.all([stat(path.join(dir, 'cur')), stat(path.join(dir, 'new'))]);
    return cur.isDirectory() && nw.isDirectory();
  } catch {
    return false;
  }
}

/** Message file names of new/ and cur/ (dot files skipped), sorted. Stats are done lazily by readMaildir. */
export type MaildirListing = Array<{ folder: 'new' | 'cur'; name: string }>;

export async function listMaildir(dir: string): Promise<MaildirListing> {
  if (!(await isMaildir(dir))) throw new MaildirFormatError(`${dir}: not a Maildir (it needs cur/ and new/)`);
  const out: MaildirListing = [];
  for (const folder of ['new', 'cur'] as const) {
    const entries = await readdir(path.join(dir, folder), { withFileTypes: true });
    const names = entries.filter((e) => e.isFile() && !e.name.startsWith('.')).map((e) => e.name);
    names.sort();
    for (const name of names) out.push({ folder, name });
  }
  return out;
}

/** Every message of the Maildir (or of `listed`, a listMaildir result) with its flags, date and size. */
export async function* readMaildir(
  dir: string,
  listed?: MaildirListing,
): AsyncGenerator<MaildirEntry, void, undefined> {
  const root = path.resolve(dir);
  for (const { folder, name } of listed ?? (await listMaildir(root))) {
    const file = path.join(root, folder, name);
    let st;
    try {
      st = await stat(file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue; // moved by a running MUA
      throw err;
    }
    if (!st.isFile()) continue;
    yield { path: file, folder, name, flags: maildirFlags(name), internalDate: st.mtime, size: st.size };
  }
}
