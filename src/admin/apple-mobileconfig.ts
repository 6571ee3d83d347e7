// Apple configuration profiles (.mobileconfig) for Mail on iOS, iPadOS and macOS: a
// "Configuration" profile holding one com.apple.mail.managed payload (Apple's Device Management
// "Mail" payload). IMAP when the server offers it, POP3 otherwise; the outgoing server is
// submission. Unsigned for now (profiles installed from the user's page).
//
// - Identifiers are stable per user and server (name-based UUIDs), so installing the profile
//   again replaces the account instead of adding a second one.
// - No password unless the caller passes one (the user asked to include it): without it the
//   device asks once when the profile is installed.
// - UseSSL is true for implicit TLS and for STARTTLS alike: Mail then insists on TLS, by
//   STARTTLS on a plain port.

import { incomingEndpoints, type ClientSettings } from './client-settings.js';
import { nameBasedUuid } from './name-based-uuid.js';
import { propertyList, type PlistDict } from './property-list.js';

export const MOBILECONFIG_CONTENT_TYPE = 'application/x-apple-aspen-config';

export interface MobileconfigInput {
  settings: ClientSettings;
  /** The account's address (lower case, as stored): EmailAddress and both user names. */
  address: string;
  /** The user's name shown as sender (EmailAccountName); omitted when absent. */
  displayName?: string;
  /** Put the password into the profile (both servers); absent: the device asks for it. */
  password?: string;
}

/** The profile identifier's prefix: the host name reversed (mail.example.org -> org.example.mail). */
function reverseDns(hostname: string): string {
  return hostname.split('.').reverse().join('.');
}

/** The profile, or null when the server offers no incoming or no outgoing service. */
export function mobileconfig(input: MobileconfigInput): string | null {
  const { settings, address } = input;
  const incoming = incomingEndpoints(settings)[0];
  const outgoing = settings.smtp;
  if (incoming === undefined || outgoing === null) return null;
  const profileUuid = nameBasedUuid(`mobileconfig profile ${settings.hostname} ${address}`);
  const accountUuid = nameBasedUuid(`mobileconfig mail ${settings.hostname} ${address}`);
  const profileId = `${reverseDns(settings.hostname)}.postern.mobileconfig.${profileUuid}`;
  const account: PlistDict = {
    PayloadType: 'com.apple.mail.managed',
    PayloadVersion: 1,
    PayloadIdentifier: `${profileId}.mail`,
    PayloadUUID: accountUuid,
    PayloadDisplayName: `Mail (${address})`,
    PayloadDescription: `Mail settings for ${address}`,
    EmailAccountDescription: address,
    EmailAccountType: incoming.protocol === 'imap' ? 'EmailTypeIMAP' : 'EmailTypePOP',
    EmailAddress: address,
    IncomingMailServerAuthentication: 'EmailAuthPassword',
    IncomingMailServerHostName: incoming.host,
    IncomingMailServerPortNumber: incoming.port,
    IncomingMailServerUseSSL: true,
    IncomingMailServerUsername: address,
    OutgoingMailServerAuthentication: 'EmailAuthPassword',
    OutgoingMailServerHostName: outgoing.host,
    OutgoingMailServerPortNumber: outgoing.port,
    OutgoingMailServerUseSSL: true,
    OutgoingMailServerUsername: address,
    OutgoingPasswordSameAsIncomingPassword: true,
    PreventMove: false,
    PreventAppSheet: false,
    SMIMEEnabled: false,
  };
  if (input.displayName !== undefined) account.EmailAccountName = input.displayName;
  if (input.password !== undefined) {
    account.IncomingPassword = input.password;
    account.OutgoingPassword = input.password;
  }
  return propertyList({
    PayloadType: 'Configuration',
    PayloadVersion: 1,
    PayloadIdentifier: profileId,
    PayloadUUID: profileUuid,
    PayloadDisplayName: `Mail: ${address}`,
    PayloadDescription: `Sets up ${address} in Mail (${incoming.protocol.toUpperCase()} and SMTP at ${settings.hostname}).`,
    PayloadOrganization: settings.hostname,
    PayloadRemovalDisallowed: false,
    PayloadContent: [account],
  });
}
