// Placeholder: filled in by the command family's author.

import type { ImapCommandSpec } from '../context.js';

export const SELECT_COMMANDS: ImapCommandSpec[] = [];
