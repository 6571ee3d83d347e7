// Errors a command handler throws to answer its command: ImapNo becomes `tag NO [CODE] text`,
// ImapBad becomes `tag BAD [CODE] text` (RFC 9051 §7.1). StoreErrors are mapped here too, so
// handlers can let them through.

import { StoreError } from '../../core/errors.js';
import type { ResponseCode } from '../../wire/imap/encoder.js';

export class ImapNo extends Error {
  constructor(
    message: string,
    readonly code: ResponseCode | null = null,
  ) {
    super(message);
    this.name = 'ImapNo';
  }
}

export class ImapBad extends Error {
  constructor(
    message: string,
    readonly code: ResponseCode | null = null,
  ) {
    super(message);
    this.name = 'ImapBad';
  }
}

const code = (name: string): ResponseCode => ({ name });

/** The NO (or BAD) that answers a StoreError (RFC 5530 response codes). */
export function fromStoreError(err: StoreError): ImapNo | ImapBad {
  switch (err.code) {
    case 'NOT_FOUND':
      return new ImapNo(err.message, code('NONEXISTENT'));
    case 'ALREADY_EXISTS':
      return new ImapNo(err.message, code('ALREADYEXISTS'));
    case 'OVER_QUOTA':
      return new ImapNo(err.message, code('OVERQUOTA'));
    case 'INVALID_NAME':
      return new ImapNo(err.message, code('CANNOT'));
    case 'HAS_CHILDREN':
      return new ImapNo(err.message, code('INUSE'));
    case 'CANNOT_DELETE_INBOX':
      return new ImapNo(err.message, code('CANNOT'));
    case 'TOO_LARGE':
      return new ImapNo(err.message, code('TOOBIG'));
    case 'INVALID_ARGUMENT':
      return new ImapBad(err.message);
  }
}
