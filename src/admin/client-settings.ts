// What a mail client should be told to use, derived from the configuration: the public host name
// (`hostname`) and the listeners this server really has open. Every autoconfig format
// (Thunderbird, Outlook, Apple) is written from this one value, so they never disagree.
//
// Choices:
// - RFC 8314 §3: implicit TLS is preferred to STARTTLS, so imaps/pop3s/submissions win over
//   imap/pop3/submission when both are open; STARTTLS is offered only when the implicit-TLS
//   listener is off.
// - The `smtp` listener (port 25, server to server) is never offered to clients (RFC 6409 §1).
// - IMAP first, POP3 as the alternative (issue 14; RFC 6186 §3.4 lets a domain state the same
//   preference in its SRV priorities, which `postern dns` prints).

import type { ListenerName, PosternConfig } from '../config/types.js';

/** How a client secures a connection: implicit TLS, or STARTTLS/STLS on the plain port. */
export type ClientSecurity = 'tls' | 'starttls';

export type ClientProtocol = 'imap' | 'pop3' | 'smtp';

export interface ClientEndpoint {
  protocol: ClientProtocol;
  /** The listener that serves it. */
  listener: ListenerName;
  host: string;
  port: number;
  security: ClientSecurity;
}

export interface ClientSettings {
  /** The name clients connect to (the configuration's `hostname`). */
  hostname: string;
  /** Null: no listener serves the protocol. */
  imap: ClientEndpoint | null;
  pop3: ClientEndpoint | null;
  smtp: ClientEndpoint | null;
  /** The port of the https listener, when it is open (Outlook's autodiscover URL). */
  httpsPort: number | null;
}

/** Per protocol, its listeners in order of preference. */
const PREFERENCE: Readonly<Record<ClientProtocol, ReadonlyArray<[ListenerName, ClientSecurity]>>> = {
  imap: [
    ['imaps', 'tls'],
    ['imap', 'starttls'],
  ],
  pop3: [
    ['pop3s', 'tls'],
    ['pop3', 'starttls'],
  ],
  smtp: [
    ['submissions', 'tls'],
    ['submission', 'starttls'],
  ],
};

/**
 * The settings for the open listeners. `open` maps each open listener to its port; build it with
 * openListenerPorts.
 */
export function clientSettings(hostname: string, open: ReadonlyMap<ListenerName, number>): ClientSettings {
  const pick = (protocol: ClientProtocol): ClientEndpoint | null => {
    for (const [listener, security] of PREFERENCE[protocol]) {
      const port = open.get(listener);
      if (port !== undefined) return { protocol, listener, host: hostname, port, security };
    }
    return null;
  };
  return {
    hostname,
    imap: pick('imap'),
    pop3: pick('pop3'),
    smtp: pick('smtp'),
    httpsPort: open.get('https') ?? null,
  };
}

/**
 * The open listeners and their ports: those the process reports as listening (real ports, only
 * listeners whose protocol exists), else those the configuration enables.
 */
export function openListenerPorts(
  config: Pick<PosternConfig, 'listen'>,
  listening: ReadonlyArray<{ name: ListenerName; port: number }> | undefined,
): Map<ListenerName, number> {
  const open = new Map<ListenerName, number>();
  if (listening !== undefined) {
    for (const l of listening) open.set(l.name, l.port);
    return open;
  }
  for (const [name, address] of Object.entries(config.listen) as Array<
    [ListenerName, PosternConfig['listen'][ListenerName]]
  >) {
    if (address !== null) open.set(name, address.port);
  }
  return open;
}

/** The incoming servers in the order clients should be offered them: IMAP, then POP3. */
export function incomingEndpoints(settings: ClientSettings): ClientEndpoint[] {
  return [settings.imap, settings.pop3].filter((e): e is ClientEndpoint => e !== null);
}
