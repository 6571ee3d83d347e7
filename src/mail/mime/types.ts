// The MIME record: what the indexer learns about a message in one pass when it enters the store.
// It is plain JSON data (the store saves it as JSON): no Dates, Buffers, Maps or class instances.
// Every part is described by byte offsets into the message exactly as stored, so IMAP serves
// BODY[1.2.MIME], BODY[2.TEXT] or BODY[HEADER] by seeking into the blob (see section.ts).

/** The three MIME limits of core/limits.ts (Limits.mimeDepth, mimeParts, headerSize). */
export interface MimeLimits {
  /** Deepest entity nesting indexed; a multipart or message/rfc822 at this depth stays an opaque leaf. */
  mimeDepth: number;
  /** Most entities (the message itself included) in the part table; later parts are not indexed. */
  mimeParts: number;
  /** Largest header block of one entity, in bytes; beyond it the rest is treated as body. */
  headerSize: number;
}

/**
 * One address of an IMAP ENVELOPE (RFC 9051 §7.5.2): raw, still-encoded strings.
 * Group syntax (RFC 5322 §3.4): a group start has `mailbox` = group name and `host` = null,
 * a group end has every field null. A mailbox without a domain has `host` = "".
 */
export interface ImapAddress {
  name: string | null;
  adl: string | null;
  mailbox: string | null;
  host: string | null;
}

/** The fields of IMAP ENVELOPE, in the order IMAP sends them; header values unfolded but not decoded. */
export interface Envelope {
  date: string | null;
  subject: string | null;
  from: ImapAddress[] | null;
  /** Same as `from` when the Sender header is absent or empty (RFC 9051 §7.5.2). */
  sender: ImapAddress[] | null;
  /** Same as `from` when the Reply-To header is absent or empty. */
  replyTo: ImapAddress[] | null;
  to: ImapAddress[] | null;
  cc: ImapAddress[] | null;
  bcc: ImapAddress[] | null;
  inReplyTo: string | null;
  messageId: string | null;
}

/** A header parameter: lowercase name, value with RFC 2231 continuations and charsets decoded. */
export type MimeParam = [name: string, value: string];

export interface MimeDisposition {
  /** Lowercase disposition type, e.g. "attachment". */
  type: string;
  params: MimeParam[];
}

/**
 * One MIME entity. `parts[0]` is the message itself. Offsets are byte offsets into the stored
 * message: the header is [headerStart, headerEnd) and includes its blank line, the body is
 * [headerEnd, bodyEnd). RFC 2046 §5.1.1: the line break before a delimiter belongs to the delimiter.
 */
export interface MimePart {
  /**
   * IMAP part number. The top-level message is "". A body part of a multipart is "1", "1.2" and so on.
   * The message inside a message/rfc822 part numbered N is an entity of kind "message" numbered N too
   * (its header and text are N.HEADER and N.TEXT); when that message is not multipart its body is N.1.
   */
  part: string;
  /** "message": a whole RFC 5322 message (the top level, or inside message/rfc822); "part": a body part. */
  kind: 'message' | 'part';
  /** Index of the parent entity in `parts`, -1 for the top-level message. */
  parent: number;
  /** Multipart: its body parts in order. message/rfc822 (when indexed): one entry, the embedded message. */
  children: number[];
  /** 0 for the top-level message, +1 for each level of nesting (multipart child or embedded message). */
  depth: number;
  headerStart: number;
  /** End of the header block (after its blank line when there is one) and start of the body. */
  headerEnd: number;
  bodyEnd: number;
  headerSize: number;
  bodySize: number;
  /** Lines of the body: line ends (CRLF or bare LF) plus one for a final line without one. */
  bodyLines: number;
  /** Lowercase media type and subtype; text/plain when Content-Type is missing or invalid (RFC 2045 §5.2). */
  type: string;
  subtype: string;
  params: MimeParam[];
  /** Lowercase charset parameter, or null. */
  charset: string | null;
  /** Raw (unfolded) Content-ID, Content-Description, Content-Location and Content-MD5 values. */
  id: string | null;
  description: string | null;
  /** Lowercase Content-Transfer-Encoding, "7bit" when absent (RFC 2045 §6.1). */
  encoding: string;
  disposition: MimeDisposition | null;
  language: string[] | null;
  location: string | null;
  md5: string | null;
  /** Decoded file name (Content-Disposition filename, else Content-Type name), or null. */
  filename: string | null;
  /** For message/rfc822 and message/global parts whose embedded message was indexed. */
  message: { envelope: Envelope; root: number } | null;
  /** A container not descended into because a limit was hit or its content cannot be parsed. */
  opaque: boolean;
}

/** A decoded address for SEARCH and SORT. */
export interface MailAddress {
  /** Display name, RFC 2047 decoded; "" when there is none. */
  name: string;
  /** mailbox@host, or just the mailbox when there is no domain; "" for a group's start. */
  address: string;
  /** The start of a group (`name` is the group's display name): not an address (SORT skips it). */
  group?: true;
}

/** Decoded top-level header fields for SEARCH and SORT. */
export interface SearchHeaders {
  /** Subject with RFC 2047 words decoded, "" when absent. */
  subject: string;
  /** RFC 5256 §2.1 base subject (not case-folded; SORT compares with i;unicode-casemap). */
  baseSubject: string;
  from: MailAddress[];
  to: MailAddress[];
  cc: MailAddress[];
  bcc: MailAddress[];
  /** Date header in epoch milliseconds, null when absent or unparseable. */
  date: number | null;
  /** First msg-id of each field, with its angle brackets, or null. */
  messageId: string | null;
  inReplyTo: string | null;
  references: string[];
  listId: string | null;
  /** Lowercase names of the top-level header fields present, each once, in order of appearance. */
  names: string[];
}

export interface MimeRecord {
  /** Total size of the message in bytes. */
  size: number;
  envelope: Envelope;
  /** Every indexed entity in document order; parts[0] is the message itself. */
  parts: MimePart[];
  headers: SearchHeaders;
  /** Up to 200 characters of text (RFC 8970 spirit), whitespace collapsed. */
  preview: string;
  /** True when a limit (depth, part count, header size) stopped the indexer somewhere. */
  truncated: boolean;
}
