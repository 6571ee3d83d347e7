import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { baseCapabilities } from './capabilities.js';

// docs/imap.md's side-by-side table must stay true: every capability Postern announces after
// login has a row saying "yes", and no row says "yes" for one it does not announce.
const DOCS = new URL('../../../../docs/imap.md', import.meta.url);

function tableRows(): Map<string, string> {
  const text = readFileSync(DOCS, 'utf8');
  const start = text.indexOf('## Capabilities side by side');
  assert.ok(start >= 0, 'docs/imap.md has the side-by-side section');
  const rows = new Map<string, string>();
  for (const line of text.slice(start).split('\n').slice(1)) {
    if (line.startsWith('## ')) break;
    const cells = line.split('|').map((c) => c.trim());
    if (cells.length < 6 || cells[1] === 'Capability' || cells[1].startsWith('---')) continue;
    // One row may name several capabilities ("ACL, RIGHTS=texk", "AUTH=PLAIN, AUTH=LOGIN").
    for (const name of cells[1].split(/,| \/ /)) rows.set(name.trim().toUpperCase(), cells[3]);
  }
  return rows;
}

void test('docs/imap.md lists every announced capability as implemented, and no other', () => {
  const rows = tableRows();
  const announced = new Set(
    [
      ...baseCapabilities({
        state: 'authenticated',
        secure: true,
        plaintextAuthAllowed: true,
        messageSize: 1,
      }),
      ...baseCapabilities({
        state: 'notAuthenticated',
        secure: false,
        plaintextAuthAllowed: true,
        messageSize: 1,
      }),
      ...baseCapabilities({
        state: 'notAuthenticated',
        secure: false,
        plaintextAuthAllowed: false,
        messageSize: 1,
      }),
    ].map((c) => c.replace(/^APPENDLIMIT=\d+$/, 'APPENDLIMIT').toUpperCase()),
  );
  for (const cap of announced) {
    const doc = [...rows.keys()].find((k) => k === cap || k.split(' / ').includes(cap));
    assert.ok(doc !== undefined, `${cap} has a row in docs/imap.md`);
    assert.equal(rows.get(doc), 'yes', `${cap} is marked as implemented`);
  }
  for (const [name, postern] of rows) {
    if (postern === 'yes') assert.ok(announced.has(name), `${name} is marked "yes" but not announced`);
  }
});
