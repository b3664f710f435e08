// Checks of what callers pass to programs (attach options, test runs): a value of the
// wrong type or range is ProgramError 'InvalidArgument' naming the program and the
// option, before it reaches a system call (where -1 would become 0xffffffff).

import { describeValue } from '../describe.js';
import { ProgramError } from '../errors.js';

/** Throws ProgramError 'InvalidArgument': `${program}: ${what} must be ${must}, got ...`. */
export function invalidOption(program: string, what: string, must: string, value: unknown): never {
  throw new ProgramError('InvalidArgument', `${program}: ${what} must be ${must}, got ${describeValue(value)}`, { program });
}

/** An options argument: undefined (no options) or an object. */
export function checkOptions<T extends object>(program: string, options: T | undefined, what = 'options'): T | undefined {
  if (options === undefined) return undefined;
  if (typeof options !== 'object' || options === null || Array.isArray(options)) invalidOption(program, what, 'an object', options);
  return options;
}

/** An integer in [min, max], or undefined when absent. */
export function intOption(program: string, value: unknown, what: string, min: number, max: number): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) invalidOption(program, what, `an integer in [${min}, ${max}]`, value);
  return value;
}

/** A u32 (flags, counts, ids), or undefined. */
export function u32Option(program: string, value: unknown, what: string): number | undefined {
  return intOption(program, value, what, 0, 0xffff_ffff);
}

/** A u64 as a bigint or a safe non-negative integer number, or undefined. */
export function u64Option(program: string, value: unknown, what: string): bigint | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) return BigInt(value);
  if (typeof value === 'bigint' && value >= 0n && value < 1n << 64n) return value;
  return invalidOption(program, what, 'a u64 (a non-negative integer or bigint)', value);
}

/** A boolean, or undefined. */
export function boolOption(program: string, value: unknown, what: string): boolean | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'boolean') invalidOption(program, what, 'true or false', value);
  return value;
}

/** Bytes (a Uint8Array or Buffer), or undefined. */
export function bytesOption(program: string, value: unknown, what: string): Uint8Array | undefined {
  if (value === undefined) return undefined;
  if (!(value instanceof Uint8Array)) invalidOption(program, what, 'a Uint8Array', value);
  return value;
}

/** A non-empty string without NUL (the kernel would read only up to it), or undefined. */
export function nameOption(program: string, value: unknown, what: string): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value === '' || value.includes('\0')) invalidOption(program, what, 'a non-empty string without NUL', value);
  return value;
}

/** One of `choices`, or undefined. */
export function choiceOption<C extends string>(program: string, value: unknown, what: string, choices: readonly C[]): C | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || !(choices as readonly string[]).includes(value)) invalidOption(program, what, `one of ${choices.map((c) => `'${c}'`).join(', ')}`, value);
  return value as C;
}

export function checkOffset(offset: number | bigint | undefined, what = 'offset'): bigint {
  if (offset === undefined) return 0n;
  const ok = typeof offset === 'bigint' ? offset >= 0n && offset < 1n << 64n : Number.isSafeInteger(offset) && offset >= 0;
  if (!ok) throw new ProgramError('InvalidArgument', `${what} must be a non-negative integer (u64), got ${describeValue(offset)}`);
  return BigInt(offset);
}

export function checkCookie(cookie: bigint | undefined): void {
  if (cookie !== undefined && (typeof cookie !== 'bigint' || cookie < 0n || cookie >= 1n << 64n)) {
    throw new ProgramError('InvalidArgument', `cookie must be a u64 bigint, got ${describeValue(cookie)}`);
  }
}
