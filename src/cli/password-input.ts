// Passwords for `user add` and `user passwd`: from --password, from standard input
// (--password-stdin, one line), or typed twice at a terminal without echo.

import { UsageError } from '../core/errors.js';

const MAX_STDIN_PASSWORD = 4096;

export interface PasswordOptions {
  password?: string;
  passwordStdin?: boolean;
}

/** Reads the first line of standard input (the trailing LF or CRLF is not part of the password). */
export async function readPasswordFromStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of process.stdin as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_STDIN_PASSWORD)
      throw new UsageError(`password on standard input is longer than ${MAX_STDIN_PASSWORD} bytes`);
    chunks.push(chunk);
  }
  let text = Buffer.concat(chunks).toString('utf8');
  const nl = text.indexOf('\n');
  if (nl >= 0) text = text.slice(0, nl);
  if (text.endsWith('\r')) text = text.slice(0, -1);
  if (text === '') throw new UsageError('no password on standard input');
  return text;
}

/** Prompts on the terminal with echo off. */
export function promptHidden(prompt: string): Promise<string> {
  const stdin = process.stdin;
  return new Promise((resolve, reject) => {
    let typed = '';
    const cleanup = (): void => {
      stdin.removeListener('data', onData);
      stdin.setRawMode(false);
      stdin.pause();
      process.stderr.write('\n');
    };
    const onData = (data: Buffer): void => {
      for (const ch of data.toString('utf8')) {
        if (ch === '\r' || ch === '\n') {
          cleanup();
          resolve(typed);
          return;
        }
        if (ch === '\u0003' || (ch === '\u0004' && typed === '')) {
          cleanup();
          reject(new UsageError('cancelled'));
          return;
        }
        if (ch === '\u007f' || ch === '\b') {
          typed = Array.from(typed).slice(0, -1).join('');
        } else if (ch >= ' ' && typed.length < MAX_STDIN_PASSWORD) {
          typed += ch;
        }
      }
    };
    process.stderr.write(prompt);
    stdin.setRawMode(true);
    stdin.resume();
    stdin.on('data', onData);
  });
}

/** The password the options ask for; prompts twice on a terminal when neither option is given. */
export async function obtainPassword(opts: PasswordOptions): Promise<string> {
  if (opts.password !== undefined && opts.passwordStdin === true) {
    throw new UsageError('give either --password or --password-stdin, not both');
  }
  if (opts.password !== undefined) {
    if (opts.password === '') throw new UsageError('password is empty');
    return opts.password;
  }
  if (opts.passwordStdin === true) return readPasswordFromStdin();
  if (process.stdin.isTTY !== true) {
    throw new UsageError('give --password PASSWORD or --password-stdin (standard input is not a terminal)');
  }
  const first = await promptHidden('New password: ');
  if (first === '') throw new UsageError('password is empty');
  const second = await promptHidden('Repeat password: ');
  if (first !== second) throw new UsageError('the passwords do not match');
  return first;
}
