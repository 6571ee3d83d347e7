// What every backend keeps per blob for IMAP SEARCH: the decoded, case-folded header fields
// (src/mail/mime/search-fields.ts) and the byte ranges of the text parts, from the MIME record.

import { searchFieldText, textPartRanges } from '../../mail/mime/search-fields.js';
import type { MimeRecord } from '../../mail/mime/types.js';

export interface BlobSearchText {
  subject: string | null;
  from: string | null;
  to: string | null;
  cc: string | null;
  bcc: string | null;
  /** TextPartRange[] as JSON. */
  textParts: string;
}

export function blobSearchText(mime: MimeRecord): BlobSearchText {
  // A record without headers or parts (fabricated in unit tests, or from a future indexer that
  // dropped them) has nothing SEARCH can match: no fields, no text parts.
  const partial = mime as Partial<MimeRecord>;
  if (partial.headers === undefined || !Array.isArray(partial.parts)) {
    return { subject: null, from: null, to: null, cc: null, bcc: null, textParts: '[]' };
  }
  return {
    subject: searchFieldText(mime, 'subject'),
    from: searchFieldText(mime, 'from'),
    to: searchFieldText(mime, 'to'),
    cc: searchFieldText(mime, 'cc'),
    bcc: searchFieldText(mime, 'bcc'),
    textParts: JSON.stringify(textPartRanges(mime)),
  };
}
