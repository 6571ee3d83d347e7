// Decoded top-level header fields for SEARCH and SORT (RFC 9051 §6.4.4, RFC 5256).

import { decodeWords, mailAddresses, parseAddressList } from './address.js';
import { baseSubject } from './base-subject.js';
import { parseMailDate } from './date.js';
import { firstValues } from './header-block.js';
import type { HeaderField } from './header-block.js';
import type { SearchHeaders } from './types.js';

/** The msg-ids ("<...>") of a Message-ID, In-Reply-To or References value, in order. */
export function messageIds(value: string, max = 1000): string[] {
  const out: string[] = [];
  let i = 0;
  while (out.length < max) {
    const lt = value.indexOf('<', i);
    if (lt === -1) break;
    const gt = value.indexOf('>', lt + 1);
    if (gt === -1) break;
    const id = value.slice(lt + 1, gt).replace(/\s+/g, '');
    if (id !== '') out.push(`<${id}>`);
    i = gt + 1;
  }
  return out;
}

function firstMessageId(value: string | undefined): string | null {
  if (value === undefined) return null;
  const ids = messageIds(value, 1);
  if (ids.length > 0) return ids[0];
  const bare = value.trim();
  return bare === '' || bare.includes(' ') ? null : bare;
}

export function emptySearchHeaders(): SearchHeaders {
  return {
    subject: '',
    baseSubject: '',
    from: [],
    to: [],
    cc: [],
    bcc: [],
    date: null,
    messageId: null,
    inReplyTo: null,
    references: [],
    listId: null,
    names: [],
  };
}

export function searchHeaders(fields: HeaderField[]): SearchHeaders {
  const first = firstValues(fields);
  const names: string[] = [];
  const seen = new Set<string>();
  for (const f of fields) {
    if (!seen.has(f.key)) {
      seen.add(f.key);
      names.push(f.key);
    }
  }
  const subject = decodeWords(first.get('subject') ?? '');
  const addrs = (name: string): SearchHeaders['from'] => {
    const v = first.get(name);
    return v === undefined ? [] : mailAddresses(parseAddressList(v));
  };
  const dateRaw = first.get('date');
  const listIdRaw = first.get('list-id');
  let listId: string | null = null;
  if (listIdRaw !== undefined) {
    const lt = listIdRaw.lastIndexOf('<');
    const gt = listIdRaw.lastIndexOf('>');
    listId = lt !== -1 && gt > lt ? listIdRaw.slice(lt + 1, gt).trim() : listIdRaw.trim();
    if (listId === '') listId = null;
  }
  return {
    subject,
    baseSubject: baseSubject(subject),
    from: addrs('from'),
    to: addrs('to'),
    cc: addrs('cc'),
    bcc: addrs('bcc'),
    date: dateRaw === undefined ? null : parseMailDate(dateRaw),
    messageId: firstMessageId(first.get('message-id')),
    inReplyTo: firstMessageId(first.get('in-reply-to')),
    references: messageIds(first.get('references') ?? ''),
    listId,
    names,
  };
}
