// Deterministic test messages: the same (tag, index) always gives the same bytes, so a process
// that did not write a message can still check that it was stored intact.

/** An RFC 5322 message, CRLF line ends, exactly `size` bytes (unless the header alone is longer). */
export function testMessage(tag: string, index: number, size = 600): Buffer {
  const head =
    `From: Sender ${tag} <sender-${tag}@example.org>\r\n` +
    `To: Recipient <rcpt@example.net>\r\n` +
    `Subject: conformance ${tag} #${index}\r\n` +
    `Message-ID: <${tag}.${index}@conformance.test>\r\n` +
    `Date: Mon, 01 Jan 2024 00:00:00 +0000\r\n` +
    `Content-Type: text/plain; charset=us-ascii\r\n\r\n`;
  const line = `Body of ${tag} #${index}: the quick brown fox jumps over the lazy dog.\r\n`;
  let body = '';
  while (head.length + body.length + line.length + 2 <= size) body += line;
  // A last filler line makes the message exactly `size` bytes whatever the index's digits.
  const rest = size - head.length - body.length;
  body += rest >= 2 ? 'x'.repeat(rest - 2) + '\r\n' : line;
  return Buffer.from(head + body, 'ascii');
}
