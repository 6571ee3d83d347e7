// Where a password may travel in clear text: over TLS always; without TLS only from a loopback
// client (local software on this machine, RFC 2595 §2.1), and only while auth.plaintext_from_loopback
// is on (the default). IMAP advertises LOGINDISABLED (RFC 9051 §6.2.3), POP3 leaves USER and SASL
// out of CAPA, SMTP leaves AUTH out of EHLO (RFC 4954 §4) wherever this says no.

/** 127.0.0.0/8 or ::1 (addresses as the listeners give them: IPv4-mapped IPv6 already shown as IPv4). */
export function isLoopback(address: string): boolean {
  return address === '::1' || address.startsWith('127.');
}

export interface PlaintextPolicy {
  /** auth.plaintext_from_loopback: allow plaintext without TLS from loopback clients. */
  fromLoopback: boolean;
}

/** Whether plaintext credentials are accepted on this connection now. */
export function plaintextAllowed(
  conn: { secure: boolean; remoteAddress: string },
  policy: PlaintextPolicy,
): boolean {
  if (conn.secure) return true;
  return policy.fromLoopback && isLoopback(conn.remoteAddress);
}
