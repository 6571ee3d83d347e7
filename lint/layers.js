// @ts-check
// The layers of src/ and what each may import: the options of `postern/layer-imports`
// (lint/layer-imports.js). docs/architecture.md ("Layer rules") says the same in prose; change
// both together. A layer imports its own files and what it lists here; any other file of the
// repository is refused, and so is a file under src/ that no layer holds.

import path from 'node:path';
import { fileURLToPath } from 'node:url';

const CORE = 'src/core';
const WIRE = 'src/wire';
const MAIL = 'src/mail';
const CONFIG = 'src/config';
const DNS = 'src/dns';
const STORE = 'src/store';
const AUTH = 'src/auth';
const WORKERS = 'src/workers';
const DELIVERY = 'src/delivery';
const OUTBOUND = 'src/outbound';
const SERVER = 'src/server';
const PROTOCOLS = 'src/protocols';
const ADMIN = 'src/admin';
const WEB = 'src/web';
const APP = 'src/app';
const CLI = 'src/cli';

/** What the server hands a protocol: the Connection and ServerDeps types, and SessionInput. */
const SERVER_FOR_PROTOCOLS = ['src/server/types.ts', 'src/server/session-input.ts'];

/** Node modules that do I/O: a sans-I/O codec imports none of them. */
const IO_BUILTINS = [
  'fs',
  'net',
  'tls',
  'dgram',
  'dns',
  'http',
  'https',
  'http2',
  'child_process',
  'cluster',
  'worker_threads',
  'readline',
];

/** @type {import('./layer-imports.js').LayerSpec[]} */
const LAYERS = [
  { dir: CORE, may: [] },
  // Sans-I/O codecs: bytes in, commands out; no package, no I/O module.
  { dir: WIRE, may: [], packages: [], deniedBuiltins: IO_BUILTINS },
  { dir: MAIL, may: [CORE] },
  // The scrypt cost bounds of [auth] scrypt_log_n are checked against auth/password.ts.
  { dir: CONFIG, may: [CORE, MAIL, 'src/auth/password.ts'] },
  { dir: DNS, may: [CORE] },
  // Interfaces by role, backend-independent rules, and the backends (see BACKENDS).
  { dir: STORE, may: [CORE, MAIL] },
  { dir: AUTH, may: [CORE, CONFIG, MAIL, STORE] },
  // The pool is generic; verify-worker.ts is the thread program of src/delivery's verifier.
  { dir: WORKERS, may: [CORE] },
  { dir: 'src/workers/verify-worker.ts', may: [CORE, WORKERS, DELIVERY] },
  { dir: DELIVERY, may: [CORE, CONFIG, MAIL, DNS, STORE, WORKERS] },
  // Sending to other servers: the queue's schedule, routing, the SMTP client, bounces (DSNs).
  { dir: OUTBOUND, may: [CORE, WIRE, CONFIG, MAIL, DNS, STORE, WORKERS, DELIVERY] },
  { dir: SERVER, may: [CORE, CONFIG, MAIL, DNS, AUTH, STORE, WORKERS] },
  // One entry per protocol: a protocol never imports another one.
  ...['smtp', 'imap', 'pop3'].map((p) => ({
    dir: `${PROTOCOLS}/${p}`,
    may: [CORE, WIRE, MAIL, CONFIG, DNS, AUTH, STORE, DELIVERY, ...SERVER_FOR_PROTOCOLS],
  })),
  // What the http and https listeners serve besides /healthz: client autoconfiguration now,
  // the admin API and the user's page later. Routes plug in through http-routes.ts.
  {
    dir: ADMIN,
    may: [CORE, MAIL, CONFIG, STORE, AUTH, 'src/server/types.ts', 'src/server/http-routes.ts'],
  },
  // The user's page (issue 14): login, quota, client setup, password, app passwords. It reuses
  // src/admin's client settings and Apple profile; src/admin never imports it.
  {
    dir: WEB,
    may: [CORE, MAIL, CONFIG, STORE, AUTH, ADMIN, 'src/server/types.ts', 'src/server/http-routes.ts'],
  },
  // The composition root: opens the store, pairs listeners with protocols, runs the server.
  {
    dir: APP,
    may: [
      CORE,
      WIRE,
      MAIL,
      CONFIG,
      DNS,
      STORE,
      AUTH,
      WORKERS,
      DELIVERY,
      OUTBOUND,
      SERVER,
      PROTOCOLS,
      ADMIN,
      WEB,
    ],
  },
  { dir: CLI, may: ['src'] },
];

/** Store backends, and the npm packages only they use. */
const BACKENDS = [
  { dir: 'src/store/sqlite', packages: ['better-sqlite3'] },
  { dir: 'src/store/postgres', packages: ['pg'] },
  { dir: 'src/store/blob/file-blob-store.ts' },
];

/** @type {import('./layer-imports.js').LayerOptions} */
export const LAYER_RULES = {
  root: path.dirname(path.dirname(fileURLToPath(import.meta.url))),
  layers: LAYERS,
  backends: BACKENDS,
  openers: ['src/app/open-store.ts'],
};
