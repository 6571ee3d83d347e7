// The differences between Postern and Dovecot that the differential test accepts, keyed by
// "<script>:<line>" with the command as written there (checked, so that an edit of a script
// cannot silently move an entry onto another command). Each is explained, with the RFC
// section that allows it, in docs/imap.md ("Differences from Dovecot"); the test fails on any
// difference not listed here and on any entry here that no longer differs.

export interface AcceptedDifference {
  source: string;
  reason: string;
}

export const ACCEPTED_DIFFERENCES: ReadonlyMap<string, AcceptedDifference> = new Map<
  string,
  AcceptedDifference
>([
  [
    '01-session.imap:8',
    {
      source: 'LOGIN $USER $PASS',
      reason:
        'Dovecot sends the capabilities as an untagged CAPABILITY response after a failed attempt, Postern as the CAPABILITY response code of the tagged OK; RFC 9051 §6.2.3 allows either.',
    },
  ],
  [
    '01-session.imap:13',
    {
      source: 'AUTHENTICATE UNKNOWN-MECH',
      reason:
        'Both refuse with NO; the response code differs (Dovecot ALERT, Postern CANNOT). RFC 5530 codes are advisory (RFC 9051 §7.1).',
    },
  ],
  [
    '01-session.imap:28',
    {
      source: 'ENABLE CONDSTORE-UNKNOWN-EXTENSION',
      reason:
        'Postern sends an empty ENABLED response, Dovecot none; RFC 5161 §3.2 / RFC 9051 §7.2.1: ENABLED lists the extensions enabled, which here are none.',
    },
  ],
  [
    '01-session.imap:53',
    {
      source: 'ENABLE IMAP4rev2',
      reason:
        'Postern implements IMAP4rev2 and enables it (RFC 9051 §6.3.1); Dovecot 2.3 does not know it and enables nothing. Every other command of the scripts runs in rev1 on both servers.',
    },
  ],
  [
    '02-mailboxes.imap:31',
    {
      source: 'LIST "" * RETURN (CHILDREN)',
      reason:
        'Postern includes special-use attributes although SPECIAL-USE was not requested; RFC 6154 §2 and RFC 5258 §3 let a server return attributes it was not asked for.',
    },
  ],
  [
    '02-mailboxes.imap:32',
    {
      source: 'LIST "" % RETURN (SPECIAL-USE)',
      reason:
        'Postern also returns \\HasChildren/\\HasNoChildren without the CHILDREN option, which RFC 5258 §4 allows ("MAY return").',
    },
  ],
  [
    '02-mailboxes.imap:33',
    {
      source: 'LIST (SPECIAL-USE) "" *',
      reason: 'Same as above: child attributes returned unasked (RFC 5258 §4).',
    },
  ],
  [
    '02-mailboxes.imap:34',
    {
      source: 'LIST (SUBSCRIBED) "" *',
      reason:
        'Postern adds child and special-use attributes to the \\Subscribed ones (RFC 5258 §3, §4; RFC 6154 §2).',
    },
  ],
  [
    '02-mailboxes.imap:38',
    {
      source: 'SUBSCRIBE NotThere',
      reason: 'Both refuse with NO; Postern adds the NONEXISTENT code (RFC 5530 §3, advisory).',
    },
  ],
  [
    '02-mailboxes.imap:42',
    {
      source: 'LIST (SUBSCRIBED) "" Projects/*',
      reason: 'Child attribute returned unasked (RFC 5258 §4).',
    },
  ],
  [
    '02-mailboxes.imap:43',
    {
      source: 'LIST (SUBSCRIBED RECURSIVEMATCH) "" % RETURN (CHILDREN)',
      reason: 'Special-use attributes returned unasked (RFC 6154 §2).',
    },
  ],
  [
    '02-mailboxes.imap:53',
    {
      source: 'RENAME Work Work/Inside',
      reason: 'Both refuse with NO; Postern adds CANNOT (RFC 5530 §3, advisory).',
    },
  ],
  [
    '02-mailboxes.imap:58',
    {
      source: 'DELETE INBOX',
      reason: 'Both refuse with NO (RFC 9051 §6.3.5); Postern adds CANNOT (RFC 5530, advisory).',
    },
  ],
  [
    '02-mailboxes.imap:69',
    {
      source: 'STATUS NoSuch (MESSAGES)',
      reason: 'Both refuse with NO; Postern adds NONEXISTENT (RFC 5530, advisory).',
    },
  ],
  [
    '02-mailboxes.imap:73',
    {
      source: 'STATUS "Caf&AOk-" (MESSAGES)',
      reason:
        'Dovecot adds CLIENTBUG to the OK for a STATUS of the selected mailbox (RFC 9051 §6.3.11 only says clients SHOULD NOT do it; the code is advisory).',
    },
  ],
  [
    '02-mailboxes.imap:80',
    {
      source: 'LIST "" Auto/*',
      reason:
        'CREATE of a name with missing parents: Postern creates the parents as real mailboxes, Dovecot (Maildir LAYOUT=fs) leaves them \\Noselect; RFC 9051 §6.3.4 leaves the choice to the server.',
    },
  ],
  [
    '02-mailboxes.imap:82',
    {
      source: 'LIST "" Trailing',
      reason:
        'CREATE "Trailing/": Postern creates a selectable mailbox, Dovecot a \\Noselect one; RFC 9051 §6.3.4 only asks that the name without the trailing delimiter be created.',
    },
  ],
  [
    '02-mailboxes.imap:86',
    {
      source: 'STATUS INBOX (MESSAGES DELETED)',
      reason:
        'DELETED is a STATUS item of RFC 9051 §6.3.11, which Postern serves in rev1 too; Dovecot 2.3 (rev1 only) answers BAD.',
    },
  ],
  [
    '03-append-fetch.imap:11',
    {
      source: 'APPEND INBOX (\\Recent) {{msg:tiny}}',
      reason:
        'Both answer BAD (\\Recent cannot be set, RFC 3501 §6.3.11); Postern first sends the continuation and reads the literal, Dovecot refuses before it. Either is allowed (RFC 9051 §7.5).',
    },
  ],
  [
    '03-append-fetch.imap:13',
    {
      source: 'APPEND NoSuchMailbox {{msg:tiny}}',
      reason:
        'Both answer NO [TRYCREATE]; Postern after reading the literal, Dovecot before sending the continuation (RFC 9051 §6.3.12, §7.5).',
    },
  ],
  [
    '03-append-fetch.imap:21',
    {
      source: 'FETCH 1:* BODYSTRUCTURE',
      reason:
        'Content-Language with one tag: Postern sends a string, Dovecot a list of one string; body-fld-lang = nstring / "(" string *(SP string) ")" allows both (RFC 9051 §9).',
    },
  ],
  [
    '03-append-fetch.imap:31',
    {
      source: 'FETCH 1 BODY.PEEK[TEXT]<0.0>',
      reason:
        'A partial of length 0: Postern answers BAD, Dovecot an empty string. The grammar requires a non-zero length (partial = "<" number64 "." nz-number64 ">", RFC 9051 §9; RFC 3501 §9 alike).',
    },
  ],
  [
    '03-append-fetch.imap:52',
    {
      source: 'FETCH 4 BODY.PEEK[1.1]',
      reason:
        'Part 1.1 of a message whose part 1 is text/plain: Dovecot returns part 1 itself, Postern an empty string. RFC 9051 §6.4.5 defines "part 1" only for a non-multipart message as a whole; a sub-part of a leaf part does not exist.',
    },
  ],
  [
    '03-append-fetch.imap:83',
    {
      source: 'FETCH 1 BODY.PEEK[0]',
      reason:
        'Section 0: Postern answers BAD, Dovecot an empty string. Section parts are nz-number (RFC 9051 §9).',
    },
  ],
  [
    '04-search.imap:29',
    {
      source: 'SEARCH KEYWORD nosuch',
      reason:
        'Dovecot registers the unknown keyword and announces new FLAGS/PERMANENTFLAGS; Postern does not. Unsolicited FLAGS are optional (RFC 9051 §7.3.5).',
    },
  ],
  [
    '04-search.imap:58',
    {
      source: 'SEARCH CHARSET ISO-8859-1 BODY {{lit:donn\\xe9es}}',
      reason:
        'Postern accepts only UTF-8 and US-ASCII as SEARCH charsets and answers NO [BADCHARSET (UTF-8 US-ASCII)]; RFC 9051 §6.4.4 requires UTF-8 only (RFC 3501: US-ASCII).',
    },
  ],
  [
    '04-search.imap:59',
    {
      source: 'SEARCH CHARSET X-NO-SUCH-CHARSET BODY x',
      reason:
        'Postern lists its charsets in the BADCHARSET code, Dovecot does not; the list is optional (RFC 9051 §7.1).',
    },
  ],
  [
    '05-store-copy-expunge.imap:43',
    {
      source: 'MOVE 7 Archive/2024',
      reason:
        'After expunging a \\Recent message Dovecot sends an updated RECENT count, Postern does not; RFC 3501 §7.3.2 leaves it to the client (rev1 only; RFC 9051 has no \\Recent).',
    },
  ],
  [
    '05-store-copy-expunge.imap:45',
    {
      source: 'UID MOVE 1 Archive/2024',
      reason: 'Same: no RECENT update after an expunge (RFC 3501 §7.3.2).',
    },
  ],
  [
    '05-store-copy-expunge.imap:53',
    {
      source: 'EXPUNGE',
      reason:
        'Same: no RECENT update after an expunge (RFC 3501 §7.3.2). The expunged messages are the same (normalised).',
    },
  ],
  [
    '05-store-copy-expunge.imap:59',
    {
      source: 'SELECT INBOX',
      reason:
        'The FLAGS and PERMANENTFLAGS of SELECT: Dovecot lists every keyword ever used in the mailbox, Postern fewer; RFC 9051 §7.3.5 requires at least the system flags.',
    },
  ],
  [
    '05-store-copy-expunge.imap:62',
    {
      source: 'SELECT INBOX',
      reason: 'Same as the SELECT above (RFC 9051 §7.3.5).',
    },
  ],
  [
    '05-store-copy-expunge.imap:67',
    {
      source: 'STORE 1 +FLAGS (\\Seen)',
      reason:
        'STORE in a mailbox opened with EXAMINE: Postern refuses with NO, Dovecot answers OK and changes nothing. RFC 9051 §6.3.3 forbids changing the mailbox; a NO says so explicitly.',
    },
  ],
  [
    '05-store-copy-expunge.imap:68',
    {
      source: 'EXPUNGE',
      reason:
        'EXPUNGE after EXAMINE: Postern NO [READ-ONLY] (RFC 5530 §3), Dovecot OK doing nothing (RFC 9051 §6.3.3).',
    },
  ],
  [
    '05-store-copy-expunge.imap:75',
    {
      source: 'SELECT NoSuchBox',
      reason: 'Both NO; Postern adds NONEXISTENT (RFC 5530, advisory).',
    },
  ],
  [
    '06-concurrency.imap:12',
    {
      source: 'NOOP',
      reason:
        'Postern repeats the (unchanged) RECENT count with the new EXISTS; RFC 3501 §7.3.2 allows RECENT whenever the mailbox size changes.',
    },
  ],
  [
    '06-concurrency.imap:21',
    {
      source: 'NOOP',
      reason: "No RECENT update after another session's expunge (RFC 3501 §7.3.2, see MOVE above).",
    },
  ],
  [
    '06-concurrency.imap:31',
    {
      source: 'STORE 1 -FLAGS (\\Flagged)',
      reason: 'STORE after EXAMINE refused with NO by Postern, ignored with OK by Dovecot (RFC 9051 §6.3.3).',
    },
  ],
  [
    '06-concurrency.imap:41',
    {
      source: 'STATUS INBOX (MESSAGES RECENT UNSEEN)',
      reason: 'Dovecot adds CLIENTBUG to the OK of a STATUS on the selected mailbox (advisory).',
    },
  ],
  [
    '07-errors.imap:13',
    {
      source: 'x2 NOOP extra-argument',
      reason:
        'NOOP takes no argument (RFC 9051 §9: command-any = "CAPABILITY" / "LOGOUT" / "NOOP"); Postern answers BAD, Dovecot ignores the extra text.',
    },
  ],
  [
    '07-errors.imap:37',
    {
      source: 'z4 ENABLE',
      reason:
        'ENABLE needs at least one capability (RFC 9051 §9: "ENABLE" 1*(SP capability)); Postern answers BAD, Dovecot OK.',
    },
  ],
  [
    '07-errors.imap:41',
    {
      source: 'z8 APPEND INBOX (\\Seen x',
      reason: 'Both answer BAD; Dovecot also sends an untagged BAD.',
    },
  ],
  [
    '07-errors.imap:42',
    {
      source: 'APPEND Drafts "32-Jan-2024 00:00:00 +0000" {{msg:tiny}}',
      reason:
        'An impossible date-time: Postern refuses with BAD, Dovecot stores the message with some date. RFC 9051 §6.3.12 / §9 date-time: day 32 is not a date.',
    },
  ],
  [
    '07-errors.imap:43',
    {
      source: 'y2 SELECT "INBOX" extra',
      reason:
        'SELECT takes one mailbox (RFC 9051 §9); Postern answers BAD, Dovecot ignores the extra argument and selects.',
    },
  ],
  [
    '07-errors.imap:50',
    {
      source: 'CREATE "&BAD"',
      reason: 'Invalid modified UTF-7 (RFC 9051 §5.1.3): both refuse with NO; Postern adds CANNOT.',
    },
  ],
  [
    '07-errors.imap:52',
    {
      source: 'CREATE {{lit:Line\\r\\nBreak}}',
      reason:
        'A name with CR LF: Postern answers BAD, Dovecot NO; both refuse (RFC 9051 §5.1: such names are not allowed).',
    },
  ],
  [
    '07-errors.imap:53',
    {
      source: 'CREATE {{lit:Nul\\x00Byte}}',
      reason:
        'A literal holding NUL: Postern answers BAD, Dovecot creates the mailbox. literal = ... *CHAR8 and CHAR8 excludes NUL (RFC 9051 §4.3, §9).',
    },
  ],
  [
    '08-inbox-rename.imap:10',
    {
      source: 'LIST "" *',
      reason:
        'After RENAME INBOX, Dovecot has moved INBOX\'s children too ("Old Inbox/Child"); Postern leaves them under INBOX as RFC 9051 §6.3.6 (RFC 3501 §6.3.5) requires: inferior names of INBOX are unaffected.',
    },
  ],
]);
