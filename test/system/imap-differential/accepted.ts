// The differences between Postern and Dovecot that the differential test accepts, each by its
// content: the normalised lines only Dovecot sends and those only Postern sends, and the places
// ("<script>:<line>" with the command as written there, checked so that an edit of a script
// cannot silently move a place onto another command) where exactly that difference occurs. The
// rest of both answers must be identical, so another defect in the same answer still fails.
// Capability lists are compared as sets, less the capabilities listed below that only one
// server announces. Each is explained, with the RFC section that allows it, in docs/imap.md
// ("Differences from Dovecot"); the test fails on any difference not listed here and on any
// entry here that no longer occurs.

import type { AcceptedCapability, AcceptedDifference } from './differential.js';

function announcedBy(only: 'dovecot' | 'postern', reason: string, names: string[]): AcceptedCapability[] {
  return names.map((capability) => ({ capability, only, reason }));
}

/** Capabilities only one of the two servers announces (upper case, as normalised). */
export const ACCEPTED_CAPABILITIES: readonly AcceptedCapability[] = [
  ...announcedBy(
    'dovecot',
    'Extensions Postern does not implement (yet, see "What is implemented"); a server announces only what it implements (RFC 9051 §7.2.2).',
    ['CONTEXT=SEARCH', 'I18NLEVEL=1', 'PREVIEW=FUZZY', 'SNIPPET=FUZZY', 'THREAD=REFS', 'URL-PARTIAL'],
  ),
  ...announcedBy(
    'dovecot',
    'Postern never answers with a login referral (RFC 2221), so it does not announce LOGIN-REFERRALS.',
    ['LOGIN-REFERRALS'],
  ),
  ...announcedBy('postern', 'IMAP4rev2 (RFC 9051), which Dovecot 2.3 does not implement.', ['IMAP4REV2']),
  ...announcedBy('postern', 'RFC 9208; the Dovecot instance of the test runs without its quota plugin.', [
    'QUOTA',
    'QUOTA=RES-STORAGE',
    'QUOTA=RES-MESSAGE',
  ]),
  ...announcedBy(
    'postern',
    'RFC 8474 OBJECTID (its MAILBOXID codes at CREATE and SELECT are compared without it) and RFC 4978 COMPRESS=DEFLATE: Dovecot 2.3 has neither without plugins the test does not load.',
    ['OBJECTID', 'COMPRESS=DEFLATE'],
  ),
  ...announcedBy('postern', 'RFC 6855 UTF8=ACCEPT, not implemented by Dovecot 2.3.', ['UTF8=ACCEPT']),
  ...announcedBy(
    'postern',
    'RFC 5464 §1: METADATA-SERVER says only server entries are supported, METADATA both; Postern announces both (a client looking for either finds it), Dovecot METADATA alone.',
    ['METADATA-SERVER'],
  ),
  ...announcedBy(
    'postern',
    'RFC 4314 ACL with RIGHTS=texk (shared folders); the Dovecot instance of the test runs without its acl plugin.',
    ['ACL', 'RIGHTS=TEXK'],
  ),
  ...announcedBy('postern', 'RFC 6154 §3 CREATE-SPECIAL-USE, not implemented by Dovecot 2.3.', [
    'CREATE-SPECIAL-USE',
  ]),
  ...announcedBy(
    'postern',
    'RFC 7889 APPENDLIMIT with the value of limits.message_size (50M by default); Dovecot 2.3 does not announce it.',
    ['APPENDLIMIT=52428800'],
  ),
  ...announcedBy(
    'postern',
    'RFC 9051 §6.2.1: Postern always has a certificate (self-signed if none is configured); the Dovecot instance of the test has ssl = no.',
    ['STARTTLS'],
  ),
];

export const ACCEPTED_DIFFERENCES: readonly AcceptedDifference[] = [
  {
    name: 'capabilities in the tagged OK of LOGIN',
    reason:
      'Dovecot sends the capabilities as an untagged CAPABILITY response after a failed attempt, Postern as the CAPABILITY response code of the tagged OK (the same set); RFC 9051 §6.2.3 allows either.',
    dovecot: [
      '* CAPABILITY BINARY CATENATE CHILDREN CONDSTORE ENABLE ESEARCH ESORT ID IDLE IMAP4REV1 LIST-EXTENDED LIST-STATUS LITERAL+ METADATA MOVE MULTIAPPEND NAMESPACE NOTIFY PREVIEW QRESYNC SASL-IR SAVEDATE SEARCHRES SORT SORT=DISPLAY SPECIAL-USE STATUS=SIZE THREAD=ORDEREDSUBJECT THREAD=REFERENCES UIDPLUS UNSELECT WITHIN',
      '<tag> OK',
    ],
    postern: [
      '<tag> OK [CAPABILITY BINARY CATENATE CHILDREN CONDSTORE ENABLE ESEARCH ESORT ID IDLE IMAP4REV1 LIST-EXTENDED LIST-STATUS LITERAL+ METADATA MOVE MULTIAPPEND NAMESPACE NOTIFY PREVIEW QRESYNC SASL-IR SAVEDATE SEARCHRES SORT SORT=DISPLAY SPECIAL-USE STATUS=SIZE THREAD=ORDEREDSUBJECT THREAD=REFERENCES UIDPLUS UNSELECT WITHIN]',
    ],
    at: [['01-session.imap:8', 'LOGIN $USER $PASS']],
  },
  {
    name: 'CANNOT, not ALERT, for an unknown SASL mechanism',
    reason: 'Both refuse with NO; the response code differs. RFC 5530 codes are advisory (RFC 9051 §7.1).',
    dovecot: ['<tag> NO [ALERT]'],
    postern: ['<tag> NO [CANNOT]'],
    at: [['01-session.imap:13', 'AUTHENTICATE UNKNOWN-MECH']],
  },
  {
    name: 'the Other Users namespace',
    reason:
      'RFC 2342 §5: Postern serves other users\' shared mailboxes (RFC 4314 ACL) under "user/"; the Dovecot instance of the test has only its personal namespace.',
    dovecot: ['* NAMESPACE (("" "/")) NIL NIL'],
    postern: ['* NAMESPACE (("" "/")) (("user/" "/")) (("shared/" "/"))'],
    at: [['02-mailboxes.imap:6', 'NAMESPACE']],
  },
  {
    name: 'an empty ENABLED response',
    reason:
      'RFC 5161 §3.2 / RFC 9051 §7.2.1: ENABLED lists the extensions enabled, which here are none; Dovecot sends no ENABLED response.',
    dovecot: [],
    postern: ['* ENABLED'],
    at: [['01-session.imap:28', 'ENABLE CONDSTORE-UNKNOWN-EXTENSION']],
  },
  {
    name: 'IMAP4rev2 enabled',
    reason:
      'Postern implements IMAP4rev2 and enables it (RFC 9051 §6.3.1); Dovecot 2.3 does not know it and enables nothing. Every other command of the scripts runs in rev1 on both servers.',
    dovecot: [],
    postern: ['* ENABLED IMAP4rev2'],
    at: [['01-session.imap:53', 'ENABLE IMAP4rev2']],
  },
  {
    name: 'special-use attributes returned unasked',
    reason: 'RFC 6154 §2 and RFC 5258 §3 let a server return attributes it was not asked for.',
    dovecot: [
      '* LIST (\\HasNoChildren) "/" "Archive"',
      '* LIST (\\HasNoChildren) "/" "Drafts"',
      '* LIST (\\HasNoChildren) "/" "Junk"',
      '* LIST (\\HasNoChildren) "/" "Sent"',
      '* LIST (\\HasNoChildren) "/" "Trash"',
    ],
    postern: [
      '* LIST (\\Archive \\HasNoChildren) "/" "Archive"',
      '* LIST (\\Drafts \\HasNoChildren) "/" "Drafts"',
      '* LIST (\\HasNoChildren \\Junk) "/" "Junk"',
      '* LIST (\\HasNoChildren \\Sent) "/" "Sent"',
      '* LIST (\\HasNoChildren \\Trash) "/" "Trash"',
    ],
    at: [['02-mailboxes.imap:31', 'LIST "" * RETURN (CHILDREN)']],
  },
  {
    name: 'child attributes returned unasked',
    reason:
      '\\HasChildren/\\HasNoChildren without the CHILDREN option: RFC 5258 §4 allows it ("MAY return").',
    dovecot: [
      '* LIST () "/" "Caf&AOk-"',
      '* LIST () "/" "INBOX"',
      '* LIST () "/" "Projects"',
      '* LIST () "/" "With Space"',
      '* LIST () "/" "projects-lower"',
      '* LIST (\\Archive) "/" "Archive"',
      '* LIST (\\Drafts) "/" "Drafts"',
      '* LIST (\\Junk) "/" "Junk"',
      '* LIST (\\Sent) "/" "Sent"',
      '* LIST (\\Trash) "/" "Trash"',
    ],
    postern: [
      '* LIST (\\Archive \\HasNoChildren) "/" "Archive"',
      '* LIST (\\Drafts \\HasNoChildren) "/" "Drafts"',
      '* LIST (\\HasChildren) "/" "Projects"',
      '* LIST (\\HasNoChildren \\Junk) "/" "Junk"',
      '* LIST (\\HasNoChildren \\Sent) "/" "Sent"',
      '* LIST (\\HasNoChildren \\Trash) "/" "Trash"',
      '* LIST (\\HasNoChildren) "/" "Caf&AOk-"',
      '* LIST (\\HasNoChildren) "/" "INBOX"',
      '* LIST (\\HasNoChildren) "/" "With Space"',
      '* LIST (\\HasNoChildren) "/" "projects-lower"',
    ],
    at: [['02-mailboxes.imap:32', 'LIST "" % RETURN (SPECIAL-USE)']],
  },
  {
    name: 'child attributes returned unasked',
    reason:
      '\\HasChildren/\\HasNoChildren without the CHILDREN option: RFC 5258 §4 allows it ("MAY return").',
    dovecot: [
      '* LIST (\\Archive) "/" "Archive"',
      '* LIST (\\Drafts) "/" "Drafts"',
      '* LIST (\\Junk) "/" "Junk"',
      '* LIST (\\Sent) "/" "Sent"',
      '* LIST (\\Trash) "/" "Trash"',
    ],
    postern: [
      '* LIST (\\Archive \\HasNoChildren) "/" "Archive"',
      '* LIST (\\Drafts \\HasNoChildren) "/" "Drafts"',
      '* LIST (\\HasNoChildren \\Junk) "/" "Junk"',
      '* LIST (\\HasNoChildren \\Sent) "/" "Sent"',
      '* LIST (\\HasNoChildren \\Trash) "/" "Trash"',
    ],
    at: [['02-mailboxes.imap:33', 'LIST (SPECIAL-USE) "" *']],
  },
  {
    name: 'child and special-use attributes returned unasked',
    reason:
      'Postern adds child and special-use attributes to the \\Subscribed ones (RFC 5258 §3, §4; RFC 6154 §2).',
    dovecot: [
      '* LIST (\\Subscribed) "/" "Archive"',
      '* LIST (\\Subscribed) "/" "Drafts"',
      '* LIST (\\Subscribed) "/" "INBOX"',
      '* LIST (\\Subscribed) "/" "Junk"',
      '* LIST (\\Subscribed) "/" "Sent"',
      '* LIST (\\Subscribed) "/" "Trash"',
    ],
    postern: [
      '* LIST (\\Archive \\HasNoChildren \\Subscribed) "/" "Archive"',
      '* LIST (\\Drafts \\HasNoChildren \\Subscribed) "/" "Drafts"',
      '* LIST (\\HasNoChildren \\Junk \\Subscribed) "/" "Junk"',
      '* LIST (\\HasNoChildren \\Sent \\Subscribed) "/" "Sent"',
      '* LIST (\\HasNoChildren \\Subscribed \\Trash) "/" "Trash"',
      '* LIST (\\HasNoChildren \\Subscribed) "/" "INBOX"',
    ],
    at: [['02-mailboxes.imap:34', 'LIST (SUBSCRIBED) "" *']],
  },
  {
    name: 'NONEXISTENT code added',
    reason: 'Both refuse with NO; Postern adds the NONEXISTENT code (RFC 5530 §3, advisory).',
    dovecot: ['<tag> NO'],
    postern: ['<tag> NO [NONEXISTENT]'],
    at: [
      ['02-mailboxes.imap:38', 'SUBSCRIBE NotThere'],
      ['02-mailboxes.imap:69', 'STATUS NoSuch (MESSAGES)'],
      ['05-store-copy-expunge.imap:75', 'SELECT NoSuchBox'],
      ['10-metadata.imap:29', 'GETMETADATA NoSuchBox /private/comment'],
      ['10-metadata.imap:30', 'SETMETADATA NoSuchBox (/private/comment "x")'],
    ],
  },
  {
    name: 'child attributes returned unasked',
    reason:
      '\\HasChildren/\\HasNoChildren without the CHILDREN option: RFC 5258 §4 allows it ("MAY return").',
    dovecot: ['* LIST (\\Subscribed) "/" "Projects/Alpha"'],
    postern: ['* LIST (\\HasNoChildren \\Subscribed) "/" "Projects/Alpha"'],
    at: [['02-mailboxes.imap:42', 'LIST (SUBSCRIBED) "" Projects/*']],
  },
  {
    name: 'special-use attributes returned unasked',
    reason: 'RFC 6154 §2 and RFC 5258 §3 let a server return attributes it was not asked for.',
    dovecot: [
      '* LIST (\\HasNoChildren \\Subscribed) "/" "Archive"',
      '* LIST (\\HasNoChildren \\Subscribed) "/" "Drafts"',
      '* LIST (\\HasNoChildren \\Subscribed) "/" "Junk"',
      '* LIST (\\HasNoChildren \\Subscribed) "/" "Sent"',
      '* LIST (\\HasNoChildren \\Subscribed) "/" "Trash"',
    ],
    postern: [
      '* LIST (\\Archive \\HasNoChildren \\Subscribed) "/" "Archive"',
      '* LIST (\\Drafts \\HasNoChildren \\Subscribed) "/" "Drafts"',
      '* LIST (\\HasNoChildren \\Junk \\Subscribed) "/" "Junk"',
      '* LIST (\\HasNoChildren \\Sent \\Subscribed) "/" "Sent"',
      '* LIST (\\HasNoChildren \\Subscribed \\Trash) "/" "Trash"',
    ],
    at: [['02-mailboxes.imap:43', 'LIST (SUBSCRIBED RECURSIVEMATCH) "" % RETURN (CHILDREN)']],
  },
  {
    name: 'CANNOT code added',
    reason: 'Both refuse with NO; Postern adds CANNOT (RFC 5530 §3, advisory).',
    dovecot: ['<tag> NO'],
    postern: ['<tag> NO [CANNOT]'],
    at: [
      ['02-mailboxes.imap:53', 'RENAME Work Work/Inside'],
      ['02-mailboxes.imap:58', 'DELETE INBOX'],
      ['07-errors.imap:50', 'CREATE "&BAD"'],
    ],
  },
  {
    name: 'CLIENTBUG for a STATUS of the selected mailbox',
    reason:
      'Dovecot adds CLIENTBUG to the OK (RFC 9051 §6.3.11 only says clients SHOULD NOT do it; the code is advisory).',
    dovecot: ['<tag> OK [CLIENTBUG]'],
    postern: ['<tag> OK'],
    at: [
      ['02-mailboxes.imap:73', 'STATUS "Caf&AOk-" (MESSAGES)'],
      ['06-concurrency.imap:38', 'STATUS INBOX (MESSAGES RECENT UNSEEN)'],
    ],
  },
  {
    name: 'missing parents created as mailboxes',
    reason:
      'CREATE of a name with missing parents: Postern creates the parents as real mailboxes, Dovecot (Maildir LAYOUT=fs) leaves them \\Noselect; RFC 9051 §6.3.4 leaves the choice to the server.',
    dovecot: ['* LIST (\\HasChildren \\Noselect) "/" "Auto/Parent"'],
    postern: ['* LIST (\\HasChildren) "/" "Auto/Parent"'],
    at: [['02-mailboxes.imap:80', 'LIST "" Auto/*']],
  },
  {
    name: 'CREATE "name/" makes a selectable mailbox',
    reason:
      'Postern creates a selectable mailbox, Dovecot a \\Noselect one; RFC 9051 §6.3.4 only asks that the name without the trailing delimiter be created.',
    dovecot: ['* LIST (\\HasNoChildren \\Noselect) "/" "Trailing"'],
    postern: ['* LIST (\\HasNoChildren) "/" "Trailing"'],
    at: [['02-mailboxes.imap:82', 'LIST "" Trailing']],
  },
  {
    name: 'STATUS DELETED in rev1',
    reason:
      'DELETED is a STATUS item of RFC 9051 §6.3.11, which Postern serves in rev1 too; Dovecot 2.3 (rev1 only) answers BAD.',
    dovecot: ['<tag> BAD'],
    postern: ['* STATUS "INBOX" (DELETED 0 MESSAGES 0)', '<tag> OK'],
    at: [['02-mailboxes.imap:86', 'STATUS INBOX (MESSAGES DELETED)']],
  },
  {
    name: 'APPEND refused after reading the literal',
    reason:
      'Postern sends the continuation and reads the literal before refusing (BAD for \\Recent, RFC 3501 §6.3.11; NO [TRYCREATE] for a missing mailbox, RFC 9051 §6.3.12), Dovecot refuses before it; either is allowed (RFC 9051 §7.5).',
    dovecot: [],
    postern: ['+'],
    at: [
      ['03-append-fetch.imap:11', 'APPEND INBOX (\\Recent) {{msg:tiny}}'],
      ['03-append-fetch.imap:13', 'APPEND NoSuchMailbox {{msg:tiny}}'],
    ],
  },
  {
    name: 'Content-Language of one tag as a string',
    reason:
      'Postern sends a string, Dovecot a list of one string; body-fld-lang = nstring / "(" string *(SP string) ")" allows both (RFC 9051 §9).',
    dovecot: [
      '* 3 FETCH (BODYSTRUCTURE (("TEXT" "PLAIN" ("CHARSET" "ISO-8859-1") NIL NIL "QUOTED-PRINTABLE" 90 2 NIL NIL NIL NIL) ("APPLICATION" "OCTET-STREAM" ("NAME" "DATA.BIN") NIL "raw figures" "BASE64" 178 NIL ("ATTACHMENT" ("FILENAME" "DATA.BIN")) NIL NIL) ("TEXT" "CSV" ("CHARSET" "US-ASCII" "NAME" "SUMMARY.CSV") NIL NIL "7BIT" 37 3 NIL ("INLINE" ("FILENAME" "SUMMARY.CSV")) ("FR") NIL) "MIXED" ("BOUNDARY" "MIX-OUTER") NIL NIL NIL))',
    ],
    postern: [
      '* 3 FETCH (BODYSTRUCTURE (("TEXT" "PLAIN" ("CHARSET" "ISO-8859-1") NIL NIL "QUOTED-PRINTABLE" 90 2 NIL NIL NIL NIL) ("APPLICATION" "OCTET-STREAM" ("NAME" "DATA.BIN") NIL "raw figures" "BASE64" 178 NIL ("ATTACHMENT" ("FILENAME" "DATA.BIN")) NIL NIL) ("TEXT" "CSV" ("CHARSET" "US-ASCII" "NAME" "SUMMARY.CSV") NIL NIL "7BIT" 37 3 NIL ("INLINE" ("FILENAME" "SUMMARY.CSV")) "FR" NIL) "MIXED" ("BOUNDARY" "MIX-OUTER") NIL NIL NIL))',
    ],
    at: [['03-append-fetch.imap:21', 'FETCH 1:* BODYSTRUCTURE']],
  },
  {
    name: 'a partial of length 0 is BAD',
    reason:
      'The grammar requires a non-zero length (partial = "<" number64 "." nz-number64 ">", RFC 9051 §9; RFC 3501 §9 alike); Dovecot answers an empty string.',
    dovecot: ['* 1 FETCH (BODY[TEXT]<0> "")', '<tag> OK'],
    postern: ['<tag> BAD'],
    at: [['03-append-fetch.imap:31', 'FETCH 1 BODY.PEEK[TEXT]<0.0>']],
  },
  {
    name: 'part 1.1 of a leaf part is empty',
    reason:
      'Part 1.1 of a message whose part 1 is text/plain: Dovecot returns part 1 itself, Postern an empty string. RFC 9051 §6.4.5 defines "part 1" only for a non-multipart message as a whole; a sub-part of a leaf part does not exist.',
    dovecot: ['* 4 FETCH (BODY[1.1] "See the forwarded message below.\\r\\n")'],
    postern: ['* 4 FETCH (BODY[1.1] "")'],
    at: [['03-append-fetch.imap:52', 'FETCH 4 BODY.PEEK[1.1]']],
  },
  {
    name: 'section 0 is BAD',
    reason: 'Section parts are nz-number (RFC 9051 §9); Dovecot answers an empty string.',
    dovecot: ['* 1 FETCH (BODY[0] "")', '<tag> OK'],
    postern: ['<tag> BAD'],
    at: [['03-append-fetch.imap:83', 'FETCH 1 BODY.PEEK[0]']],
  },
  {
    name: 'no FLAGS update for an unknown keyword in SEARCH',
    reason:
      'Dovecot registers the unknown keyword and announces new FLAGS/PERMANENTFLAGS; Postern does not. Unsolicited FLAGS are optional (RFC 9051 §7.3.5).',
    dovecot: [
      '* FLAGS ($Forwarded \\Answered \\Deleted \\Draft \\Flagged \\Seen nosuch work)',
      '* OK [PERMANENTFLAGS ($Forwarded \\* \\Answered \\Deleted \\Draft \\Flagged \\Seen nosuch work)]',
    ],
    postern: [],
    at: [['04-search.imap:29', 'SEARCH KEYWORD nosuch']],
  },
  {
    name: 'SEARCH charsets: UTF-8 and US-ASCII only',
    reason:
      'Postern answers NO [BADCHARSET (UTF-8 US-ASCII)] for ISO-8859-1; RFC 9051 §6.4.4 requires UTF-8 only (RFC 3501: US-ASCII).',
    dovecot: ['* SEARCH 3', '<tag> OK'],
    postern: ['<tag> NO [BADCHARSET (UTF-8 US-ASCII)]'],
    at: [['04-search.imap:58', 'SEARCH CHARSET ISO-8859-1 BODY {{lit:donn\\xe9es}}']],
  },
  {
    name: 'BADCHARSET lists the charsets',
    reason:
      'Postern lists its charsets in the BADCHARSET code, Dovecot does not; the list is optional (RFC 9051 §7.1).',
    dovecot: ['<tag> NO [BADCHARSET]'],
    postern: ['<tag> NO [BADCHARSET (UTF-8 US-ASCII)]'],
    at: [['04-search.imap:59', 'SEARCH CHARSET X-NO-SUCH-CHARSET BODY x']],
  },
  {
    name: 'no RECENT update after an expunge',
    reason:
      'After an expunge Dovecot sends an updated RECENT count, Postern does not; RFC 3501 §7.3.2 leaves it to the client (rev1 only; RFC 9051 has no \\Recent). The EXISTS and EXPUNGE responses must be the same.',
    dovecot: ['* 7 RECENT'],
    postern: [],
    at: [['05-store-copy-expunge.imap:43', 'MOVE 7 Archive/2024']],
  },
  {
    name: 'no RECENT update after an expunge',
    reason:
      'After an expunge Dovecot sends an updated RECENT count, Postern does not; RFC 3501 §7.3.2 leaves it to the client (rev1 only; RFC 9051 has no \\Recent). The EXISTS and EXPUNGE responses must be the same.',
    dovecot: ['* 6 RECENT'],
    postern: [],
    at: [['05-store-copy-expunge.imap:45', 'UID MOVE 1 Archive/2024']],
  },
  {
    name: 'no RECENT update after an expunge',
    reason:
      'After an expunge Dovecot sends an updated RECENT count, Postern does not; RFC 3501 §7.3.2 leaves it to the client (rev1 only; RFC 9051 has no \\Recent). The EXISTS and EXPUNGE responses must be the same.',
    dovecot: ['* 3 RECENT'],
    postern: [],
    at: [['05-store-copy-expunge.imap:53', 'EXPUNGE']],
  },
  {
    name: 'SELECT lists only the keywords in use',
    reason:
      'The FLAGS and PERMANENTFLAGS of SELECT: Dovecot lists every keyword ever used in the mailbox, Postern those the messages hold (none here); RFC 9051 §7.3.5 requires at least the system flags.',
    dovecot: [
      '* FLAGS ($Important \\Answered \\Deleted \\Draft \\Flagged \\Seen custom1 custom2 Junk)',
      '* OK [PERMANENTFLAGS ($Important \\* \\Answered \\Deleted \\Draft \\Flagged \\Seen custom1 custom2 Junk)]',
    ],
    postern: [
      '* FLAGS (\\Answered \\Deleted \\Draft \\Flagged \\Seen)',
      '* OK [PERMANENTFLAGS (\\* \\Answered \\Deleted \\Draft \\Flagged \\Seen)]',
    ],
    at: [
      ['05-store-copy-expunge.imap:59', 'SELECT INBOX'],
      ['05-store-copy-expunge.imap:62', 'SELECT INBOX'],
    ],
  },
  {
    name: 'STORE after EXAMINE is NO',
    reason:
      'Postern refuses with NO, Dovecot answers OK and changes nothing. RFC 9051 §6.3.3 forbids changing the mailbox; a NO says so explicitly.',
    dovecot: ['<tag> OK'],
    postern: ['<tag> NO'],
    at: [
      ['05-store-copy-expunge.imap:67', 'STORE 1 +FLAGS (\\Seen)'],
      ['06-concurrency.imap:29', 'STORE 1 -FLAGS (\\Flagged)'],
    ],
  },
  {
    name: 'EXPUNGE after EXAMINE is NO [READ-ONLY]',
    reason: 'Postern NO [READ-ONLY] (RFC 5530 §3), Dovecot OK doing nothing (RFC 9051 §6.3.3).',
    dovecot: ['<tag> OK'],
    postern: ['<tag> NO [READ-ONLY]'],
    at: [['05-store-copy-expunge.imap:68', 'EXPUNGE']],
  },
  {
    name: 'RECENT repeated with EXISTS',
    reason:
      'Postern repeats the (unchanged) RECENT count with the new EXISTS; RFC 3501 §7.3.2 allows RECENT whenever the mailbox size changes. The EXISTS must be the same.',
    dovecot: [],
    postern: ['* 2 RECENT'],
    at: [['06-concurrency.imap:13', 'NOOP']],
  },
  {
    name: 'no RECENT update after an expunge',
    reason:
      'After an expunge Dovecot sends an updated RECENT count, Postern does not; RFC 3501 §7.3.2 leaves it to the client (rev1 only; RFC 9051 has no \\Recent). The EXISTS and EXPUNGE responses must be the same.',
    dovecot: ['* 1 RECENT'],
    postern: [],
    at: [['06-concurrency.imap:20', 'NOOP']],
  },
  {
    name: 'NOOP with an argument is BAD',
    reason:
      'NOOP takes no argument (RFC 9051 §9: command-any = "CAPABILITY" / "LOGOUT" / "NOOP"); Dovecot ignores the extra text.',
    dovecot: ['<tag> OK'],
    postern: ['<tag> BAD'],
    at: [['07-errors.imap:13', 'x2 NOOP extra-argument']],
  },
  {
    name: 'ENABLE without a capability is BAD',
    reason:
      'ENABLE needs at least one capability (RFC 9051 §9: "ENABLE" 1*(SP capability)); Dovecot answers OK.',
    dovecot: ['<tag> OK'],
    postern: ['<tag> BAD'],
    at: [['07-errors.imap:37', 'z4 ENABLE']],
  },
  {
    name: 'no untagged BAD before the tagged BAD',
    reason: 'Both answer BAD; Dovecot also sends an untagged BAD.',
    dovecot: ['* BAD'],
    postern: [],
    at: [['07-errors.imap:41', 'z8 APPEND INBOX (\\Seen x']],
  },
  {
    name: 'an impossible date-time is BAD',
    reason:
      'Dovecot stores the message with some date. RFC 9051 §6.3.12 / §9 date-time: day 32 is not a date.',
    dovecot: ['<tag> OK [APPENDUID * 1]'],
    postern: ['<tag> BAD'],
    at: [['07-errors.imap:42', 'APPEND Drafts "32-Jan-2024 00:00:00 +0000" {{msg:tiny}}']],
  },
  {
    name: 'SELECT with an extra argument is BAD',
    reason: 'SELECT takes one mailbox (RFC 9051 §9); Dovecot ignores the extra argument and selects.',
    dovecot: [
      '* 0 EXISTS',
      '* 0 RECENT',
      '* FLAGS (\\Answered \\Deleted \\Draft \\Flagged \\Seen)',
      '* OK [PERMANENTFLAGS (\\* \\Answered \\Deleted \\Draft \\Flagged \\Seen)]',
      '* OK [UIDNEXT 1]',
      '* OK [UIDVALIDITY *]',
      '<tag> OK [READ-WRITE]',
    ],
    postern: ['<tag> BAD'],
    at: [['07-errors.imap:43', 'y2 SELECT "INBOX" extra']],
  },
  {
    name: 'a mailbox name with CR LF is BAD',
    reason: 'Postern answers BAD, Dovecot NO; both refuse (RFC 9051 §5.1: such names are not allowed).',
    dovecot: ['<tag> NO'],
    postern: ['<tag> BAD'],
    at: [['07-errors.imap:52', 'CREATE {{lit:Line\\r\\nBreak}}']],
  },
  {
    name: 'a literal holding NUL is BAD',
    reason: 'Dovecot creates the mailbox. literal = ... *CHAR8 and CHAR8 excludes NUL (RFC 9051 §4.3, §9).',
    dovecot: ['<tag> OK'],
    postern: ['<tag> BAD'],
    at: [['07-errors.imap:53', 'CREATE {{lit:Nul\\x00Byte}}']],
  },
  {
    name: "RENAME INBOX leaves INBOX's children",
    reason:
      'After RENAME INBOX, Dovecot has moved INBOX\'s children too ("Old Inbox/Child"); Postern leaves them under INBOX as RFC 9051 §6.3.6 (RFC 3501 §6.3.5) requires: inferior names of INBOX are unaffected.',
    dovecot: [
      '* LIST (\\HasChildren) "/" "Old Inbox"',
      '* LIST (\\HasNoChildren) "/" "INBOX"',
      '* LIST (\\HasNoChildren) "/" "Old Inbox/Child"',
    ],
    postern: [
      '* LIST (\\HasChildren) "/" "INBOX"',
      '* LIST (\\HasNoChildren) "/" "INBOX/Child"',
      '* LIST (\\HasNoChildren) "/" "Old Inbox"',
    ],
    at: [['08-inbox-rename.imap:10', 'LIST "" *']],
  },
  {
    name: 'server entries can be set',
    reason:
      'RFC 5464 §3.1 server entries: Postern keeps them per account (no ACL, so /shared on the server is the account\'s own) and lets the user set them, /shared/admin excepted; this Dovecot (server entries on the dictionary, no admin user) refuses SETMETADATA "" with NO [CANNOT]. §4.3 lets a server refuse.',
    dovecot: ['<tag> NO [CANNOT]'],
    postern: ['<tag> OK'],
    at: [
      ['10-metadata.imap:20', 'SETMETADATA "" (/shared/comment "Shared comment")'],
      ['10-metadata.imap:22', 'SETMETADATA "" (/shared/comment NIL)'],
    ],
  },
  {
    name: 'a server entry that was set',
    reason: 'The entry the SETMETADATA above stored on Postern (Dovecot refused to store it).',
    dovecot: ['* METADATA "" ("/shared/comment" NIL)'],
    postern: ['* METADATA "" ("/shared/comment" "Shared comment")'],
    at: [['10-metadata.imap:21', 'GETMETADATA "" /shared/comment']],
  },
];
