// Fixed messages for the FETCH tests (and for comparing answers with Dovecot): a simple message,
// multipart/alternative, multipart/mixed with a base64 attachment holding NUL bytes, a nested
// message/rfc822, and a message with 8-bit header bytes, encoded words and quoted-printable.

export const SIMPLE =
  'From: Alice <alice@example.test>\r\n' +
  'To: Bob <bob@example.test>\r\n' +
  'Subject: Simple\r\n' +
  'Date: Thu, 26 Nov 2026 10:00:00 +0000\r\n' +
  'Message-ID: <simple@example.test>\r\n' +
  'X-Folded: one\r\n' +
  '  two\r\n' +
  '\r\n' +
  'Hello Bob.\r\n' +
  'Second line.\r\n';

export const ALTERNATIVE =
  'From: Alice <alice@example.test>\r\n' +
  'To: Bob <bob@example.test>, carol@example.test\r\n' +
  'Subject: Alternative\r\n' +
  'Date: Thu, 26 Nov 2026 11:00:00 +0100\r\n' +
  'Message-ID: <alt@example.test>\r\n' +
  'MIME-Version: 1.0\r\n' +
  'Content-Type: multipart/alternative; boundary="b1"\r\n' +
  '\r\n' +
  'Preamble.\r\n' +
  '--b1\r\n' +
  'Content-Type: text/plain; charset=us-ascii\r\n' +
  '\r\n' +
  'Plain text.\r\n' +
  '--b1\r\n' +
  'Content-Type: text/html; charset=us-ascii\r\n' +
  '\r\n' +
  '<p>HTML text.</p>\r\n' +
  '--b1--\r\n';

/** 0x00..0x0f then "binary": base64 of it below. */
export const ATTACHMENT_BYTES = Buffer.concat([
  Buffer.from([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]),
  Buffer.from('binary'),
]);

export const MIXED =
  'From: Alice <alice@example.test>\r\n' +
  'To: Bob <bob@example.test>\r\n' +
  'Subject: Mixed\r\n' +
  'Date: Thu, 26 Nov 2026 12:00:00 +0000\r\n' +
  'Message-ID: <mixed@example.test>\r\n' +
  'MIME-Version: 1.0\r\n' +
  'Content-Type: multipart/mixed; boundary="b2"\r\n' +
  '\r\n' +
  '--b2\r\n' +
  'Content-Type: text/plain; charset=utf-8\r\n' +
  'Content-Transfer-Encoding: 7bit\r\n' +
  '\r\n' +
  'See attached.\r\n' +
  '--b2\r\n' +
  'Content-Type: application/octet-stream; name="data.bin"\r\n' +
  'Content-Disposition: attachment; filename="data.bin"\r\n' +
  'Content-Transfer-Encoding: base64\r\n' +
  '\r\n' +
  `${ATTACHMENT_BYTES.toString('base64')}\r\n` +
  '--b2--\r\n';

export const NESTED =
  'From: Alice <alice@example.test>\r\n' +
  'To: Bob <bob@example.test>\r\n' +
  'Subject: Fwd: Inner\r\n' +
  'Date: Thu, 26 Nov 2026 13:00:00 +0000\r\n' +
  'Message-ID: <outer@example.test>\r\n' +
  'MIME-Version: 1.0\r\n' +
  'Content-Type: multipart/mixed; boundary="outer"\r\n' +
  '\r\n' +
  '--outer\r\n' +
  'Content-Type: text/plain\r\n' +
  '\r\n' +
  'Forwarded below.\r\n' +
  '--outer\r\n' +
  'Content-Type: message/rfc822\r\n' +
  '\r\n' +
  'From: Carol <carol@example.test>\r\n' +
  'To: Alice <alice@example.test>\r\n' +
  'Subject: Inner\r\n' +
  'Date: Wed, 25 Nov 2026 09:00:00 +0000\r\n' +
  'Message-ID: <inner@example.test>\r\n' +
  'MIME-Version: 1.0\r\n' +
  'Content-Type: multipart/alternative; boundary="inner"\r\n' +
  '\r\n' +
  '--inner\r\n' +
  'Content-Type: text/plain\r\n' +
  '\r\n' +
  'Inner plain.\r\n' +
  '--inner\r\n' +
  'Content-Type: text/html\r\n' +
  '\r\n' +
  '<b>Inner html.</b>\r\n' +
  '--inner--\r\n' +
  '\r\n' +
  '--outer--\r\n';

export const EIGHT_BIT = Buffer.from(
  'From: =?utf-8?q?J=C3=B6rg?= <joerg@example.test>\r\n' +
    'To: Zoë <zoe@example.test>\r\n' +
    'Subject: =?utf-8?b?R3LDvMOfZQ==?= und Grüße\r\n' +
    'Date: Thu, 26 Nov 2026 14:00:00 +0000\r\n' +
    'Message-ID: <eight@example.test>\r\n' +
    'MIME-Version: 1.0\r\n' +
    'Content-Type: text/plain; charset=utf-8\r\n' +
    'Content-Transfer-Encoding: quoted-printable\r\n' +
    '\r\n' +
    'Gr=C3=BC=C3=9Fe aus K=C3=B6ln, a long line that is soft-=\r\n' +
    'broken.\r\n',
  'utf8',
);

export const FIXTURES: ReadonlyArray<{ name: string; bytes: Buffer; date: Date }> = [
  { name: 'simple', bytes: Buffer.from(SIMPLE), date: new Date('2026-11-26T10:00:05Z') },
  { name: 'alternative', bytes: Buffer.from(ALTERNATIVE), date: new Date('2026-11-26T10:00:06Z') },
  { name: 'mixed', bytes: Buffer.from(MIXED), date: new Date('2026-11-26T10:00:07Z') },
  { name: 'nested', bytes: Buffer.from(NESTED), date: new Date('2026-11-26T10:00:08Z') },
  { name: 'eightbit', bytes: EIGHT_BIT, date: new Date('2026-11-05T10:00:09Z') },
];
