// Runs the store conformance suite against the embedded SQLite backend (with FileBlobStore).
// STORE selects the backend for the whole conformance run: this file serves STORE=sqlite (the
// default); another backend's run (STORE=postgres) has its own test file.

import { it } from 'node:test';
import { runAppPasswordConformance } from './app-passwords-conformance.js';
import { openBackend, selectedBackend } from './backends.js';
import { runDkimKeyConformance } from './dkim-keys-conformance.js';
import { runStoreConformance } from './store-conformance.js';

const selected = selectedBackend();
if (selected === 'sqlite') {
  runStoreConformance('sqlite', (dataDir) => openBackend('sqlite', dataDir));
  runDkimKeyConformance('sqlite', (dataDir) => openBackend('sqlite', dataDir));
  runAppPasswordConformance('sqlite', (dataDir) => openBackend('sqlite', dataDir));
} else {
  void it('sqlite conformance', { skip: `STORE=${selected} selects another backend` }, () => undefined);
}
