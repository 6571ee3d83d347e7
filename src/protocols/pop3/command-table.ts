// Every POP3 command, declared as data: which verbs, in which states, which handler. The
// session looks a parsed command up here by verb; one file per command family in commands/.

import type { CommandSpec, Pop3Verb } from './context.js';
import { apopCommand, authCommand, passCommand, userCommand } from './commands/auth.js';
import { deleCommand, listCommand, statCommand } from './commands/maildrop.js';
import {
  capaCommand,
  langCommand,
  noopCommand,
  quitCommand,
  rsetCommand,
  stlsCommand,
  utf8Command,
} from './commands/misc.js';
import { retrCommand, topCommand } from './commands/retrieve.js';

const SPECS: readonly CommandSpec[] = [
  userCommand,
  passCommand,
  apopCommand,
  authCommand,
  statCommand,
  listCommand,
  deleCommand,
  retrCommand,
  topCommand,
  capaCommand,
  noopCommand,
  rsetCommand,
  quitCommand,
  stlsCommand,
  utf8Command,
  langCommand,
];

export const COMMANDS: ReadonlyMap<Pop3Verb, CommandSpec> = new Map(
  SPECS.flatMap((spec) => spec.verbs.map((verb) => [verb, spec] as const)),
);
