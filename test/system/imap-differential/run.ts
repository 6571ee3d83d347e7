// The differential test by hand, with a report: starts a private Dovecot and (unless
// --only dovecot) Postern, runs every script against both and writes the Markdown report of
// the differences (default /work/notes/imap-differences.md when /work/notes exists, else
// stdout). With --only dovecot (or postern) it prints that server's normalised answers (--raw:
// as sent), to write scripts and accepted differences.
//   node BUILD/test/system/imap-differential/run.js [--only dovecot|postern] [--raw] [--script 03] [--report FILE]

import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { startDovecot } from '../../helpers/dovecot.js';
import { startPosternImap, type PosternImapServer } from '../../helpers/postern-imap.js';
import { ACCEPTED_CAPABILITIES, ACCEPTED_DIFFERENCES } from './accepted.js';
import { judgeDifferences, renderDifferences, writeReport, type CommandAnswer } from './differential.js';
import { allAccounts, DOVECOT_METADATA_CONFIG, runAll, runDifferential } from './harness.js';

const { values } = parseArgs({
  options: {
    only: { type: 'string', default: '' },
    script: { type: 'string', multiple: true, default: [] },
    report: { type: 'string', default: '' },
    raw: { type: 'boolean', default: false },
  },
});

function printAnswers(answers: CommandAnswer[]): void {
  for (const a of answers) {
    process.stdout.write(`## ${a.key} ${a.source}\n`);
    for (const l of values.raw ? a.raw : a.normalised) process.stdout.write(`  ${l.slice(0, 2000)}\n`);
  }
}

function startPostern(): Promise<PosternImapServer> {
  return startPosternImap({
    domains: ['example.test'],
    users: allAccounts().map((u) => ({ address: u.user, password: u.password })),
    extraToml: '[limits]\nauth_failure_delay = 0\nauth_failures_before_ban = 1000',
  });
}

if (values.only === 'postern') {
  const postern = await startPostern();
  try {
    printAnswers(await runAll(postern.imapPort, values.script));
  } finally {
    await postern.stop();
  }
  process.exit(0);
}

const dovecot = await startDovecot({
  users: allAccounts(),
  authPenalty: false,
  authFailureDelaySeconds: 0,
  extraConfig: DOVECOT_METADATA_CONFIG,
});
try {
  if (values.only === 'dovecot') {
    printAnswers(await runAll(dovecot.imapPort, values.script));
  } else {
    const postern = await startPostern();
    try {
      const r = await runDifferential(dovecot.imapPort, postern.imapPort, {
        only: values.script,
        capabilities: ACCEPTED_CAPABILITIES,
      });
      const report = renderDifferences(judgeDifferences(r.differences, ACCEPTED_DIFFERENCES), {
        title: `IMAP differential report: Dovecot vs Postern (${new Date().toISOString()})`,
        total: r.total,
        referenceName: 'Dovecot',
        subjectName: 'Postern',
        staleCapabilities: ACCEPTED_CAPABILITIES.filter((c) => !r.capabilitiesSeen.has(c.capability)),
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
