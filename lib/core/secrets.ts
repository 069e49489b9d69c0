// An age identity (a private key) must never reach a terminal, a log, a
// receipt or a metric: they are kept, copied and shared. Values that look like
// one are refused without being echoed, and output is redacted as a last resort.

// Native identities (AGE-SECRET-KEY-1…, post-quantum AGE-SECRET-KEY-PQ-1…) and
// plugin ones (AGE-PLUGIN-<NAME>-1…), in any case: bech32 is case-insensitive.
const IDENTITY = /AGE-SECRET-KEY-[0-9A-Z-]+|AGE-PLUGIN-[0-9A-Z]+-1[0-9A-Z]+/gi;

export const REDACTED = 'AGE-SECRET-KEY-…(redacted)';

/** Whether text holds anything that looks like an age identity. */
export function holdsIdentity(text: string): boolean {
  IDENTITY.lastIndex = 0;
  return IDENTITY.test(text);
}

/** The text with every identity-looking token replaced. */
export function redactSecrets(text: string): string {
  return text.replace(IDENTITY, REDACTED);
}

/** A value quoted for a message, with anything like a private key redacted. */
export const shown = (value: string): string => JSON.stringify(redactSecrets(value));
