// A realistic, deterministic mailbox for SORT and THREAD tests (the same seed gives the same bytes
// everywhere): conversations whose replies carry References and/or In-Reply-To chains (some
// References truncated, some parents never delivered, a few duplicate or missing Message-IDs,
// a loop), Re:/Fwd:/[list] subjects in mixed case with "(fwd)" trailers and "[fwd: ...]"
// wrappers, RFC 2047 encoded subjects and display names, missing and unparsable Date headers,
// dates in many zones, groups, empty and missing From/To/Cc, and many equal keys (same sizes,
// dates, names, subjects) so that the sequence-number tie-break matters.

import { prng } from './prng.js';

export interface GeneratedMessage {
  bytes: Buffer;
  /** INTERNALDATE as an IMAP date-time, for APPEND (RFC 9051 §9 date-time). */
  internalDate: string;
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];

const PEOPLE: readonly string[] = [
  'Alice Martin <alice@example.test>',
  'alice@example.test',
  'Bob <bob@example.org>',
  '"Smith, John" <john.smith@example.net>',
  'john.smith@example.net',
  '=?UTF-8?Q?Ren=C3=A9e_Dupont?= <renee@example.fr>',
  '=?ISO-8859-1?Q?J=F6rg_M=FCller?= <joerg@example.de>',
  '=?UTF-8?B?0JjQstCw0L0g0J/QtdGC0YDQvtCy?= <ivan@example.ru>',
  'carol@example.com (Carol C)',
  'Dave <DAVE@example.com>',
  'dave@example.com',
  '"" <empty-name@example.com>',
  'Zoe Adams <zoe@example.test>',
  'zoe <zoe@example.test>',
  'Émile Zola <emile@example.fr>',
  'eve <eve@Example.COM>',
  'Mallory <mallory@example.org>',
  'Trent <trent@example.org>',
  '"Peggy (admin)" <peggy@example.org>',
  'Victor <victor@example.org>',
  'walter@example.org',
  'Yvonne <yvonne@example.org>',
  '<angle-only@example.org>',
  'Undisclosed recipients:;',
  'Team: alice@example.test, bob@example.org;',
  'list: ;',
  'Ümit <umit@example.com>',
  'aaron <aaron@example.com>',
  'Aaron <AARON@example.com>',
];

const SUBJECTS: readonly string[] = [
  'Quarterly report',
  'quarterly REPORT',
  'Lunch on Friday?',
  'Build failed on main',
  'Meeting notes',
  'Re: ',
  'Invoice 2026-0042',
  'Welcome to the list',
  'Café crème',
  'Über alles',
  'zebra crossing',
  'Apple pie recipe',
  'apple Pie recipe',
  'Holiday plans',
  'Server maintenance window',
  '[ANN] Release 2.0',
  'Question about the API',
  'Résumé attached',
  'Ошибка в отчёте',
  'Hello',
  'hello',
  'Status',
  'Party!!!',
  'Book club',
  '  spaced    out   subject  ',
  '[PATCH 1/2] Fix the parser',
  '[list][other] Two blobs',
  '[only-a-blob]',
  'Re:',
  'Fwd: [fwd: Nested forward]',
  'Re : Space before the colon',
  'Re:Re:No spaces',
  'A long subject that is folded\r\n over two lines',
  'fwd (fwd)',
  '(fwd)',
];

/** Encoded words (RFC 2047) for some subjects, decoding to the same text. */
function encodeSubject(s: string, mode: number): string {
  if (mode === 0) return `=?UTF-8?B?${Buffer.from(s, 'utf8').toString('base64')}?=`;
  const q = [...Buffer.from(s, 'utf8')]
    .map((b) =>
      b === 0x20
        ? '_'
        : b < 0x80 && /[A-Za-z0-9]/.test(String.fromCharCode(b))
          ? String.fromCharCode(b)
          : `=${b.toString(16).toUpperCase().padStart(2, '0')}`,
    )
    .join('');
  return `=?utf-8?q?${q}?=`;
}

function pad(n: number, w = 2): string {
  return String(n).padStart(w, '0');
}

/** An RFC 5322 date for epoch ms `t` in the zone `zoneMin` minutes east of UTC. */
function mailDate(t: number, zoneMin: number, withDay: boolean): string {
  const d = new Date(t + zoneMin * 60_000);
  const sign = zoneMin < 0 ? '-' : '+';
  const z = Math.abs(zoneMin);
  const zone = `${sign}${pad(Math.floor(z / 60))}${pad(z % 60)}`;
  const day = withDay ? `${DAYS[d.getUTCDay()]}, ` : '';
  return (
    `${day}${d.getUTCDate()} ${MONTHS[d.getUTCMonth()]} ${d.getUTCFullYear()} ` +
    `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())} ${zone}`
  );
}

function imapDate(t: number): string {
  const d = new Date(t);
  return (
    `${pad(d.getUTCDate())}-${MONTHS[d.getUTCMonth()]}-${d.getUTCFullYear()} ` +
    `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())} +0000`
  );
}

interface Sent {
  id: string | null;
  refs: string[];
  base: string;
}

/** `count` messages (default 2,000) from `seed`. */
export function generateSortMailbox(seed = 5256, count = 2000): GeneratedMessage[] {
  const rnd = prng(seed);
  const pick = <T>(a: readonly T[]): T => a[Math.floor(rnd() * a.length)]!;
  const out: GeneratedMessage[] = [];
  const sent: Sent[] = [];
  const start = Date.UTC(2025, 0, 1);
  let clock = start;
  let lastSent = start;
  let lastArrival = start;
  for (let i = 0; i < count; i++) {
    clock += Math.floor(rnd() * 3_600_000);
    // Equal internal dates and equal sent dates now and then.
    const arrival = rnd() < 0.08 ? lastArrival : clock + Math.floor(rnd() * 600_000);
    lastArrival = arrival;
    const sentAt = rnd() < 0.08 ? lastSent : clock - Math.floor(rnd() * 86_400_000 * 3);
    lastSent = sentAt;

    // Message-ID: mostly unique; a few missing, a few duplicating an earlier one.
    let id: string | null = `<m${i}.${Math.floor(rnd() * 1e6)}@gen.example.test>`;
    const r = rnd();
    if (r < 0.02) id = null;
    else if (r < 0.035 && sent.length > 0) id = pick(sent).id;

    let refs: string[] = [];
    let inReplyTo: string | null = null;
    let base = pick(SUBJECTS);
    let subject = base;
    const kind = rnd();
    if (sent.length > 0 && kind < 0.5) {
      // A reply or forward of an earlier message (recent ones more often).
      const parent = rnd() < 0.6 ? sent[Math.max(0, sent.length - 1 - Math.floor(rnd() * 30))]! : pick(sent);
      base = parent.base;
      if (parent.id !== null) {
        refs = [...parent.refs, parent.id];
        inReplyTo = parent.id;
      }
      const how = rnd();
      if (how < 0.35) subject = `Re: ${base}`;
      else if (how < 0.45) subject = `RE: Re: ${base}`;
      else if (how < 0.52) subject = `Fwd: ${base}`;
      else if (how < 0.57) subject = `[list] Re: ${base}`;
      else if (how < 0.61) subject = `Re[2]: ${base}`;
      else if (how < 0.65) subject = `${base} (fwd)`;
      else if (how < 0.69) subject = `[Fwd: ${base}]`;
      else if (how < 0.72) subject = `fw: [list] ${base}`;
      else if (how < 0.76) subject = `[list]   re:  ${base}`;
      else if (how < 0.8)
        subject = base; // a reply that kept the subject
      else subject = `Re: ${base}`;
      const refMode = rnd();
      if (refMode < 0.1)
        refs = []; // In-Reply-To only
      else if (refMode < 0.18)
        refs = refs.slice(-1); // References truncated to the parent
      else if (refMode < 0.22)
        inReplyTo = null; // References only
      else if (refMode < 0.26) refs = [`<lost${Math.floor(rnd() * 40)}@gen.example.test>`, ...refs]; // unknown ancestor
    } else if (kind < 0.56) {
      // A reply to a message that is not in the mailbox.
      const lost = `<lost${Math.floor(rnd() * 40)}@gen.example.test>`;
      refs = [lost];
      inReplyTo = lost;
      subject = `Re: ${base}`;
    } else if (kind < 0.58 && sent.length > 2) {
      // A References list that loops back on itself.
      const a = pick(sent);
      const b = pick(sent);
      if (a.id !== null && b.id !== null) refs = [a.id, b.id, a.id];
    }
    if (rnd() < 0.12) subject = encodeSubject(subject, Math.floor(rnd() * 2));

    const h: string[] = [];
    const fromRoll = rnd();
    if (fromRoll < 0.03) h.push('From: ');
    else if (fromRoll > 0.02 && fromRoll < 0.05) {
      /* no From */
    } else h.push(`From: ${pick(PEOPLE)}`);
    const toRoll = rnd();
    if (toRoll < 0.04) {
      /* no To */
    } else if (toRoll < 0.15) h.push(`To: ${pick(PEOPLE)}, ${pick(PEOPLE)}`);
    else h.push(`To: ${pick(PEOPLE)}`);
    if (rnd() < 0.4) h.push(`Cc: ${pick(PEOPLE)}`);
    const subjRoll = rnd();
    if (subjRoll < 0.02) {
      /* no Subject */
    } else if (subjRoll < 0.04) h.push('Subject: ');
    else h.push(`Subject: ${subject}`);
    const dateRoll = rnd();
    if (dateRoll < 0.04) {
      /* no Date: the internal date is the sent date */
    } else if (dateRoll < 0.07)
      h.push(`Date: ${pick(['not a date', 'Tuesday', '32 Foo 2025 99:99:99', ''])}`);
    else if (dateRoll < 0.1) {
      // Unusual but parsable forms: no seconds, two-digit years, named zones, -0000.
      const d = mailDate(sentAt, 0, false).replace(/ \+0000$/, '');
      const form = Math.floor(rnd() * 4);
      if (form === 0) h.push(`Date: ${d.replace(/:\d\d$/, '')} +0100`);
      else if (form === 1) h.push(`Date: ${d.replace(/ (\d\d)(\d\d) /, ' $2 ')} GMT`);
      else if (form === 2) h.push(`Date: ${d} EST`);
      else h.push(`Date: ${d} -0000`);
    } else h.push(`Date: ${mailDate(sentAt, pick([0, 60, -300, 330, -480, 545, 120]), rnd() < 0.7)}`);
    if (id !== null) h.push(`Message-ID: ${id}`);
    if (inReplyTo !== null) h.push(`In-Reply-To: ${inReplyTo}`);
    if (refs.length > 0) h.push(`References: ${refs.join('\r\n ')}`);
    h.push('MIME-Version: 1.0', 'Content-Type: text/plain; charset=utf-8');
    // Bodies of a few fixed lengths, so sizes repeat.
    const lines = 1 + Math.floor(rnd() * 6);
    const body = 'Line of text for the generated mailbox.\r\n'.repeat(lines);
    const bytes = Buffer.from(h.join('\r\n') + '\r\n\r\n' + body, 'utf8');
    out.push({ bytes, internalDate: imapDate(arrival) });
    sent.push({ id, refs, base });
  }
  return out;
}
