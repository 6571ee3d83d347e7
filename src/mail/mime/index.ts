// The MIME indexer: parse once when a message enters the store, serve from offsets afterwards.

export type {
  Envelope,
  ImapAddress,
  MailAddress,
  MimeDisposition,
  MimeLimits,
  MimeParam,
  MimePart,
  MimeRecord,
  SearchHeaders,
} from './types.js';
export { MimeIndexer, indexMessage } from './indexer.js';
export {
  bodystructure,
  envelopeValue,
  formatBodystructure,
  formatEnvelope,
  imapString,
} from './bodystructure.js';
export type { BodystructureOptions, ImapValue } from './bodystructure.js';
export { findPart, parsePartNumber, sectionRange } from './section.js';
export type { ByteRange, SectionText } from './section.js';
export { baseSubject } from './base-subject.js';
export { parseMailDate } from './date.js';
export { decodeWords, parseAddressList } from './address.js';
export { decodeQuotedPrintable, htmlToText } from './preview.js';
