// age recipients: X25519 public keys only (age1…), the kind every age
// implementation, Debian's `age` included, can decrypt for.
import { Encrypter } from 'age-encryption';
import { SnapmetaError } from './errors.ts';
import { holdsIdentity } from './secrets.ts';

const X25519_RECIPIENT = /^age1[02-9ac-hj-np-z]{58}$/;
// Enough of a bad token to recognise it; never all of it, in case it is a secret of another kind.
const SHOWN_CHARS = 12;

export interface RecipientSource {
  /** Where the values come from, for messages: e.g. '--recipient', 'SNAPMETA_AGE_RECIPIENTS'. */
  from?: string;
  /** How to give recipients there, for NO_RECIPIENTS: e.g. 'pass --recipient age1…'. */
  howToGive?: string;
}

/**
 * Recipients from flags, env values or a recipients file: split on commas and
 * whitespace, '#' starts a comment. A malformed one is an error, never skipped;
 * an identity (private key) is refused without being echoed.
 */
export function parseRecipients(values: string[], source: RecipientSource = {}): string[] {
  if (values.some(holdsIdentity)) throw identityGiven(source.from ?? 'the recipients');
  const found: string[] = [];
  for (const value of values) {
    for (const line of value.split('\n')) {
      for (const token of line.replace(/#.*/, '').split(/[\s,]+/)) {
        if (!token) continue;
        if (!X25519_RECIPIENT.test(token) || !checksumOk(token)) throw notARecipient(token);
        if (!found.includes(token)) found.push(token);
      }
    }
  }
  if (found.length === 0) {
    const how = source.howToGive ?? 'give at least one age1… public key';
    throw new SnapmetaError('NO_RECIPIENTS', `no age recipient${source.from ? ` in ${source.from}` : ''}: nothing is exported unencrypted; ${how}`);
  }
  return found;
}

/** A private key given where a public one belongs; the key itself is never part of the message. */
export function identityGiven(from: string): SnapmetaError {
  return new SnapmetaError('BAD_ARGUMENT', `${from} holds an age identity (a private key) where a recipient belongs; give its public key instead (age-keygen -y <identity file> prints it)`);
}

/** The identity file age-keygen writes, given as a recipients file: an easy mistake. */
export function identityFileGiven(file: string): SnapmetaError {
  return new SnapmetaError('BAD_ARGUMENT', `${file} is an age identity file (it holds a private key), not a recipients file; give its public key instead: --recipient $(age-keygen -y ${file})`);
}

function notARecipient(token: string): SnapmetaError {
  const shown = token.length > SHOWN_CHARS ? `${JSON.stringify(`${token.slice(0, SHOWN_CHARS)}…`)} (${token.length} characters)` : JSON.stringify(token);
  return new SnapmetaError('BAD_ARGUMENT', `not an age X25519 recipient: ${shown}; expected age1 followed by 58 bech32 characters`);
}

function checksumOk(recipient: string): boolean {
  try {
    new Encrypter().addRecipient(recipient);
    return true;
  } catch {
    return false;
  }
}
