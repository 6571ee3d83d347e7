// The data of IMAP METADATA (RFC 5464) that the store keeps (the Metadata role of roles.ts):
// named values attached to one mailbox of an account, or to the account's server level. The
// rules of entry names (prefixes, case, characters) belong to the protocol
// (src/protocols/imap/metadata-entry.ts); the store keeps names as given, already lower case.

/** One stored entry. */
export interface MetadataEntry {
  /** The entry name, such as `/private/comment` (lower case). */
  name: string;
  /** The value's octets (RFC 5464 §5: values may be binary). */
  value: Buffer;
}

/** One change of a SETMETADATA: a new value, or null to remove the entry (RFC 5464 §4.3). */
export interface MetadataChange {
  name: string;
  value: Uint8Array | null;
}

/** Where entries live: a mailbox of the account, or (null) the account's server level. */
export interface MetadataTarget {
  accountId: number;
  mailboxId: number | null;
}

/** The outcome of a set: applied, or refused because the account would hold too many entries. */
export type MetadataSetResult = { ok: true } | { ok: false; reason: 'too-many' };
