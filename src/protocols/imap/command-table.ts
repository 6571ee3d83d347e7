// Every IMAP command, by upper-case name. UID forms (`UID FETCH`) are looked up by their
// sub-command name, for the specs with `uidForm`. Each family lives in its own file.

import { ACL_COMMANDS } from './commands/acl.js';
import { ANY_STATE_COMMANDS } from './commands/any-state.js';
import { APPEND_COMMANDS } from './commands/append.js';
import { AUTH_COMMANDS } from './commands/authenticate.js';
import { COMPRESS_COMMANDS } from './commands/compress.js';
import { COPY_MOVE_COMMANDS } from './commands/copy-move.js';
import { ENABLE_COMMANDS } from './commands/enable.js';
import { EXPUNGE_COMMANDS } from './commands/expunge.js';
import { FETCH_COMMANDS } from './commands/fetch.js';
import { IDLE_COMMANDS } from './commands/idle.js';
import { LIST_COMMANDS } from './commands/list.js';
import { MAILBOX_COMMANDS } from './commands/mailbox.js';
import { METADATA_COMMANDS } from './commands/metadata.js';
import { NOTIFY_COMMANDS } from './commands/notify.js';
import { SEARCH_COMMANDS } from './commands/search.js';
import { SELECT_COMMANDS } from './commands/select.js';
import { SORT_COMMANDS } from './commands/sort.js';
import { STATUS_COMMANDS } from './commands/status.js';
import { STORE_COMMANDS } from './commands/store.js';
import { QUOTA_COMMANDS } from './commands/quota.js';
import { THREAD_COMMANDS } from './commands/thread.js';
import type { ImapCommandSpec } from './context.js';

function table(...families: ImapCommandSpec[][]): ReadonlyMap<string, ImapCommandSpec> {
  const map = new Map<string, ImapCommandSpec>();
  for (const spec of families.flat()) {
    if (map.has(spec.name)) throw new Error(`IMAP command ${spec.name} declared twice`);
    map.set(spec.name, spec);
  }
  return map;
}

export const COMMANDS = table(
  ANY_STATE_COMMANDS,
  AUTH_COMMANDS,
  ENABLE_COMMANDS,
  IDLE_COMMANDS,
  SELECT_COMMANDS,
  MAILBOX_COMMANDS,
  LIST_COMMANDS,
  STATUS_COMMANDS,
  APPEND_COMMANDS,
  FETCH_COMMANDS,
  STORE_COMMANDS,
  SEARCH_COMMANDS,
  SORT_COMMANDS,
  THREAD_COMMANDS,
  EXPUNGE_COMMANDS,
  COPY_MOVE_COMMANDS,
  QUOTA_COMMANDS,
  COMPRESS_COMMANDS,
  METADATA_COMMANDS,
  NOTIFY_COMMANDS,
  ACL_COMMANDS,
);
