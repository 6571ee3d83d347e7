// What a failed DMARC evaluation leads to (RFC 7489 §6.6.3: the receiver applies the domain's
// policy, and may override it, §6.7). p=reject and p=quarantine map through smtp.dmarc_reject and
// smtp.dmarc_quarantine to reject (550 5.7.1 at end of data), quarantine (into Junk) or accept;
// p=none, a pass, or an error of evaluation (temperror/permerror) change nothing. The pct tag is
// not sampled: the policy applies to every failing message. smtp.dmarc_exempt lists client IPs
// and (SPF-verified) envelope sender domains for which no policy is applied.

import { DmarcExemptions } from '../../config/dmarc-exemption.js';
import type { DmarcAction, PosternConfig } from '../../config/types.js';
import type { AuthenticationOutcome } from '../../delivery/trace-headers.js';

/** Matchers built once per exemption list (the config does not change while it is in use). */
const matchers = new WeakMap<readonly string[], DmarcExemptions>();

function exemptions(list: readonly string[]): DmarcExemptions {
  let m = matchers.get(list);
  if (m === undefined) {
    m = new DmarcExemptions(list);
    matchers.set(list, m);
  }
  return m;
}

export function dmarcAction(opts: {
  config: PosternConfig['smtp'];
  outcome: AuthenticationOutcome;
  clientIp: string;
  /** The domain of MAIL FROM; '' for the null sender. */
  mailFromDomain: string;
}): DmarcAction {
  const { config, outcome } = opts;
  if (outcome.dmarc !== 'fail') return 'accept';
  const policy = outcome.dmarcPolicy;
  let action: DmarcAction;
  if (policy === 'reject') action = config.dmarcReject;
  else if (policy === 'quarantine') action = config.dmarcQuarantine;
  else return 'accept';
  if (action === 'accept') return action;
  const exempt = exemptions(config.dmarcExempt).exempts({
    clientIp: opts.clientIp,
    mailFromDomain: opts.mailFromDomain,
    spfPass: outcome.spf === 'pass',
  });
  return exempt ? 'accept' : action;
}
