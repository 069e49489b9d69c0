// The one argument parser of every `snapmeta` command: its options, its
// --help, how many positionals it takes, and the checks every value shares.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { SnapmetaError } from '../lib/core/errors.ts';
import { holdsIdentity } from '../lib/core/secrets.ts';

export type Options = NonNullable<ParseArgsConfig['options']>;

export interface CommandSpec<O extends Options> {
  /** `snapmeta <name>`, for messages. */
  name: string;
  /** Printed by --help. */
  help: string;
  options: O;
  /** Placeholders, in order; one in brackets ('[<id>]') may be left out. */
  positionals?: string[];
  /** Option → what to pass instead when its value is a private key (see refuseIdentities). */
  keyHints?: Record<string, string>;
}

type Values<O extends Options> = ReturnType<typeof parseArgs<{ args: string[]; options: O; allowPositionals: true }>>['values'];

export interface ParsedCommand<O extends Options> {
  values: Values<O>;
  positionals: string[];
}

/** A command line that does not parse: BAD_ARGUMENT, but exit status 2 like other tools. */
export class UsageError extends SnapmetaError {
  constructor(command: string, message: string) {
    // Node's text goes on about '--'; its first sentence names the option.
    super('BAD_ARGUMENT', `${message.split(/\.\s/)[0]}; run 'snapmeta ${command} --help' for its options`);
    this.name = 'UsageError';
  }
}

/** The parsed command line, or undefined once --help has been printed. */
export function parseCommand<O extends Options>(argv: string[], spec: CommandSpec<O>): ParsedCommand<O> | undefined {
  const options = { ...spec.options, help: { type: 'boolean', short: 'h' } } as O;
  let parsed: ParsedCommand<O>;
  try {
    parsed = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (err) {
    if (String((err as NodeJS.ErrnoException).code).startsWith('ERR_PARSE_ARGS_')) throw new UsageError(spec.name, (err as Error).message);
    throw err;
  }
  if ((parsed.values as { help?: boolean }).help) {
    console.log(spec.help);
    return undefined;
  }
  refuseIdentities(spec, parsed);
  checkPositionals(spec, parsed.positionals);
  return parsed;
}

/**
 * No argument may hold an age identity: the command line stays in shell
 * history and process lists, and a value may be echoed. Keys come in files.
 */
function refuseIdentities(spec: CommandSpec<Options>, { values, positionals }: ParsedCommand<Options>): void {
  const given = [
    ...Object.entries(values).map(([option, value]) => ({ where: `--${option}`, option, values: [value].flat() })),
    ...positionals.map((value, i) => ({ where: `argument ${i + 1}`, option: '', values: [value] })),
  ];
  const found = given.find((arg) => arg.values.some((v) => typeof v === 'string' && holdsIdentity(v)));
  if (!found) return;
  const hint = spec.keyHints?.[found.option] ?? 'snapmeta reads private keys only from files (restore --identity <file>)';
  throw new SnapmetaError('BAD_ARGUMENT', `${found.where} holds an age identity (a private key), which must never be on a command line; ${hint}`);
}

function checkPositionals(spec: CommandSpec<Options>, given: string[]): void {
  const names = spec.positionals ?? [];
  const min = names.filter((n) => !n.startsWith('[')).length;
  if (given.length >= min && given.length <= names.length) return;
  const expected = names.length === 0 ? 'no arguments' : names.join(' ');
  throw new SnapmetaError('BAD_ARGUMENT', `expected ${expected}, got ${given.length} argument${given.length === 1 ? '' : 's'}; run 'snapmeta ${spec.name} --help'`);
}

/** The value of an option the command cannot do without; `usage` is e.g. '--snapshot <id>'. */
export function required(value: string | undefined, usage: string, hint = ''): string {
  if (value === undefined) throw new SnapmetaError('BAD_ARGUMENT', `${usage} is required${hint ? `: ${hint}` : ''}`);
  return value;
}

/** A whole-number option in min..max. */
export function wholeNumber(flag: string, value: string, min: number, max: number): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isInteger(n) || n < min || n > max) {
    throw new SnapmetaError('BAD_ARGUMENT', `${flag} must be a whole number in ${min}..${max}, not ${JSON.stringify(value)}`);
  }
  return n;
}

/** An option that takes one of a few words; unset is `fallback`. */
export function choice<T extends string>(flag: string, value: string | undefined, choices: readonly T[], fallback: T): T {
  if (value === undefined) return fallback;
  if ((choices as readonly string[]).includes(value)) return value as T;
  throw new SnapmetaError('BAD_ARGUMENT', `${flag} must be ${choices.join(' or ')}, not ${JSON.stringify(value)}`);
}
