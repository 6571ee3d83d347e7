// Runs every differential script against a reference server (Dovecot) and a subject server
// (Postern) started by the caller, and compares the normalised answers.

import { readFileSync } from 'node:fs';
import path from 'node:path';
import {
  compareAnswers,
  dataDir,
  parseScript,
  runScript,
  scriptNames,
  type AcceptedCapability,
  type CommandAnswer,
  type Difference,
  type ScriptAccounts,
} from './differential.js';

/**
 * Dovecot's METADATA (RFC 5464): off by default; on with an attribute dictionary per user and
 * imap_metadata, so 10-metadata.imap compares GETMETADATA/SETMETADATA with Postern's.
 */
export const DOVECOT_METADATA_CONFIG = [
  'mail_attribute_dict = file:%h/Maildir/dovecot-attributes',
  'protocol imap {',
  '  imap_metadata = yes',
  '}',
].join('\n');

export const DIFF_PASSWORD = 'diff-secret-1';

/** The two accounts of script number i (0-based), the same on both servers. */
export function scriptAccounts(i: number): ScriptAccounts {
  return {
    user: `d${i}a@example.test`,
    pass: DIFF_PASSWORD,
    user2: `d${i}b@example.test`,
    pass2: DIFF_PASSWORD,
  };
}

/** Every account any script uses. */
export function allAccounts(): Array<{ user: string; password: string }> {
  const out: Array<{ user: string; password: string }> = [];
  scriptNames().forEach((_, i) => {
    const a = scriptAccounts(i);
    out.push({ user: a.user, password: a.pass }, { user: a.user2, password: a.pass2 });
  });
  return out;
}

export interface DifferentialResult {
  reference: CommandAnswer[];
  subject: CommandAnswer[];
  differences: Difference[];
  /** The accepted capability differences that occurred. */
  capabilitiesSeen: Set<string>;
  total: number;
}

/**
 * Runs all scripts (or those whose names start with one of `only`) against one server, all
 * at once: each script has its own accounts, so they cannot see each other.
 */
export async function runAll(port: number, only: string[] = []): Promise<CommandAnswer[]> {
  const names = scriptNames();
  const runs = names.map(async (name, i) => {
    if (only.length > 0 && !only.some((o) => name.startsWith(o))) return [];
    const commands = parseScript(readFileSync(path.join(dataDir(), name), 'utf8'));
    return runScript(name, commands, port, scriptAccounts(i));
  });
  return (await Promise.all(runs)).flat();
}

/**
 * Runs every script against both servers (at the same time) and compares, the capabilities in
 * `capabilities` being taken out of the lists of the server that alone announces them.
 */
export async function runDifferential(
  referencePort: number,
  subjectPort: number,
  opts: { only?: string[]; capabilities?: readonly AcceptedCapability[] } = {},
): Promise<DifferentialResult> {
  const [reference, subject] = await Promise.all([
    runAll(referencePort, opts.only),
    runAll(subjectPort, opts.only),
  ]);
  const c = compareAnswers(reference, subject, opts.capabilities);
  return { reference, subject, ...c, total: reference.length };
}
