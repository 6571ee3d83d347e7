// @ts-check
// The layer rules of lint/layers.js, run by the real rule on a file placed in each layer: every
// forbidden arrow is refused with its reason, and the arrows the layers rely on pass. The files
// need not exist; the rule judges paths, so a one-line source is enough.

import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { Linter } from 'eslint';
import tseslint from 'typescript-eslint';
import postern from './layer-imports.js';
import { LAYER_RULES } from './layers.js';

const linter = new Linter({ cwd: LAYER_RULES.root });

/** @type {import('eslint').Linter.Config[]} */
const CONFIG = [
  {
    files: ['**/*.ts'],
    languageOptions: { parser: tseslint.parser },
    plugins: { postern },
    rules: { 'postern/layer-imports': ['error', LAYER_RULES] },
  },
];

/**
 * The rule's verdicts on `code` as the file `file` (repository path): message ids, in order.
 * @param {string} file
 * @param {string} code
 */
function verdicts(file, code) {
  const messages = linter.verify(code, CONFIG, { filename: path.join(LAYER_RULES.root, file) });
  for (const m of messages) assert.equal(m.ruleId, 'postern/layer-imports', m.message);
  return messages.map((m) => m.messageId);
}

/**
 * @param {string} file
 * @param {string} code
 * @param {string} messageId
 */
function refused(file, code, messageId) {
  assert.deepEqual(verdicts(file, code), [messageId], `${file}: ${code}`);
}

/** @param {string} file @param {string} code */
function allowed(file, code) {
  assert.deepEqual(verdicts(file, code), [], `${file}: ${code}`);
}

void test('core imports nothing else of the repository', () => {
  refused('src/core/log.ts', "import type { PosternConfig } from '../config/types.js';", 'forbidden');
  refused('src/core/x.ts', "import { MailStore } from '../store/types.js';", 'forbidden');
  allowed('src/core/log.ts', "import { pino } from 'pino';\nimport { UsageError } from './errors.js';");
});

void test('wire imports only wire and node builtins that do no I/O', () => {
  refused('src/wire/imap/reader.ts', "import { ImapNo } from '../../protocols/imap/errors.js';", 'forbidden');
  refused('src/wire/smtp/reader.ts', "import type { Limits } from '../../core/limits.js';", 'forbidden');
  refused('src/wire/pop3/x.ts', "import { readFile } from 'node:fs/promises';", 'builtin');
  refused('src/wire/pop3/x.ts', "import net from 'net';", 'builtin');
  refused('src/wire/imap/x.ts', "import libmime from 'libmime';", 'package');
  allowed('src/wire/smtp/reader.ts', "import { LineQueue } from '../line-queue.js';");
  allowed(
    'src/wire/imap/x.ts',
    "import { Buffer } from 'node:buffer';\nimport { x } from '../smtp/reader.js';",
  );
});

void test('mail (mime, mbox) never imports the store or anything above core', () => {
  refused('src/mail/mime/indexer.ts', "import type { StoredBlob } from '../../store/types.js';", 'forbidden');
  refused(
    'src/mail/mbox/maildir-reader.ts',
    "import type { SystemFlag } from '../../store/types.js';",
    'forbidden',
  );
  refused('src/mail/mime/x.ts', "import { x } from '../../config/types.js';", 'forbidden');
  allowed('src/mail/mime/indexer.ts', "import type { Limits } from '../../core/limits.js';");
});

void test('config takes only core, mail and the scrypt bounds of auth/password.ts', () => {
  refused('src/config/load.ts', "import { Authenticator } from '../auth/authenticator.js';", 'forbidden');
  refused('src/config/load.ts', "import type { MailStore } from '../store/types.js';", 'forbidden');
  allowed('src/config/load.ts', "import { MAX_LOG_N } from '../auth/password.js';");
  allowed('src/config/load.ts', "import { normalizeDomain } from '../mail/domain.js';");
});

void test('the store imports neither config nor anything above it', () => {
  refused('src/store/open-store.ts', "import type { PosternConfig } from '../config/types.js';", 'forbidden');
  refused('src/store/sqlite/sqlite-store.ts', "import { x } from '../../config/load.js';", 'forbidden');
  refused('src/store/gc-schedule.ts', "import { x } from '../delivery/local.js';", 'forbidden');
  allowed(
    'src/store/sqlite/sqlite-store.ts',
    "import Database from 'better-sqlite3';\nimport './schema.js';",
  );
  allowed('src/store/sqlite/x.ts', "import type { BlobStore } from '../blob/types.js';");
  // One backend does not import another.
  refused('src/store/sqlite/x.ts', "import { FileBlobStore } from '../blob/file-blob-store.js';", 'backend');
});

void test('a backend is imported only by src/app/open-store.ts', () => {
  const sqlite = "import { openSqliteStore } from '../../store/sqlite/sqlite-store.js';";
  refused('src/protocols/imap/x.ts', sqlite, 'backend');
  refused(
    'src/protocols/imap/commands/x.ts',
    "import { x } from '../../../store/sqlite/mailbox-name.js';",
    'backend',
  );
  refused('src/protocols/pop3/x.ts', "import { x } from '../../store/postgres/messages.js';", 'backend');
  refused('src/delivery/local.ts', "import { x } from '../store/sqlite/flags.js';", 'backend');
  refused('src/auth/x.ts', "import { FileBlobStore } from '../store/blob/file-blob-store.js';", 'backend');
  refused('src/cli/context.ts', "const m = await import('../store/sqlite/sqlite-store.js');", 'backend');
  refused('src/app/server.ts', "import { x } from '../store/sqlite/sqlite-store.js';", 'backend');
  // However the path is spelt.
  refused('src/server/x.ts', "import { x } from '../store/../store/./sqlite/schema.js';", 'backend');
  refused('src/delivery/x.ts', "import Database from 'better-sqlite3';", 'backendPackage');
  refused('src/app/open-store.ts', "import pg from 'pg';", 'backendPackage');
  allowed(
    'src/app/open-store.ts',
    "import { openSqliteStore } from '../store/sqlite/sqlite-store.js';\n" +
      "import { FileBlobStore } from '../store/blob/file-blob-store.js';",
  );
  allowed('src/protocols/imap/x.ts', "import type { MailStore } from '../../store/types.js';");
  allowed('src/protocols/imap/x.ts', "import type { BlobStore } from '../../store/blob/types.js';");
});

void test('a protocol imports the layers below it and only the interface of the server', () => {
  refused('src/protocols/imap/x.ts', "import { x } from '../smtp/session.js';", 'forbidden');
  refused('src/protocols/smtp/x.ts', "import { runServer } from '../../server/runtime.js';", 'forbidden');
  refused('src/protocols/pop3/x.ts', "import { x } from '../../app/protocol-registry.js';", 'forbidden');
  refused('src/protocols/pop3/x.ts', "import { x } from '../../cli/main.js';", 'forbidden');
  allowed(
    'src/protocols/imap/session.ts',
    "import type { Connection } from '../../server/types.js';\n" +
      "import { SessionInput } from '../../server/session-input.js';\n" +
      "import { ImapReader } from '../../wire/imap/reader.js';\n" +
      "import { deliverLocal } from '../../delivery/local.js';",
  );
});

void test('the server runtime imports no protocol and no composition', () => {
  refused(
    'src/server/runtime.ts',
    "import { PROTOCOL_HANDLERS } from '../protocols/registry.js';",
    'forbidden',
  );
  refused(
    'src/server/runtime.ts',
    "import { createImapHandler } from '../protocols/imap/handler.js';",
    'forbidden',
  );
  refused('src/server/runtime.ts', "import { openStore } from '../app/open-store.js';", 'forbidden');
  refused('src/server/x.ts', "export { x } from '../delivery/local.js';", 'forbidden');
  refused('src/server/x.ts', "type H = import('../protocols/imap/handler.js').H;", 'forbidden');
  allowed('src/server/runtime.ts', "import { GcSchedule } from '../store/gc-schedule.js';");
});

void test('the layers in between keep their arrows', () => {
  refused('src/dns/resolver.ts', "import type { PosternConfig } from '../config/types.js';", 'forbidden');
  refused('src/auth/authenticator.ts', "import { x } from '../server/types.js';", 'forbidden');
  refused('src/workers/pool.ts', "import { x } from '../delivery/message-authentication.js';", 'forbidden');
  allowed('src/workers/verify-worker.ts', "import { x } from '../delivery/message-authentication.js';");
  refused('src/delivery/local.ts', "import { x } from '../protocols/smtp/session.js';", 'forbidden');
  refused('src/delivery/local.ts', "import { x } from '../auth/authenticator.js';", 'forbidden');
  allowed('src/delivery/trace-headers.ts', "import { TaskTimeout } from '../workers/pool.js';");
});

void test('only cli imports the composition layer; tests and files outside src are not layered', () => {
  allowed('src/cli/commands/serve.ts', "const { runServer } = await import('../../app/server.js');");
  refused('src/delivery/x.ts', "import { x } from '../app/server.js';", 'forbidden');
  refused('src/auth/x.ts', "import { x } from '../../test/helpers/dns-server.js';", 'forbidden');
});

void test('admin (HTTP routes) takes the store and the HTTP route types, not the runtime or a protocol', () => {
  allowed('src/admin/x.ts', "import { tryParseAddress } from '../store/rules/address.js';");
  allowed('src/admin/x.ts', "import type { HttpRoutes } from '../server/http-routes.js';");
  refused('src/admin/x.ts', "import { ListenerSet } from '../server/listeners.js';", 'forbidden');
  refused('src/admin/x.ts', "import { x } from '../protocols/imap/handler.js';", 'forbidden');
  refused('src/server/x.ts', "import { x } from '../admin/autoconfig-routes.js';", 'forbidden');
  allowed('src/app/x.ts', "import { autoconfigRoutes } from '../admin/autoconfig-routes.js';");
});

void test('a file under src/ that no layer holds is refused', () => {
  refused('src/webmail/api.ts', 'export const x = 1;', 'noLayer');
  refused('src/protocols/shared.ts', 'export const x = 1;', 'noLayer');
});
