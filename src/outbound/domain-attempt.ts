// One delivery attempt of one queued message to the recipients of one destination domain:
// route (MX, A/AAAA), then every hop of the route in order until the recipients are answered,
// with the SMTP client (a cached connection to a hop when there is one). Invariants:
// - every recipient gets exactly one result: delivered, failed (permanently) or deferred
//   (temporarily), with the reply and the MTA that gave it;
// - a recipient refused temporarily, or whose hop could not be reached, is tried at the next hop
//   (RFC 5321 §5.1: every address in turn); one accepted, refused permanently or "unknown" (the
//   reply after the data was lost: it may have been delivered) is not sent again;
// - a REQUIRETLS message refused by our own check (5.7.30, no TLS) tries the other hops first;
// - STARTTLS is used whenever offered; a failed handshake falls back to a clear session only
//   when TLS is not required (outbound.require_tls);
// - the body is streamed from the blob store for each send, never held whole.

import type { QueuedMessageHead, QueuedRecipient, RemoteReply } from '../store/types.js';
import { hasTlsRequiredNo } from './tls-required-header.js';
import type {
  PolicyCheck,
  PolicyReportKey,
  TransportPolicy,
  TransportPolicyInput,
} from './transport-policy.js';
import type { MimeLimits } from '../mail/mime/types.js';
import { DowngradeImpossible, planDowngrade, prepareDowngrade } from './seven-bit-downgrade.js';
import { xtextDecode } from '../wire/smtp/command.js';
import type { ConnectionCache, CachedConnection } from './connection-cache.js';
import { ConnectionCache as Cache } from './connection-cache.js';
import { resolveRoute, type RouteHop, type RouteResolver } from './route.js';
import {
  SmtpClientConnection,
  SmtpClientError,
  type SmtpClientOpenOptions,
  type SmtpClientReply,
  type SmtpExtensions,
  type SmtpMessage,
  type SmtpRecipient,
} from './smtp-client.js';

/** What became of one recipient in this attempt. */
export interface RecipientResult {
  recipient: QueuedRecipient;
  kind: 'delivered' | 'failed' | 'deferred';
  reply: RemoteReply;
  /** The MX host that answered, or null (routing, our own checks). */
  remoteMta: string | null;
  /** Delivered to a server without DSN while NOTIFY asked for SUCCESS: a "relayed" notice is due. */
  relayed: boolean;
}

/** Header lines to prepend to the message (a DKIM signature), made once per message and attempt. */
export type MessageSigner = (msg: {
  message: QueuedMessageHead;
  /** The message as queued, streamed. */
  body: () => AsyncIterable<Uint8Array>;
}) => Promise<string>;

/**
 * The transport-security decisions (transport-policy.ts) as the attempt asks them: absent, every
 * session is opportunistic (or TLS-required by `requireTls`).
 */
export interface TransportHooks {
  /** Whether the domain's MX answer is DNSSEC-validated (DANE applies only then, RFC 7672 §2.2.1). */
  mxSecure(domain: string): Promise<boolean>;
  policy(input: TransportPolicyInput): Promise<TransportPolicy>;
  /** Records a session's TLS outcome for TLS-RPT (RFC 8460); never throws. */
  record(report: PolicyReportKey, outcome: PolicyCheck): Promise<void>;
}

export interface DomainAttemptEnv {
  resolver: RouteResolver;
  transport?: TransportHooks;
  cache: ConnectionCache;
  /** Our host names (RFC 5321 §5.1: an MX that is us keeps only better ones). */
  localHostnames: readonly string[];
  /** The port of remote MX hosts. */
  port: number;
  heloName: string;
  requireTls: boolean;
  /** Trust anchors for remote certificates (tests); default Node's. */
  tlsCa?: string | Buffer | Array<string | Buffer>;
  /** Client timeouts (tests shorten them). */
  timeouts?: SmtpClientOpenOptions['timeouts'];
  random?: () => number;
  /** The message bytes, from the first one (a fresh stream per call). */
  body: (blobId: string) => AsyncIterable<Uint8Array>;
  /** MIME limits for the 7-bit downgrade (seven-bit-downgrade.ts); absent: never downgrade. */
  mimeLimits?: MimeLimits;
}

export interface DomainAttempt {
  message: QueuedMessageHead;
  domain: string;
  recipients: QueuedRecipient[];
  /** Prepended header lines (DKIM signature), or ''. */
  prefix: string;
  /**
   * Signs another form of the message (the 7-bit downgrade): its header lines replace `prefix`,
   * so the signature covers the bytes sent. Absent: the message is not signed.
   */
  sign?: (body: () => AsyncIterable<Uint8Array>) => Promise<string>;
}

const NOTIFY_WORDS = new Set(['NEVER', 'SUCCESS', 'FAILURE', 'DELAY']);

/** The recipient as the client sends it: NOTIFY and ORCPT (stored as received, xtext) decoded. */
function clientRecipient(r: QueuedRecipient): SmtpRecipient {
  const out: { address: string; notify?: SmtpRecipient['notify']; orcpt?: string } = { address: r.address };
  if (r.notify !== null) {
    const words = r.notify.filter((n) => NOTIFY_WORDS.has(n)) as Array<
      'NEVER' | 'SUCCESS' | 'FAILURE' | 'DELAY'
    >;
    if (words.length > 0) out.notify = words;
  }
  if (r.orcpt !== null) {
    const semi = r.orcpt.indexOf(';');
    const decoded = semi > 0 ? xtextDecode(r.orcpt.slice(semi + 1)) : null;
    if (decoded !== null) out.orcpt = `${r.orcpt.slice(0, semi)};${decoded}`;
  }
  return out;
}

/** A server reply as the queue keeps it: the enhanced code apart, the lines' text joined. */
function remoteReply(reply: SmtpClientReply): RemoteReply {
  const text = reply.lines
    .map((line) =>
      reply.enhanced !== null && line.startsWith(`${reply.enhanced} `)
        ? line.slice(reply.enhanced.length + 1)
        : line,
    )
    .join(' ');
  return { code: reply.code, enhanced: reply.enhanced, text };
}

function temporaryReply(enhanced: string, text: string): RemoteReply {
  return { code: 451, enhanced, text };
}

export async function attemptDomain(env: DomainAttemptEnv, job: DomainAttempt): Promise<RecipientResult[]> {
  const results = new Map<number, RecipientResult>();
  const settle = (r: QueuedRecipient, res: Omit<RecipientResult, 'recipient'>): void => {
    results.set(r.id, { recipient: r, ...res });
  };
  const route = await resolveRoute(job.domain, {
    resolver: env.resolver,
    localHostnames: env.localHostnames,
    ...(env.random !== undefined ? { random: env.random } : {}),
  });
  if (route.kind === 'failure') {
    const reply = { code: route.temporary ? 451 : 550, enhanced: route.enhanced, text: route.text };
    for (const r of job.recipients) {
      settle(r, { kind: route.temporary ? 'deferred' : 'failed', reply, remoteMta: null, relayed: false });
    }
    return job.recipients.map((r) => results.get(r.id)!);
  }

  // Recipients still to answer, with the last temporary reason each got.
  let remaining = [...job.recipients];
  const last = new Map<number, { reply: RemoteReply; remoteMta: string | null; permanent: boolean }>();
  const routeNote =
    route.temporaryFailures.length > 0 ? `; no address for ${route.temporaryFailures.join(', ')} yet` : '';
  let openFailures = 0;
  let permanentOpenFailures = 0;
  const prefix = Buffer.from(job.prefix, 'utf8');
  const body = async function* (this: void): AsyncIterable<Uint8Array> {
    if (prefix.length > 0) yield prefix;
    yield* env.body(job.message.blobId);
  };
  const mxSecure = env.transport !== undefined ? await env.transport.mxSecure(job.domain) : false;
  let downgrade: Promise<Downgrade> | null = null;
  // RFC 8689: a REQUIRETLS message goes only over verified TLS, to servers offering REQUIRETLS.
  const messageRequiresTls = job.message.requireTls === true;
  // RFC 8689 §5: `TLS-Required: No` sets the domain's policies aside (REQUIRETLS wins over it).
  // The header is read only when a DANE or MTA-STS policy applies (most domains have none).
  let tlsOptional: Promise<boolean> | null = null;
  for (const hop of route.hops) {
    if (remaining.length === 0) break;
    // DANE, MTA-STS and REQUIRETLS decide how TLS must go to this MX (transport-policy.ts).
    const policyInput = {
      domain: job.domain,
      mxHost: hop.host,
      port: env.port,
      requireTls: env.requireTls || messageRequiresTls,
      mxSecure,
    };
    let policy = env.transport === undefined ? null : await env.transport.policy(policyInput);
    if (
      policy !== null &&
      !policyInput.requireTls &&
      (policy.source === 'dane' || policy.source === 'mta-sts')
    ) {
      tlsOptional ??= hasTlsRequiredNo(body());
      if (await tlsOptional) policy = await env.transport!.policy({ ...policyInput, tlsOptional: true });
    }
    if (policy !== null && policy.refuse !== null) {
      await env.transport!.record(policy.report, policy.refuse);
      if (!policy.refuse.ok) {
        openFailures++;
        const reply = temporaryReply(policy.refuse.enhanced, policy.refuse.text);
        for (const r of remaining) last.set(r.id, { reply, remoteMta: hop.host, permanent: false });
        continue;
      }
    }
    const cached = await connect(env, hop, policy, { messageRequiresTls }).catch(async (err: unknown) => {
      openFailures++;
      if (
        messageRequiresTls &&
        err instanceof SmtpClientError &&
        err.stage === 'starttls' &&
        err.reply === null
      ) {
        // RFC 8689 §4.2.1 and §5: no STARTTLS at this MX can never carry the message: 5.7.30.
        if (policy !== null) {
          const refused = policy.classifyOpenError(err);
          if (refused !== null) await env.transport!.record(policy.report, refused);
        }
        const reply: RemoteReply = { code: 550, enhanced: '5.7.30', text: `REQUIRETLS: ${err.message}` };
        for (const r of remaining) last.set(r.id, { reply, remoteMta: hop.host, permanent: true });
        return null;
      }
      const refused = policy?.classifyOpenError(err) ?? null;
      if (policy !== null && refused !== null) {
        // A TLS policy refused the session (never sent in clear): 4.7.x, try the next MX.
        await env.transport!.record(policy.report, refused);
        if (!refused.ok) {
          const reply = temporaryReply(refused.enhanced, refused.text);
          for (const r of remaining) last.set(r.id, { reply, remoteMta: hop.host, permanent: false });
          return null;
        }
      }
      const e = err instanceof SmtpClientError ? err : null;
      // A 5xx greeting is skipped like a dead host (Postfix's smtp_skip_5xx_greeting): it often
      // means an overloaded or misconfigured MX, and all of them doing so defers the message.
      if (e !== null && !e.temporary && e.stage !== 'greeting') permanentOpenFailures++;
      const reply: RemoteReply =
        e?.reply !== null && e?.reply !== undefined
          ? remoteReply(e.reply)
          : temporaryReply(
              '4.4.1',
              `connect to ${hop.host}[${hop.ip}]: ${err instanceof Error ? err.message : String(err)}`,
            );
      for (const r of remaining) last.set(r.id, { reply, remoteMta: hop.host, permanent: false });
      return null;
    });
    if (cached === null) continue;
    const { conn } = cached;
    const dsnOffered = conn.extensions.dsn;
    let send: { body: () => AsyncIterable<Uint8Array>; size: number; bodyType: SmtpMessage['bodyType'] } = {
      body,
      size: job.message.size + prefix.length,
      bodyType: job.message.body,
    };
    if (env.mimeLimits !== undefined && needsDowngrade(job.message.body, conn.extensions)) {
      // RFC 6152 §3: no 8BITMIME here: convert to 7 bits (once per attempt), or refuse 5.6.3.
      downgrade ??= downgradeMessage(env, job, env.mimeLimits);
      const d = await downgrade;
      if (d.kind === 'refused') {
        const reply: RemoteReply = { code: 554, enhanced: '5.6.3', text: d.text };
        for (const r of remaining) last.set(r.id, { reply, remoteMta: hop.host, permanent: true });
        cached.used++;
        await env.cache.put(Cache.key(hop.host, hop.ip), cached);
        continue;
      }
      send = { body: d.body, size: d.size, bodyType: '7BIT' };
    }
    const outcomes = await conn.send({
      mailFrom: job.message.mailFrom,
      recipients: remaining.map(clientRecipient),
      body: send.body,
      size: send.size,
      bodyType: send.bodyType,
      smtputf8: job.message.smtputf8,
      ...(job.message.ret !== null ? { ret: job.message.ret } : {}),
      ...(envidOf(job.message) !== null ? { envid: envidOf(job.message)! } : {}),
      ...(messageRequiresTls ? { requireTls: true } : {}),
    });
    cached.used++;
    await env.cache.put(Cache.key(hop.host, hop.ip), cached);
    const next: QueuedRecipient[] = [];
    outcomes.forEach((o, i) => {
      const r = remaining[i]!;
      if (o.kind === 'accepted') {
        const reply = remoteReply(o.reply);
        const relayed = !dsnOffered && r.notify !== null && r.notify.includes('SUCCESS');
        settle(r, { kind: 'delivered', reply, remoteMta: hop.host, relayed });
      } else if (o.kind === 'unknown') {
        // The transaction may have landed: retried later (one duplicate possible), not at once elsewhere.
        settle(r, {
          kind: 'deferred',
          reply: temporaryReply('4.4.2', o.text),
          remoteMta: hop.host,
          relayed: false,
        });
      } else {
        const reply =
          o.reply !== null ? remoteReply(o.reply) : { code: o.code, enhanced: o.enhanced, text: o.text };
        const ourTlsCheck = o.stage === 'check' && o.enhanced === '5.7.30';
        if (!o.temporary && !ourTlsCheck) {
          settle(r, { kind: 'failed', reply, remoteMta: o.reply === null ? null : hop.host, relayed: false });
        } else {
          last.set(r.id, { reply, remoteMta: o.reply === null ? null : hop.host, permanent: ourTlsCheck });
          next.push(r);
        }
      }
    });
    remaining = next;
  }
  const allHopsRefusedPermanently = openFailures > 0 && permanentOpenFailures === route.hops.length;
  for (const r of remaining) {
    const why = last.get(r.id) ?? {
      reply: temporaryReply('4.4.1', `no reachable host for ${job.domain}${routeNote}`),
      remoteMta: null,
      permanent: false,
    };
    const permanent = why.permanent || (allHopsRefusedPermanently && why.reply.code >= 500);
    settle(r, {
      kind: permanent ? 'failed' : 'deferred',
      reply: why.reply,
      remoteMta: why.remoteMta,
      relayed: false,
    });
  }
  return job.recipients.map((r) => results.get(r.id)!);
}

function envidOf(message: QueuedMessageHead): string | null {
  if (message.envid === null) return null;
  const decoded = xtextDecode(message.envid);
  return decoded !== null && decoded.length <= 100 && /^[\x20-\x7e]*$/.test(decoded) ? decoded : null;
}

/**
 * A cached connection to the hop, or a new one. Throws SmtpClientError (or a connect error). A
 * cached connection serves this domain only if its TLS session passes this domain's policy
 * (the same MX may serve domains with different policies); otherwise it is closed.
 */
async function connect(
  env: DomainAttemptEnv,
  hop: RouteHop,
  policy: TransportPolicy | null,
  opts0: { messageRequiresTls: boolean },
): Promise<CachedConnection> {
  const requireTls = env.requireTls || opts0.messageRequiresTls;
  const cached = env.cache.take(Cache.key(hop.host, hop.ip));
  if (cached !== null) {
    const tls = cached.conn.tls;
    const fits =
      policy !== null ? policy.check(tls).ok : !opts0.messageRequiresTls || (tls.active && tls.verified);
    if (fits) return cached;
    await cached.conn.close().catch(() => undefined);
  }
  const ca = env.tlsCa !== undefined ? { ca: env.tlsCa } : {};
  const opts: SmtpClientOpenOptions = {
    host: hop.host,
    ip: hop.ip,
    port: env.port,
    heloName: env.heloName,
    tls:
      policy !== null
        ? policy.tlsOptions(ca)
        : {
            servername: hop.host,
            requireTls,
            // RFC 8689 §4.2.1: a REQUIRETLS message needs a certificate that verifies.
            verify: opts0.messageRequiresTls ? 'strict' : 'opportunistic',
            ...ca,
          },
    ...(env.timeouts !== undefined ? { timeouts: env.timeouts } : {}),
  };
  const opened = async (o: SmtpClientOpenOptions): Promise<CachedConnection> => {
    const conn = await SmtpClientConnection.open(o);
    // TLS-RPT: one record per session opened (what a testing policy would have refused too).
    if (policy !== null) await env.transport!.record(policy.report, policy.reportCheck(conn.tls));
    return { conn, used: 0 };
  };
  try {
    return await opened(opts);
  } catch (err) {
    // Opportunistic TLS (RFC 3207 §4.1, as Postfix's "may"): a failed handshake is tried once
    // more in clear, unless TLS is required (by config or by the domain's policy).
    if (opts.tls.requireTls || !(err instanceof SmtpClientError) || err.stage !== 'tls') throw err;
    return await opened({ ...opts, discardExtensions: ['STARTTLS'] });
  }
}

type Downgrade =
  { kind: 'ok'; body: () => AsyncIterable<Uint8Array>; size: number } | { kind: 'refused'; text: string };

/** The server takes the message only after the 7-bit downgrade (RFC 6152 §3, RFC 3030 §3). */
function needsDowngrade(body: SmtpMessage['bodyType'], ext: SmtpExtensions): boolean {
  if (body === '8BITMIME') return !ext.eightBitMime;
  if (body === 'BINARYMIME') return !(ext.binaryMime && ext.chunking);
  return false;
}

/**
 * The 7-bit form of the message, measured, and signed again when the message is signed (a
 * signature over the 8-bit body would not verify after the conversion).
 */
async function downgradeMessage(
  env: DomainAttemptEnv,
  job: DomainAttempt,
  limits: MimeLimits,
): Promise<Downgrade> {
  const source = (): AsyncIterable<Uint8Array> => env.body(job.message.blobId);
  try {
    const plan = await planDowngrade(source(), limits);
    let prefix = Buffer.alloc(0);
    const prepared = await prepareDowngrade(
      plan,
      source,
      job.sign === undefined || job.prefix === ''
        ? undefined
        : async (stream) => {
            const lines = await job.sign!(() => stream);
            prefix = Buffer.from(lines, 'utf8');
          },
    );
    return {
      kind: 'ok',
      size: prepared.size + prefix.length,
      body: async function* () {
        if (prefix.length > 0) yield prefix;
        yield* prepared.body();
      },
    };
  } catch (err) {
    if (err instanceof DowngradeImpossible) return { kind: 'refused', text: err.message };
    throw err;
  }
}
