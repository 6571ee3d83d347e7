// Every SMTP command, declared as data: which verbs, in which states, which handler. The
// session looks a parsed command up here by verb; one file per command family in commands/.

import type { CommandSpec, SmtpVerb } from './context.js';
import { authCommand } from './commands/auth.js';
import { bdatCommand, dataCommand } from './commands/data.js';
import { ehloCommand } from './commands/ehlo.js';
import { mailCommand } from './commands/mail.js';
import { noopCommand, quitCommand, rsetCommand, vrfyCommand } from './commands/misc.js';
import { rcptCommand } from './commands/rcpt.js';
import { starttlsCommand } from './commands/starttls.js';

const SPECS: readonly CommandSpec[] = [
  ehloCommand,
  mailCommand,
  rcptCommand,
  dataCommand,
  bdatCommand,
  authCommand,
  starttlsCommand,
  rsetCommand,
  noopCommand,
  quitCommand,
  vrfyCommand,
];

export const COMMANDS: ReadonlyMap<SmtpVerb, CommandSpec> = new Map(
  SPECS.flatMap((spec) => spec.verbs.map((verb) => [verb, spec] as const)),
);
