// "HOST:PORT" listener addresses from postern.toml. IPv6 hosts are bracketed ("[::1]:143")
// as in RFC 3986 §3.2.2; the stored host is unbracketed so it goes straight to net.listen.

import { isIPv4, isIPv6 } from 'node:net';
import type { ListenAddress } from './types.js';
import { isValidHostname } from '../mail/domain.js';

/** The address, null for "" (disabled), or undefined when the text is malformed. */
export function parseListenAddress(text: string): ListenAddress | null | undefined {
  if (text === '') return null;
  if (text.length > 300) return undefined;
  let host: string;
  let portText: string;
  if (text.startsWith('[')) {
    const close = text.indexOf(']');
    if (close < 0 || text[close + 1] !== ':') return undefined;
    host = text.slice(1, close);
    portText = text.slice(close + 2);
    if (!isIPv6(host)) return undefined;
  } else {
    const colon = text.lastIndexOf(':');
    if (colon <= 0) return undefined;
    host = text.slice(0, colon);
    portText = text.slice(colon + 1);
    if (host.includes(':')) return undefined; // IPv6 must be bracketed
    if (!isIPv4(host) && !isValidHostname(host)) return undefined;
  }
  const port = parsePort(portText);
  if (port === null) return undefined;
  return { host, port };
}

function parsePort(text: string): number | null {
  if (text.length === 0 || text.length > 5) return null;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 48 || c > 57) return null;
  }
  const port = Number(text);
  return port <= 65535 ? port : null;
}

export function formatListenAddress(addr: ListenAddress | null): string {
  if (addr === null) return '';
  return isIPv6(addr.host) ? `[${addr.host}]:${addr.port}` : `${addr.host}:${addr.port}`;
}
