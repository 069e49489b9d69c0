// Settings read from the environment (or CDK context) as text.
import { shown } from '../core/secrets.ts';

/** 1/true/yes/on or 0/false/no/off, any case; unset or empty is `fallback`; anything else stops the start-up. */
export function parseBoolean(name: string, value: string | boolean | undefined, fallback: boolean): boolean {
  if (typeof value === 'boolean') return value;
  if (value === undefined || value === '') return fallback;
  if (/^(1|true|yes|on)$/i.test(value)) return true;
  if (/^(0|false|no|off)$/i.test(value)) return false;
  throw new Error(`${name} must be true or false, not ${shown(value)}`);
}

/** One of `choices`; unset or empty is `fallback`; anything else stops the start-up. */
export function parseChoice<T extends string>(name: string, value: string | undefined, choices: readonly T[], fallback: T): T {
  if (value === undefined || value === '') return fallback;
  if ((choices as readonly string[]).includes(value)) return value as T;
  throw new Error(`${name} must be ${choices.join(' or ')}, not ${shown(value)}`);
}

/** A whole number in min..max; unset or empty is `fallback`; anything else stops the start-up. */
export function parseWhole(name: string, value: string | undefined, fallback: number, min: number, max: number): number {
  if (value === undefined || value === '') return fallback;
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < min || n > max) throw new Error(`${name} must be a whole number in ${min}..${max}, not ${shown(value)}`);
  return n;
}
