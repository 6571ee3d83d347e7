// Bounds DKIM verification (RFC 6376 §6.1: "Verifiers MAY limit the number of signatures they
// attempt to verify"): every signature costs a key lookup under a name the sender chose, a body
// hash and an RSA verification. The header section is cut into fields with one linear scan; the
// first `max` DKIM-Signature fields (in header order, the most recent first, RFC 6376 §5.6) are
// kept for the verifier, the rest are removed from the copy it sees and reported as skipped.
// Invariants: linear in the header size; the kept fields are byte-identical, in their order.

const DKIM_SIGNATURE = Buffer.from('dkim-signature', 'latin1');

/** Skipped signatures whose d= is reported one by one; beyond this only the count is kept. */
export const SKIPPED_DOMAINS_REPORTED = 50;

/** How much of a skipped field is read to find its d= tag. */
const TAG_SCAN_BYTES = 4096;

export interface DkimSignatureLimit {
  /** The header section to verify: the input itself when nothing was removed. */
  header: Buffer;
  /** DKIM-Signature fields kept. */
  kept: number;
  /** DKIM-Signature fields removed (not verified). */
  skipped: number;
  /** The d= of the first SKIPPED_DOMAINS_REPORTED removed signatures ('' when absent). */
  skippedDomains: string[];
}

/** True when the field starting at `at` is named DKIM-Signature (optional WSP before ':'). */
function isDkimSignature(header: Buffer, at: number): boolean {
  if (at + DKIM_SIGNATURE.length >= header.length) return false;
  for (let i = 0; i < DKIM_SIGNATURE.length; i++) {
    if ((header[at + i]! | 0x20) !== DKIM_SIGNATURE[i]) return false;
  }
  let j = at + DKIM_SIGNATURE.length;
  while (j < header.length && (header[j] === 0x20 || header[j] === 0x09)) j++;
  return header[j] === 0x3a;
}

/** The d= tag of a DKIM-Signature field (RFC 6376 §3.5), from its first TAG_SCAN_BYTES. */
export function signingDomain(field: Buffer): string {
  const text = field
    .toString('latin1', 0, Math.min(field.length, TAG_SCAN_BYTES))
    .replace(/\r?\n[ \t]/g, ' ');
  const colon = text.indexOf(':');
  for (const tag of text.slice(colon + 1).split(';')) {
    const eq = tag.indexOf('=');
    if (eq < 0 || tag.slice(0, eq).trim() !== 'd') continue;
    return tag
      .slice(eq + 1)
      .replace(/[^\x21-\x7e]/g, '')
      .slice(0, 255);
  }
  return '';
}

/** Keeps the first `max` DKIM-Signature fields of a header section and removes the others. */
export function limitDkimSignatures(header: Buffer, max: number): DkimSignatureLimit {
  // Field starts: offset 0 and every line start whose first byte is not WSP (RFC 5322 §2.2.3).
  const removed: Array<[number, number]> = [];
  let kept = 0;
  let skipped = 0;
  let fieldStart = -1;
  let fieldIsSignature = false;
  const close = (end: number): void => {
    if (fieldStart < 0 || !fieldIsSignature) return;
    if (kept < max) kept++;
    else {
      skipped++;
      removed.push([fieldStart, end]);
    }
  };
  let lineStart = 0;
  while (lineStart < header.length) {
    const first = header[lineStart];
    if (first !== 0x20 && first !== 0x09) {
      close(lineStart);
      fieldStart = lineStart;
      fieldIsSignature = isDkimSignature(header, lineStart);
    }
    const nl = header.indexOf(0x0a, lineStart);
    lineStart = nl < 0 ? header.length : nl + 1;
  }
  close(header.length);
  if (removed.length === 0) return { header, kept, skipped: 0, skippedDomains: [] };
  const parts: Buffer[] = [];
  const skippedDomains: string[] = [];
  let from = 0;
  for (const [start, end] of removed) {
    parts.push(header.subarray(from, start));
    if (skippedDomains.length < SKIPPED_DOMAINS_REPORTED) {
      skippedDomains.push(signingDomain(header.subarray(start, end)));
    }
    from = end;
  }
  parts.push(header.subarray(from));
  return { header: Buffer.concat(parts), kept, skipped, skippedDomains };
}
