// App passwords (issue 14): per-device passwords that log in wherever the account's password
// does (IMAP, POP3, SMTP AUTH; never the web page, see authenticator.ts), each revocable alone.
// Invariants: the secret is shown once and never stored, only its SHA-256; a login compares
// hashes in constant time against every live app password of the account; revoking deletes
// the row, and a login reads the rows on every attempt, so a revocation in any process holds
// at the next login.
//
// Why SHA-256 and not scrypt: the secret is 30 letters drawn uniformly by the server from 23,
// about 135.7 bits, so no dictionary or brute force can reach it, hashed fast or slow (a slow
// hash only helps passwords that people choose). A fast hash also makes app-password logins
// cheap, which is what phones and POP3 pollers that log in every few minutes need. No salt
// either: with 2^135 possible secrets precomputed tables are out of reach.

import { createHash, randomInt, timingSafeEqual } from 'node:crypto';
import { StoreError } from '../core/errors.js';
import type { Directory } from '../store/roles.js';
import { appPasswordLabelProblem } from '../store/rules/app-password-fields.js';
import type { AppPassword, AppPasswordCredential } from '../store/types.js';

/**
 * Lower-case letters without i, l and o (mistaken for 1, I and 0): typed on a phone without
 * leaving the letter keyboard, and read aloud without ambiguity.
 */
export const APP_PASSWORD_ALPHABET = 'abcdefghjkmnpqrstuvwxyz';
/** Letters per secret: 30 * log2(23) = 135.7 bits, over the 128 asked for. */
export const APP_PASSWORD_LETTERS = 30;
/** Shown as 6 groups of 5 letters joined by '-'; spaces, hyphens and case are ignored at login. */
const GROUP = 5;

const HASH_PREFIX = 'sha256:';
// Domain separation: this digest can never equal a SHA-256 computed elsewhere of the same text.
const HASH_CONTEXT = 'postern app password v1\0';
const LETTER = new Set(APP_PASSWORD_ALPHABET);

/** A new secret, drawn with crypto.randomInt (uniform: no modulo bias), formatted for reading. */
export function generateAppPasswordSecret(): string {
  let letters = '';
  for (let i = 0; i < APP_PASSWORD_LETTERS; i++)
    letters += APP_PASSWORD_ALPHABET[randomInt(APP_PASSWORD_ALPHABET.length)];
  const groups: string[] = [];
  for (let i = 0; i < letters.length; i += GROUP) groups.push(letters.slice(i, i + GROUP));
  return groups.join('-');
}

/**
 * The secret as typed, without spaces and hyphens and in lower case, or null when it cannot be
 * an app password (then the login tries only the account's password).
 */
export function normalizeAppPasswordSecret(typed: string): string | null {
  // Bounded before any work: a secret is 30 letters, a formatted one 35 characters.
  if (typed.length > APP_PASSWORD_LETTERS * 3) return null;
  const letters = typed.replace(/[\s-]/g, '').toLowerCase();
  if (letters.length !== APP_PASSWORD_LETTERS) return null;
  for (const c of letters) if (!LETTER.has(c)) return null;
  return letters;
}

/** What the store keeps of a (normalized) secret. */
export function hashAppPasswordSecret(normalized: string): string {
  return HASH_PREFIX + createHash('sha256').update(HASH_CONTEXT).update(normalized).digest('base64url');
}

function digestOf(secretHash: string): Buffer | null {
  if (!secretHash.startsWith(HASH_PREFIX)) return null;
  const digest = Buffer.from(secretHash.slice(HASH_PREFIX.length), 'base64url');
  return digest.length === 32 ? digest : null;
}

/**
 * The app password `typed` opens among `candidates`, or null. Every candidate is compared, each
 * in constant time (timingSafeEqual), so the time taken says nothing of which one matched.
 */
export function matchAppPassword<T extends Pick<AppPasswordCredential, 'secretHash'>>(
  candidates: readonly T[],
  typed: string,
): T | null {
  const normalized = normalizeAppPasswordSecret(typed);
  if (normalized === null || candidates.length === 0) return null;
  const wanted = digestOf(hashAppPasswordSecret(normalized))!;
  let found: T | null = null;
  for (const c of candidates) {
    const digest = digestOf(c.secretHash);
    if (digest !== null && timingSafeEqual(digest, wanted) && found === null) found = c;
  }
  return found;
}

/**
 * A label as the user gave it, trimmed, or a StoreError INVALID_ARGUMENT saying what is wrong
 * (the same error the store gives, so callers handle one kind).
 */
export function cleanAppPasswordLabel(label: string): string {
  const trimmed = typeof label === 'string' ? label.trim() : label;
  const problem = appPasswordLabelProblem(trimmed);
  if (problem !== null) throw new StoreError('INVALID_ARGUMENT', problem);
  return trimmed;
}

/**
 * Makes an app password for an account. The secret is returned once, here, and never again:
 * only its hash is stored. NOT_FOUND for an unknown account, INVALID_ARGUMENT for a bad label
 * or when the account holds the most app passwords allowed.
 */
export async function issueAppPassword(
  store: Directory,
  accountId: number,
  label: string,
): Promise<{ appPassword: AppPassword; secret: string }> {
  const clean = cleanAppPasswordLabel(label);
  const secret = generateAppPasswordSecret();
  const secretHash = hashAppPasswordSecret(normalizeAppPasswordSecret(secret)!);
  const appPassword = await store.createAppPassword(accountId, { label: clean, secretHash });
  return { appPassword, secret };
}

/** The account's app passwords, newest first, with their last recorded use. */
export function listAppPasswords(store: Directory, accountId: number): Promise<AppPassword[]> {
  return store.listAppPasswords(accountId);
}

/** Revokes one app password: the next login with it fails, in every process. False if unknown. */
export function revokeAppPassword(store: Directory, accountId: number, id: number): Promise<boolean> {
  return store.revokeAppPassword(accountId, id);
}
