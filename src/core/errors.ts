// Errors that cross layers carry a stable code so protocol code can map them to the wire
// (IMAP NO [OVERQUOTA], SMTP 552 5.2.2, POP3 -ERR ...) without matching on message text.

export type StoreErrorCode =
  | 'NOT_FOUND'
  | 'ALREADY_EXISTS'
  | 'OVER_QUOTA'
  | 'INVALID_NAME'
  | 'HAS_CHILDREN'
  | 'CANNOT_DELETE_INBOX'
  | 'TOO_LARGE'
  | 'INVALID_ARGUMENT';

export class StoreError extends Error {
  readonly code: StoreErrorCode;
  constructor(code: StoreErrorCode, message: string) {
    super(message);
    this.name = 'StoreError';
    this.code = code;
  }
}

export function isStoreError(err: unknown, code?: StoreErrorCode): err is StoreError {
  return err instanceof StoreError && (code === undefined || err.code === code);
}

/** A configuration or command-line error: printed as one line, exit status 1. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}
