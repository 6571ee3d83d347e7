import assert from 'node:assert/strict';
import { test } from 'node:test';
import { atom } from '../../wire/imap/encoder.js';
import { ImapReader, type ImapToken } from '../../wire/imap/reader.js';
import { ImapBad, ImapNo } from './errors.js';
import { filterMatches, parseNotify } from './notify-request.js';

/** The argument tokens of `NOTIFY <args>`, as the session's reader makes them. */
export function parseTokens(args: string): ImapToken[] {
  const reader = new ImapReader({
    maxLineLength: 65536,
    maxLiteralSize: 65536,
    maxListDepth: 32,
    maxTokensPerCommand: 10_000,
  });
  reader.push(Buffer.from(`t NOTIFY ${args}\r\n`));
  const input = reader.next();
  assert.equal(input?.kind, 'command', JSON.stringify(input));
  return (input as { args: ImapToken[] }).args;
}

const parse = (args: string) => parseNotify(parseTokens(args), { utf8: false, rev2: true });

void test('RFC 5465 §3.1 examples (erratum 1804 parentheses) parse to their groups', () => {
  // Example b. The RFC's `(subtree Lists (MessageNew))` lacks the MessageExpunge that §5 makes
  // mandatory with MessageNew (Dovecot refuses it too): replayed with both.
  const b = parse(
    'set status (selected (MessageNew (uid body.peek[header.fields (from to subject)]) MessageExpunge)) (subtree Lists (MessageNew MessageExpunge))',
  )!;
  assert.equal(b.status, true);
  assert.deepEqual(
    b.groups.map((g) => [g.filter, [...g.events]]),
    [
      [{ kind: 'selected', delayed: false }, ['MessageNew', 'MessageExpunge']],
      [{ kind: 'subtree', names: ['Lists'] }, ['MessageNew', 'MessageExpunge']],
    ],
  );
  assert.equal(b.groups[0]!.fetchItems?.kind, 'list');
  // Example e: one more group, no STATUS.
  const e = parse(
    'set (selected (MessageNew (uid body.peek[header.fields (from to subject)]) MessageExpunge)) (subtree Lists (MessageNew MessageExpunge)) (mailboxes misc (MessageNew MessageExpunge))',
  )!;
  assert.equal(e.status, false);
  assert.deepEqual(e.groups[2]!.filter, { kind: 'mailboxes', names: ['misc'] });
  // NOTIFY NONE; a filter with NONE; a list of mailboxes; modified UTF-7 names decoded.
  assert.equal(parse('NONE'), null);
  const many = parse(
    'SET (mailboxes (INBOX inbox "a b" &AOk-t&AOk-) NONE) (personal (MailboxName SubscriptionChange))',
  )!;
  assert.deepEqual(many.groups[0]!.filter, { kind: 'mailboxes', names: ['INBOX', 'INBOX', 'a b', 'été'] });
  assert.equal(many.groups[0]!.events.size, 0);
  // RFC 5465 §5.7: the metadata events, alone or with others, any case, any non-selected filter.
  const meta = parse(
    'SET (subtree Lists (mailboxmetadatachange MessageNew MessageExpunge)) (inboxes (ServerMetadataChange))',
  )!;
  assert.deepEqual([...meta.groups[0]!.events], ['MailboxMetadataChange', 'MessageNew', 'MessageExpunge']);
  assert.deepEqual([...meta.groups[1]!.events], ['ServerMetadataChange']);
  assert.deepEqual(
    [...parse('SET (personal (MailboxMetadataChange ServerMetadataChange))')!.groups[0]!.events],
    ['MailboxMetadataChange', 'ServerMetadataChange'],
  );
});

void test('BAD for what RFC 5465 makes a client error, NO [BADEVENT] for events Postern lacks', () => {
  for (const args of [
    'SET (personal (MessageExpunge))',
    'SET (personal (MessageNew))',
    'SET (personal (FlagChange))',
    'SET (selected (MessageNew MessageExpunge SubscriptionChange))',
    'SET (selected (MessageNew MessageExpunge)) (selected-delayed (MessageNew MessageExpunge))',
    'SET (inboxes (MessageNew (FLAGS) MessageExpunge))',
    'SET (subtree (MessageNew MessageExpunge))',
    'SET (personal ())',
    'SET (personal)',
    'SET ((MessageNew MessageExpunge))',
    'SET (personal ("MessageNew" MessageExpunge))',
    'SET STATUS',
    'NONE STATUS',
    'GET (personal NONE)',
  ]) {
    assert.throws(() => parse(args), ImapBad, args);
  }
  for (const args of [
    'SET (personal (MessageNew MessageExpunge AnnotationChange))',
    'SET (personal (MailboxMetadataChange AnnotationChange)) (selected (MessageNew MessageExpunge))',
    'SET (personal (SomeFutureEvent))',
  ]) {
    assert.throws(
      () => parse(args),
      (err: unknown) => err instanceof ImapNo && err.code?.name === 'BADEVENT',
      args,
    );
  }
  // §3.1: BADEVENT lists every event Postern serves, the metadata ones included (§5.7).
  assert.throws(
    () => parse('SET (personal (AnnotationChange))'),
    (err: unknown) =>
      err instanceof ImapNo &&
      JSON.stringify(err.code?.data) ===
        JSON.stringify([
          [
            'MessageNew',
            'MessageExpunge',
            'FlagChange',
            'MailboxName',
            'SubscriptionChange',
            'MailboxMetadataChange',
            'ServerMetadataChange',
          ].map((e) => atom(e)),
        ]),
  );
  // §6.1: the selected filter takes message events only, so no metadata events.
  for (const args of [
    'SET (selected (MailboxMetadataChange))',
    'SET (selected-delayed (MessageNew MessageExpunge ServerMetadataChange))',
  ])
    assert.throws(() => parse(args), ImapBad, args);
  // A syntax error wins over an unsupported event, whatever the order of the groups.
  assert.throws(() => parse('SET (personal (AnnotationChange)) (personal (MessageNew))'), ImapBad);
});

void test('filters match the mailboxes RFC 5465 §6 says', () => {
  const subs = new Set(['Work']);
  assert.equal(filterMatches({ kind: 'inboxes' }, 'INBOX', subs), true);
  assert.equal(filterMatches({ kind: 'inboxes' }, 'Sent', subs), false);
  assert.equal(filterMatches({ kind: 'personal' }, 'Any/thing', subs), true);
  assert.equal(filterMatches({ kind: 'subscribed' }, 'Work', subs), true);
  assert.equal(filterMatches({ kind: 'subscribed' }, 'Play', subs), false);
  const tree = { kind: 'subtree', names: ['Lists'] } as const;
  assert.equal(filterMatches(tree, 'Lists', subs), true);
  assert.equal(filterMatches(tree, 'Lists/imap', subs), true);
  assert.equal(filterMatches(tree, 'Listsx', subs), false);
  const exact = { kind: 'mailboxes', names: ['Lists'] } as const;
  assert.equal(filterMatches(exact, 'Lists', subs), true);
  assert.equal(filterMatches(exact, 'Lists/imap', subs), false);
  assert.equal(filterMatches({ kind: 'selected', delayed: false }, 'INBOX', subs), false);
});
