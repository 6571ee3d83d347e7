// Deterministic, varied, realistic test messages for the IMAP benchmark: 2-8 KiB each, about
// 70% text/plain (some quoted-printable), 20% multipart/alternative (text + HTML), 10%
// multipart/mixed with a base64 attachment. Message i is the same bytes on every run. Known
// words let SEARCH results be checked: SUBJECT_WORD is in the Subject of every message with
// i % 100 === 7, BODY_WORD in the text of every message with i % 250 === 3, and neither
// appears anywhere else. Lines end in LF (callers convert or count CRLF) and never begin
// with "From " (so mbox needs no escaping).

import { prng } from '../test/helpers/prng.js';

export const SUBJECT_WORD = 'quarterly';
export const BODY_WORD = 'zephyrine';

export function subjectWordCount(messages: number): number {
  return messages > 7 ? Math.floor((messages - 8) / 100) + 1 : 0;
}

export function bodyWordCount(messages: number): number {
  return messages > 3 ? Math.floor((messages - 4) / 250) + 1 : 0;
}

const FIRST = [
  'Alice',
  'Bruno',
  'Chloe',
  'Dmitri',
  'Emma',
  'Farid',
  'Grace',
  'Hiro',
  'Ines',
  'Jonas',
  'Kofi',
  'Lena',
];
const LAST = [
  'Martin',
  'Okafor',
  'Schmidt',
  'Tanaka',
  'Silva',
  'Novak',
  'Dubois',
  'Larsen',
  'Rossi',
  'Kowalski',
];
const DOMAINS = ['example.org', 'mail.example.net', 'corp.example.com', 'lists.example.edu'];
const WORDS = (
  'the project meeting schedule budget report draft review team update release server client ' +
  'network storage backup invoice payment customer order shipping delivery account password ' +
  'security policy document archive calendar holiday weekend morning evening office travel ' +
  'hotel flight ticket conference agenda minutes summary proposal contract signature deadline ' +
  'feature request bug issue ticket support question answer thanks regards please note ' +
  'attached following previous next week month year today tomorrow yesterday monday friday ' +
  'analysis numbers growth sales market product design layout colour photo picture garden ' +
  'kitchen recipe dinner lunch coffee weather rain sunshine mountain river bicycle train'
).split(' ');
const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

function pick<T>(r: () => number, list: readonly T[]): T {
  return list[Math.floor(r() * list.length)];
}

function pad(n: number): string {
  return String(n).padStart(2, '0');
}

/** RFC 5322 §3.3 date-time in UTC. */
export function rfc5322Date(d: Date): string {
  return (
    `${DAYS[d.getUTCDay()]}, ${d.getUTCDate()} ${MONTHS[d.getUTCMonth()]} ${d.getUTCFullYear()} ` +
    `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())} +0000`
  );
}

/** The asctime-style date of an mbox From_ line (RFC 4155). */
export function mboxDate(d: Date): string {
  return (
    `${DAYS[d.getUTCDay()]} ${MONTHS[d.getUTCMonth()]} ${String(d.getUTCDate()).padStart(2, ' ')} ` +
    `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())} ${d.getUTCFullYear()}`
  );
}

function sentence(r: () => number, words: number): string {
  const out: string[] = [];
  for (let i = 0; i < words; i++) out.push(pick(r, WORDS));
  out[0] = out[0][0].toUpperCase() + out[0].slice(1);
  return out.join(' ') + '.';
}

/** Paragraphs wrapped at ~72 columns, about `bytes` long. */
function text(r: () => number, bytes: number, extraWord: string | null): string {
  const lines: string[] = [];
  let size = 0;
  let line = '';
  let placed = extraWord === null;
  while (size < bytes) {
    let s = sentence(r, 5 + Math.floor(r() * 12));
    if (!placed && size > bytes / 3) {
      s = `${s} The ${extraWord} item is noted.`;
      placed = true;
    }
    for (const w of s.split(' ')) {
      if (line.length + w.length + 1 > 72) {
        lines.push(line);
        size += line.length + 1;
        line = w;
      } else {
        line = line === '' ? w : `${line} ${w}`;
      }
    }
    if (r() < 0.15) {
      lines.push(line, '');
      size += line.length + 2;
      line = '';
    }
  }
  if (!placed) line = `${line} The ${extraWord} item is noted.`;
  if (line !== '') lines.push(line);
  return lines.join('\n') + '\n';
}

export interface BenchMessage {
  /** The message with LF line ends. */
  lf: string;
  /** Its size with CRLF line ends (the RFC822.SIZE a server reports). */
  crlfSize: number;
  date: Date;
}

const BASE_TIME = Date.UTC(2024, 0, 1, 8, 0, 0);

/** Message number i (0-based) of the benchmark set. */
export function benchMessage(i: number, to = 'bench@example.test'): BenchMessage {
  const r = prng(i * 7919 + 17);
  const first = pick(r, FIRST);
  const last = pick(r, LAST);
  const from = `${first} ${last} <${first.toLowerCase()}.${last.toLowerCase()}@${pick(r, DOMAINS)}>`;
  const date = new Date(BASE_TIME + i * 300_000 + Math.floor(r() * 60_000));
  let subject = sentence(r, 3 + Math.floor(r() * 5)).slice(0, -1);
  if (i % 100 === 7) subject = `${subject} ${SUBJECT_WORD} figures`;
  if (r() < 0.2) subject = `Re: ${subject}`;
  const target = 2048 + Math.floor(r() * 6144);
  const bodyWord = i % 250 === 3 ? BODY_WORD : null;
  const headers = [
    `Return-Path: <${first.toLowerCase()}@example.org>`,
    `From: ${from}`,
    `To: ${to}`,
    ...(r() < 0.3 ? [`Cc: ${pick(r, FIRST)} ${pick(r, LAST)} <cc${i % 50}@${pick(r, DOMAINS)}>`] : []),
    `Subject: ${subject}`,
    `Date: ${rfc5322Date(date)}`,
    `Message-ID: <${i}.${Math.floor(r() * 1e9)}@bench.example.org>`,
    'MIME-Version: 1.0',
  ];
  const kind = r();
  let body: string;
  const headerBytes = headers.join('\n').length + 200;
  const bodyBytes = Math.max(512, target - headerBytes);
  if (kind < 0.7) {
    headers.push('Content-Type: text/plain; charset=utf-8', 'Content-Transfer-Encoding: 8bit');
    body = text(r, bodyBytes, bodyWord);
  } else if (kind < 0.9) {
    const b = `=_alt_${i}_${Math.floor(r() * 1e6)}`;
    const plain = text(r, bodyBytes / 2.4, bodyWord);
    const html = `<html><body>\n${plain
      .split('\n\n')
      .map((p) => `<p>${p}</p>`)
      .join('\n')}</body></html>\n`;
    headers.push(`Content-Type: multipart/alternative; boundary="${b}"`);
    body =
      `This is a multi-part message in MIME format.\n\n--${b}\nContent-Type: text/plain; charset=utf-8\n\n${plain}` +
      `\n--${b}\nContent-Type: text/html; charset=utf-8\n\n${html}\n--${b}--\n`;
  } else {
    const b = `=_mix_${i}_${Math.floor(r() * 1e6)}`;
    const plain = text(r, bodyBytes / 3, bodyWord);
    const raw = Buffer.alloc(Math.floor(bodyBytes / 2));
    for (let k = 0; k < raw.length; k++) raw[k] = Math.floor(r() * 256);
    const b64 = raw.toString('base64').replace(/.{76}/g, '$&\n');
    headers.push(`Content-Type: multipart/mixed; boundary="${b}"`);
    body =
      `--${b}\nContent-Type: text/plain; charset=utf-8\n\n${plain}\n--${b}\n` +
      `Content-Type: application/pdf; name="report-${i}.pdf"\nContent-Transfer-Encoding: base64\n` +
      `Content-Disposition: attachment; filename="report-${i}.pdf"\n\n${b64.trimEnd()}\n--${b}--\n`;
  }
  const lf = `${headers.join('\n')}\n\n${body}`;
  let lines = 0;
  for (let k = 0; k < lf.length; k++) if (lf.charCodeAt(k) === 10) lines++;
  return { lf, crlfSize: Buffer.byteLength(lf) + lines, date };
}
