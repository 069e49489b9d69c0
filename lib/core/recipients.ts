// age recipients: X25519 public keys only (age1…), the kind every age
// implementation, Debian's `age` included, can decrypt for.
import { Encrypter } from 'age-encryption';
import { SnapmetaError } from './errors.ts';

const X25519_RECIPIENT = /^age1[02-9ac-hj-np-z]{58}$/;

/**
 * Recipients from flags, env values or a recipients file: split on commas and
 * whitespace, '#' starts a comment. A malformed one is an error, never skipped.
 */
export function parseRecipients(values: string[]): string[] {
  const found: string[] = [];
  for (const value of values) {
    for (const line of value.split('\n')) {
      for (const token of line.replace(/#.*/, '').split(/[\s,]+/)) {
        if (!token) continue;
        if (!X25519_RECIPIENT.test(token) || !checksumOk(token)) {
          throw new SnapmetaError('BAD_ARGUMENT', `not an age X25519 recipient: ${JSON.stringify(token.slice(0, 80))} (expected age1 followed by 58 bech32 characters)`);
        }
        if (!found.includes(token)) found.push(token);
      }
    }
  }
  if (found.length === 0) {
    throw new SnapmetaError('NO_RECIPIENTS', 'no age recipient given: refusing to export (give at least one age1… public key)');
  }
  return found;
}

function checksumOk(recipient: string): boolean {
  try {
    new Encrypter().addRecipient(recipient);
    return true;
  } catch {
    return false;
  }
}
