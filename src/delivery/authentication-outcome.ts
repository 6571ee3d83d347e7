// What the verification of one message gives back (src/delivery/message-authentication.ts runs
// it, in a worker for messages over limits.verify_inline_size): plain data, cloned across the
// thread boundary.

export type AuthVerdict = string;

export interface AuthenticationOutcome {
  /** Header lines to prepend (Received-SPF, Authentication-Results), each ending in CRLF. */
  headers: string;
  spf: AuthVerdict;
  /**
   * One result per DKIM signature verified (empty: none); signatures over the limit follow as
   * 'neutral', the first SKIPPED_DOMAINS_REPORTED of them (dkimSkipped has the full count).
   */
  dkim: Array<{ domain: string; result: AuthVerdict }>;
  dmarc: AuthVerdict;
  /** The DMARC policy to apply ('none', 'quarantine', 'reject'), when DMARC failed. */
  dmarcPolicy: string | null;
  /** DKIM-Signature fields not verified because of limits.dkim_signatures. */
  dkimSkipped: number;
  /** The evaluation was cut off by limits.verify_timeout: nothing is known (all temperror). */
  timedOut: boolean;
}

export interface MessageAuthenticationInput {
  /** The client's IP address. */
  ip: string;
  /** The EHLO/HELO argument, already made header-safe; undefined when none. */
  helo: string | undefined;
  /** The MAIL FROM address; undefined for the null reverse-path. */
  sender: string | undefined;
  /** The authserv-id (RFC 8601 §2.5), already made header-safe. */
  mta: string;
  /** Smallest RSA key accepted for DKIM/ARC, bits (mailauth's default: 1024). */
  minBitLength?: number;
  /** DKIM-Signature fields verified at most (limits.dkim_signatures). */
  maxDkimSignatures: number;
}

/** The outcome when nothing could be evaluated. */
export function temperrorOutcome(mta: string, opts: { timedOut: boolean }): AuthenticationOutcome {
  const comment = opts.timedOut ? ' (verification timed out)' : '';
  return {
    headers: `Authentication-Results: ${mta};\r\n spf=temperror${comment}; dkim=temperror; dmarc=temperror\r\n`,
    spf: 'temperror',
    dkim: [],
    dmarc: 'temperror',
    dmarcPolicy: null,
    dkimSkipped: 0,
    timedOut: opts.timedOut,
  };
}
