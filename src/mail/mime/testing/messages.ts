// The generated test corpus: named message shapes, well-formed and broken, in several charsets.

import { ISO_2022_JP_TESUTO, base64Lines, bWord, generate, qWord, qp, rfc2231Param } from './corpus.js';
import type { Eol, GenEntity, Generated } from './corpus.js';

export interface CorpusCase {
  name: string;
  gen: Generated;
  /** Expected decoded subject, preview and the like, when the case checks them. */
  subject?: string;
  baseSubject?: string;
  preview?: string;
  truncated?: boolean;
}

const PNG = Buffer.from('89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489', 'hex');

function simple(eol: Eol): Generated {
  return generate(
    {
      headers: [
        'Return-Path: <a@example.org>',
        `From: ${qWord('José Núñez', 'iso-8859-1')} <jose@example.org>`,
        'To: Bob <bob@example.com>',
        `Subject: Re: ${qWord('Ça va?', 'iso-8859-1')}`,
        'Date: Wed, 5 Jun 2024 09:30:00 -0400',
        'Message-ID: <simple.1@example.org>',
      ],
      body: ['Hello Bob,', '', '  How   are you?', '-- ', 'José', ''].join(eol),
    },
    eol,
  );
}

function alternative(): Generated {
  return generate({
    headers: [
      'From: "Ann Example" <ann@example.com>',
      'To: team@example.com',
      `Subject: ${bWord('Привет, мир', 'utf-8')}`,
      'MIME-Version: 1.0',
      'Content-Type: multipart/alternative; boundary="alt-1"',
    ],
    multipart: {
      boundary: 'alt-1',
      preamble: 'This is a multi-part message in MIME format.',
      parts: [
        {
          headers: [
            'Content-Type: text/plain; charset="utf-8"',
            'Content-Transfer-Encoding: quoted-printable',
          ],
          body: qp('Grüße aus Köln — the plain part.\nSecond line.\n'),
        },
        {
          headers: ['Content-Type: text/html; charset=utf-8', 'Content-Transfer-Encoding: base64'],
          body: base64Lines('<html><body><p>Grüße aus <b>Köln</b></p></body></html>'),
        },
      ],
      epilogue: 'epilogue text',
    },
  });
}

function mixedAttachment(): Generated {
  return generate({
    headers: [
      'From: sender@example.net',
      'To: =?windows-1252?Q?M=FCller?= <mueller@example.de>',
      `Subject: ${qWord('Rechnung für März – “final”', 'windows-1252')}`,
      'Content-Type: multipart/mixed;',
      ' boundary="----=_Part_0_12345.678"',
    ],
    multipart: {
      boundary: '----=_Part_0_12345.678',
      parts: [
        {
          headers: ['Content-Type: text/plain; charset=iso-8859-1', 'Content-Transfer-Encoding: 8bit'],
          body: Buffer.concat([
            Buffer.from('Sehr geehrter Herr M'),
            Buffer.from([0xfc]),
            Buffer.from('ller,\r\n'),
          ]),
        },
        {
          headers: [
            'Content-Type: image/png; name="p.png"',
            'Content-Transfer-Encoding: base64',
            'Content-ID: <img1@example.net>',
            'Content-Description: A tiny picture',
            'Content-Disposition: attachment;',
            ...rfc2231Param('filename', 'Übersicht März 2024.png', 'iso-8859-1'),
            'Content-Language: de, en',
            'Content-Location: http://example.net/p.png',
            'Content-MD5: Q2hlY2sgSW50ZWdyaXR5IQ==',
          ],
          body: base64Lines(PNG),
        },
      ],
    },
  });
}

function nested(): Generated {
  const inner: GenEntity = {
    headers: [
      'From: Inner <inner@example.org>',
      `Subject: ${bWord('Пересылка', 'koi8-r')}`,
      'Date: 1 Jan 2020 00:00 GMT',
      'Content-Type: multipart/mixed; boundary=inner',
    ],
    multipart: {
      boundary: 'inner',
      parts: [
        { headers: ['Content-Type: text/plain'], body: 'inner text\r\n' },
        {
          headers: ['Content-Type: application/pdf', 'Content-Disposition: attachment; filename="a.pdf"'],
          body: 'JVBERi0=',
        },
      ],
    },
  };
  return generate({
    headers: [
      'From: Outer <outer@example.org>',
      `Subject: Fwd: ${ISO_2022_JP_TESUTO.word}`,
      'Content-Type: multipart/mixed; boundary="outer"',
    ],
    multipart: {
      boundary: 'outer',
      parts: [
        {
          headers: ['Content-Type: multipart/alternative; boundary="alt"'],
          multipart: {
            boundary: 'alt',
            parts: [
              { headers: ['Content-Type: text/plain; charset=us-ascii'], body: 'See attached.\r\n' },
              {
                headers: ['Content-Type: multipart/related; boundary="rel"; type="text/html"'],
                multipart: {
                  boundary: 'rel',
                  parts: [
                    { headers: ['Content-Type: text/html'], body: '<p>See <img src="cid:x"></p>' },
                    { headers: ['Content-Type: image/gif', 'Content-ID: <x>'], body: 'R0lGODlh' },
                  ],
                },
              },
            ],
          },
        },
        { headers: ['Content-Type: message/rfc822'], message: inner },
        {
          headers: ['Content-Type: message/rfc822'],
          message: { headers: ['Subject: plain inner'], body: 'x\r\n' },
        },
      ],
    },
  });
}

function digest(): Generated {
  return generate({
    headers: ['Subject: digest', 'Content-Type: multipart/digest; boundary=d'],
    multipart: {
      boundary: 'd',
      parts: [
        { headers: [], message: { headers: ['Subject: one'], body: 'first\r\n' } },
        { headers: [], message: { headers: ['Subject: two'], body: 'second' } },
      ],
    },
  });
}

function topLevelRfc822(): Generated {
  return generate({
    headers: ['Subject: wrapper', 'Content-Type: message/rfc822'],
    message: {
      headers: ['Subject: wrapped', 'Content-Type: multipart/mixed; boundary=w'],
      multipart: {
        boundary: 'w',
        parts: [
          { headers: [], body: 'a' },
          { headers: [], body: 'b\r\n' },
        ],
      },
    },
  });
}

function groups(): Generated {
  return generate({
    headers: [
      'From: Pete <pete@silly.example>',
      'To: A Group:Ed Jones <c@a.test>,joe@where.test,John <jdoe@one.test>;, undisclosed-recipients:;',
      'Cc: "Mary Smith: Personal Account" <smith@home.example>, <@route1,@route2:jeff@xyz.test>',
      'Reply-To: ',
      'Sender: bob (Bob Old-Style) ',
      'Subject: [list] Re: [another] Fwd: Re: hello (fwd)',
      'In-Reply-To: <a@b> <c@d>',
      'References: <x@y>\r\n <a@b>',
      'List-Id: Example list <list.example.org>',
    ],
    body: '',
  });
}

function paddedBoundaries(): Generated {
  return generate({
    headers: ['Content-Type: multipart/mixed; boundary=pad'],
    multipart: {
      boundary: 'pad',
      padding: ' \t ',
      parts: [
        { headers: ['Content-Type: text/plain'], body: '--pad is not a delimiter here\r\n--padding neither' },
        { headers: [], body: '' },
      ],
    },
  });
}

function eightBitHeaders(): Generated {
  return generate({
    headers: [
      'From: Jürgen Groß <jürgen@bücher.example>',
      'Subject: Grüße — 日本語',
      Buffer.concat([Buffer.from('X-Latin1: caf'), Buffer.from([0xe9, 0xff, 0xfe])]),
      Buffer.concat([Buffer.from('Content-Type: text/plain; charset=utf-8')]),
    ],
    body: 'Grüße\r\n',
  });
}

function broken(): Record<string, Generated> {
  return {
    missingClose: generate({
      headers: ['Content-Type: multipart/mixed; boundary=b'],
      multipart: {
        boundary: 'b',
        close: false,
        parts: [
          { headers: ['Content-Type: text/plain'], body: 'one\r\n' },
          { headers: [], body: 'two\r\nlast line' },
        ],
      },
    }),
    boundaryNeverSeen: generate({
      headers: ['Content-Type: multipart/mixed; boundary=never'],
      body: 'no delimiter at all\r\n--nevermind\r\n',
    }),
    noBoundaryParam: generate({ headers: ['Content-Type: multipart/mixed'], body: 'text\r\n' }),
    noHeaders: generate({ headers: [], body: 'just a body\r\n' }),
    headerWithoutColon: generate({
      headers: ['Subject: ok', 'this line has no colon', 'From: x@y.test'],
      body: 'body\r\n',
    }),
    noBlankLine: generate({ headers: ['Subject: only headers', 'From: x@y.test'], noBlankLine: true }),
    partWithoutBlankLine: generate({
      headers: ['Content-Type: multipart/mixed; boundary=q'],
      multipart: {
        boundary: 'q',
        parts: [
          { headers: ['Content-Type: text/plain'], noBlankLine: true },
          { headers: ['Content-Type: text/plain'], body: 'ok' },
        ],
      },
    }),
    emptyMessage: generate({ headers: [], noBlankLine: true }),
    base64Rfc822: generate({
      headers: ['Content-Type: multipart/mixed; boundary=e'],
      multipart: {
        boundary: 'e',
        parts: [
          {
            headers: ['Content-Type: message/rfc822', 'Content-Transfer-Encoding: base64'],
            body: base64Lines('Subject: hidden\r\n\r\nhidden\r\n'),
          },
        ],
      },
    }),
    invalidContentType: generate({ headers: ['Content-Type: garbage'], body: 'x' }),
  };
}

export function corpus(): CorpusCase[] {
  const b = broken();
  return [
    {
      name: 'simple (CRLF, ISO-8859-1 words)',
      gen: simple('\r\n'),
      subject: 'Re: Ça va?',
      baseSubject: 'Ça va?',
      preview: 'Hello Bob, How are you? -- José',
    },
    {
      name: 'simple (bare LF)',
      gen: simple('\n'),
      subject: 'Re: Ça va?',
      preview: 'Hello Bob, How are you? -- José',
    },
    {
      name: 'multipart/alternative (UTF-8, QP and base64)',
      gen: alternative(),
      subject: 'Привет, мир',
      preview: 'Grüße aus Köln — the plain part. Second line.',
    },
    {
      name: 'mixed with attachment (windows-1252, RFC 2231)',
      gen: mixedAttachment(),
      subject: 'Rechnung für März – “final”',
      preview: 'Sehr geehrter Herr Müller,',
    },
    {
      name: 'nested multiparts and message/rfc822 (ISO-2022-JP, KOI8-R)',
      gen: nested(),
      subject: `Fwd: ${ISO_2022_JP_TESUTO.text}`,
      baseSubject: ISO_2022_JP_TESUTO.text,
      preview: 'See attached.',
    },
    { name: 'multipart/digest', gen: digest(), preview: 'first' },
    { name: 'top-level message/rfc822', gen: topLevelRfc822(), preview: 'a' },
    { name: 'groups and odd addresses', gen: groups(), baseSubject: 'hello', preview: '' },
    { name: 'transport padding', gen: paddedBoundaries() },
    { name: '8-bit headers', gen: eightBitHeaders(), subject: 'Grüße — 日本語', preview: 'Grüße' },
    { name: 'broken: missing close delimiter', gen: b.missingClose },
    { name: 'broken: boundary never seen', gen: b.boundaryNeverSeen },
    { name: 'broken: multipart without boundary', gen: b.noBoundaryParam },
    { name: 'broken: no headers', gen: b.noHeaders, preview: 'just a body' },
    { name: 'broken: header without colon', gen: b.headerWithoutColon, subject: 'ok' },
    { name: 'broken: no blank line after headers', gen: b.noBlankLine, subject: 'only headers' },
    { name: 'broken: body part without blank line', gen: b.partWithoutBlankLine },
    { name: 'broken: empty message', gen: b.emptyMessage },
    { name: 'broken: base64 message/rfc822', gen: b.base64Rfc822 },
    { name: 'broken: invalid content-type', gen: b.invalidContentType },
  ];
}
