#!/usr/bin/env node
// The `postern` command. Every error ends the process with ONE line on stderr and status 1
// (POSTERN_DEBUG=1 adds the stack trace).

import { Command, CommanderError } from 'commander';
import { StoreError, UsageError } from '../core/errors.js';
import { registerInit } from './commands/init.js';
import { registerServe } from './commands/serve.js';
import { registerDev } from './commands/dev.js';
import { registerDomain } from './commands/domain.js';
import { registerDns } from './commands/dns.js';
import { registerUser } from './commands/user.js';
import { registerAlias } from './commands/alias.js';
import { registerMailbox } from './commands/mailbox.js';
import { registerImport } from './commands/import.js';
import { registerGc } from './commands/gc.js';
import { registerQueue } from './commands/queue.js';

/** Collapses a possibly multi-line message to one line. */
function oneLine(text: string): string {
  return text
    .split('\n')
    .map((s) => s.trim())
    .filter((s) => s.length > 0)
    .join(' ');
}

export function buildProgram(): Command {
  const program = new Command('postern');
  program
    .description('Postern mail server: SMTP, IMAP and POP3 on an embedded store')
    .option('--config <file>', 'config file (default: $POSTERN_CONFIG or ./postern.toml)')
    .showHelpAfterError(false)
    .exitOverride()
    .configureOutput({
      outputError: (str, write) => write(`${oneLine(str)}\n`),
    });
  registerInit(program);
  registerServe(program);
  registerDev(program);
  registerDomain(program);
  registerDns(program);
  registerUser(program);
  registerAlias(program);
  registerMailbox(program);
  registerImport(program);
  registerGc(program);
  registerQueue(program);
  // Sub-commands inherit exitOverride and output settings only when set on each of them.
  const apply = (cmd: Command): void => {
    for (const sub of cmd.commands) {
      sub.exitOverride();
      sub.configureHelp({ showGlobalOptions: true });
      sub.configureOutput({ outputError: (str, write) => write(`${oneLine(str)}\n`) });
      apply(sub);
    }
  };
  apply(program);
  return program;
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv, { from: 'user' });
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode; // commander already printed its one line
    const debug = process.env.POSTERN_DEBUG === '1';
    let message: string;
    if (err instanceof UsageError || err instanceof StoreError) message = err.message;
    else if (err instanceof Error) message = `${err.name === 'Error' ? '' : `${err.name}: `}${err.message}`;
    else message = String(err);
    process.stderr.write(`error: ${oneLine(message)}\n`);
    if (debug && err instanceof Error && err.stack !== undefined) process.stderr.write(`${err.stack}\n`);
    return 1;
  }
}

const code = await main(process.argv.slice(2));
process.exitCode = code;
