// The differential test by hand, with a report: starts a private Dovecot and (unless
// --only dovecot) Postern, runs every script against both and writes the Markdown report of
// the differences (default /work/notes/imap-differences.md when /work/notes exists, else
// stdout). With --only dovecot it prints Dovecot's normalised answers (to write scripts).
//   node BUILD/test/system/imap-differential/run.js [--only dovecot] [--script 03] [--report FILE]

import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { startDovecot } from '../../helpers/dovecot.js';
import { startPosternImap } from '../../helpers/postern-imap.js';
import { ACCEPTED_DIFFERENCES } from './accepted.js';
import { renderDifferences, writeReport } from './differential.js';
import { allAccounts, runAll, runDifferential } from './harness.js';

const { values } = parseArgs({
  options: {
    only: { type: 'string', default: '' },
    script: { type: 'string', multiple: true, default: [] },
    report: { type: 'string', default: '' },
    raw: { type: 'boolean', default: false },
  },
});

const dovecot = await startDovecot({ users: allAccounts(), authPenalty: false, authFailureDelaySeconds: 0 });
try {
  if (values.only === 'dovecot') {
    for (const a of await runAll(dovecot.imapPort, values.script)) {
      process.stdout.write(`## ${a.key} ${a.source}\n`);
      for (const l of values.raw ? a.raw : a.normalised) process.stdout.write(`  ${l.slice(0, 300)}\n`);
    }
  } else {
    const postern = await startPosternImap({
      domains: ['example.test'],
      users: allAccounts().map((u) => ({ address: u.user, password: u.password })),
      extraToml: '[limits]\nauth_failure_delay = 0\nauth_failures_before_ban = 1000',
    });
    try {
      const r = await runDifferential(dovecot.imapPort, postern.imapPort, values.script);
      const report = renderDifferences(r.differences, ACCEPTED_DIFFERENCES, {
        title: `IMAP differential report: Dovecot vs Postern (${new Date().toISOString()})`,
        total: r.total,
        referenceName: 'Dovecot',
        subjectName: 'Postern',
      });
      const file =
        values.report !== ''
          ? values.report
          : existsSync('/work/notes')
            ? '/work/notes/imap-differences.md'
            : '';
      if (file !== '') {
        await writeReport(file, report);
        process.stdout.write(`${r.total} commands, ${r.differences.length} differences; report in ${file}\n`);
      } else {
        process.stdout.write(report);
      }
    } finally {
      await postern.stop();
    }
  }
} finally {
  await dovecot.stop();
}
