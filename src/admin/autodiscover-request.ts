// Reads the one thing an Outlook autodiscover request carries: the POX body (MS-OXDSCLI §2.2.3)
//   <Autodiscover xmlns=".../outlook/requestschema/2006"><Request>
//     <EMailAddress>user@example.org</EMailAddress>
//     <AcceptableResponseSchema>.../outlook/responseschema/2006a</AcceptableResponseSchema>
//   </Request></Autodiscover>
// The body is small and hostile-by-default, so this is a single forward scan, not an XML
// library: no DTD (a DOCTYPE is refused, so no entity can expand), only the predefined and
// numeric character references, a depth bound, and no regular expression. Element names are
// matched by local name, whatever namespace prefix the client used.

/** What the request asked. */
export interface AutodiscoverRequest {
  emailAddress: string;
  /** Null when the client named none (Outlook always does; lenient for other clients). */
  acceptableResponseSchema: string | null;
}

/** Deepest element nesting accepted (the request needs 3). */
const MAX_DEPTH = 16;
/** Longest text kept for one element. */
const MAX_TEXT = 1024;

export class AutodiscoverRequestError extends Error {}

function fail(message: string): never {
  throw new AutodiscoverRequestError(message);
}

function isNameEnd(c: string): boolean {
  return c === ' ' || c === '\t' || c === '\r' || c === '\n' || c === '/' || c === '>';
}

const PREDEFINED: ReadonlyMap<string, string> = new Map([
  ['lt', '<'],
  ['gt', '>'],
  ['amp', '&'],
  ['quot', '"'],
  ['apos', "'"],
]);

/** Character data with its references resolved (XML 1.0 §4.1, §4.6). */
function decodeText(raw: string): string {
  let out = '';
  let at = 0;
  for (;;) {
    const amp = raw.indexOf('&', at);
    if (amp === -1) return out + raw.slice(at);
    out += raw.slice(at, amp);
    const semi = raw.indexOf(';', amp);
    if (semi === -1 || semi - amp > 12) fail('bad character reference');
    const ref = raw.slice(amp + 1, semi);
    let ch: string | undefined;
    if (ref.startsWith('#x') || ref.startsWith('#X')) ch = fromCodePoint(ref.slice(2), 16);
    else if (ref.startsWith('#')) ch = fromCodePoint(ref.slice(1), 10);
    else ch = PREDEFINED.get(ref);
    if (ch === undefined) fail('unknown entity');
    out += ch;
    at = semi + 1;
  }
}

function fromCodePoint(digits: string, radix: 10 | 16): string | undefined {
  if (digits.length === 0 || digits.length > 8) return undefined;
  for (const c of digits) {
    const ok = radix === 10 ? c >= '0' && c <= '9' : /* hex */ '0123456789abcdefABCDEF'.includes(c);
    if (!ok) return undefined;
  }
  const cp = parseInt(digits, radix);
  if (cp === 0 || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return undefined;
  return String.fromCodePoint(cp);
}

function localName(qname: string): string {
  const colon = qname.indexOf(':');
  return colon === -1 ? qname : qname.slice(colon + 1);
}

/**
 * Parses the body (already decoded from UTF-8). Throws AutodiscoverRequestError when it is not
 * a well-formed enough Autodiscover request with an EMailAddress.
 */
export function parseAutodiscoverRequest(body: string): AutodiscoverRequest {
  // Open elements: the qualified name (to match end tags) and the local name (to compare).
  const stack: Array<{ qname: string; local: string }> = [];
  const found = new Map<string, string>();
  let text = '';
  let rootSeen = false;
  let at = 0;
  while (at < body.length) {
    const lt = body.indexOf('<', at);
    const chunk = lt === -1 ? body.slice(at) : body.slice(at, lt);
    if (stack.length === 0) {
      if (chunk.trim() !== '') fail('text outside the root element');
    } else if (text.length + chunk.length <= MAX_TEXT) {
      text += chunk;
    } else {
      fail('element text too long');
    }
    if (lt === -1) break;
    if (body.startsWith('<?', lt)) {
      const end = body.indexOf('?>', lt + 2);
      if (end === -1) fail('unterminated processing instruction');
      at = end + 2;
      continue;
    }
    if (body.startsWith('<!--', lt)) {
      const end = body.indexOf('-->', lt + 4);
      if (end === -1) fail('unterminated comment');
      at = end + 3;
      continue;
    }
    if (body.startsWith('<![CDATA[', lt)) {
      const end = body.indexOf(']]>', lt + 9);
      if (end === -1 || stack.length === 0) fail('misplaced CDATA section');
      const data = body.slice(lt + 9, end);
      if (text.length + data.length > MAX_TEXT) fail('element text too long');
      // CDATA is literal: protect its '&' from decodeText by encoding it first.
      text += data.split('&').join('&amp;').split('<').join('&lt;');
      at = end + 3;
      continue;
    }
    if (body.startsWith('<!', lt)) fail('DOCTYPE and declarations are not accepted');
    const closing = body[lt + 1] === '/';
    let i = lt + (closing ? 2 : 1);
    const nameStart = i;
    while (i < body.length && !isNameEnd(body[i])) i++;
    const qname = body.slice(nameStart, i);
    if (qname === '' || qname.includes('<')) fail('bad tag');
    // The end of the tag: '>' outside quoted attribute values.
    let quote = '';
    while (i < body.length) {
      const c = body[i];
      if (quote !== '') {
        if (c === quote) quote = '';
      } else if (c === '"' || c === "'") quote = c;
      else if (c === '<') fail('bad tag');
      else if (c === '>') break;
      i++;
    }
    if (i >= body.length) fail('unterminated tag');
    const selfClosing = !closing && body[i - 1] === '/';
    const name = localName(qname);
    at = i + 1;
    if (closing) {
      if (stack.length === 0 || stack[stack.length - 1].qname !== qname) fail('mismatched end tag');
      stack.pop();
      // Only the children of Autodiscover/Request count; the first of each name wins.
      if (stack.length === 2 && stack[1].local === 'Request' && !found.has(name)) {
        found.set(name, decodeText(text).trim());
      }
      text = '';
      continue;
    }
    if (stack.length === 0) {
      if (rootSeen) fail('more than one root element');
      if (name !== 'Autodiscover') fail('the root element is not Autodiscover');
      rootSeen = true;
    }
    if (stack.length >= MAX_DEPTH) fail('elements nested too deep');
    text = '';
    if (!selfClosing) stack.push({ qname, local: name });
  }
  if (!rootSeen || stack.length !== 0) fail('unterminated document');
  const email = found.get('EMailAddress');
  if (email === undefined || email === '') fail('no EMailAddress');
  return { emailAddress: email, acceptableResponseSchema: found.get('AcceptableResponseSchema') ?? null };
}
