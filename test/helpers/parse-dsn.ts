// Reads a delivery status notification back with Python's email package (python3 -c): the
// outer header fields, the report type, the per-message and per-recipient fields of the
// message/delivery-status part (RFC 3464 §2.2, §2.3; or message/global-delivery-status, RFC
// 6533) and the type of the returned part. Fails
// on any parser defect, so a report Python cannot read fails the test.

import { runPython } from './python.js';

const SCRIPT = String.raw`
import sys, json
from email import policy
from email.parser import BytesParser
raw = sys.stdin.buffer.read()
m = BytesParser(policy=policy.default).parsebytes(raw)
def fields(msg):
    return {k.lower(): ' '.join(str(v).split()) for k, v in msg.items()}
out = {'headers': fields(m), 'type': m.get_content_type(), 'reportType': m.get_param('report-type'),
       'defects': [repr(d) for d in m.defects], 'parts': [], 'perMessage': None, 'recipients': []}
for p in m.iter_parts():
    out['parts'].append(p.get_content_type())
    out['defects'] += [repr(d) for d in p.defects]
    if p.get_content_type() == 'message/delivery-status':
        blocks = p.get_payload()
        out['perMessage'] = fields(blocks[0])
        out['recipients'] = [fields(b) for b in blocks[1:]]
    elif p.get_content_type() == 'message/global-delivery-status':
        # RFC 6533 §6: UTF-8 field blocks; Python keeps the body as one text: split it here.
        payload = p.get_payload()
        text = ''.join(x.as_string() for x in payload) if isinstance(payload, list) else str(payload)
        blocks = [b for b in text.replace('\r\n', '\n').split('\n\n') if b.strip()]
        parsed = [BytesParser(policy=policy.default).parsebytes(b.encode('utf-8') + b'\n\n', headersonly=True) for b in blocks]
        out['perMessage'] = fields(parsed[0])
        out['recipients'] = [fields(b) for b in parsed[1:]]
print(json.dumps(out))
`;

export interface ParsedDsn {
  headers: Record<string, string>;
  type: string;
  reportType: string | null;
  defects: string[];
  parts: string[];
  perMessage: Record<string, string> | null;
  recipients: Array<Record<string, string>>;
}

export async function parseDsn(bytes: Buffer): Promise<ParsedDsn> {
  const out = await runPython(SCRIPT, bytes);
  const parsed = JSON.parse(out) as ParsedDsn;
  if (parsed.defects.length > 0) throw new Error(`DSN parse defects: ${parsed.defects.join(', ')}`);
  return parsed;
}
