// Arguments no native function may accept silently, and the checks that a call survived
// them: shared by the tests of the addon's entry points.
import assert from 'node:assert/strict';

/** A buffer that is detached (length 0, no backing store). */
export function detached(): Uint8Array {
  const ab = new ArrayBuffer(16);
  const view = new Uint8Array(ab);
  structuredClone(ab, { transfer: [ab] });
  assert.equal(view.length, 0);
  return view;
}

/** Values no argument should accept silently. Excludes small integers, which are valid somewhere. */
export function weirdValues(): [string, unknown][] {
  return [
    ['undefined', undefined],
    ['null', null],
    ['true', true],
    ['string', 'abc'],
    ['numeric string', '3'],
    ['object', {}],
    ['object with valueOf', { valueOf: () => 3 }],
    ['array', [3]],
    ['function', () => 3],
    ['symbol', Symbol('x')],
    ['bigint', 3n],
    ['NaN', NaN],
    ['Infinity', Infinity],
    ['-Infinity', -Infinity],
    ['-2', -2],
    ['0.5', 0.5],
    ['-0.5', -0.5],
    ['2^31', 2 ** 31],
    ['2^32', 2 ** 32],
    ['2^53', 2 ** 53],
    ['-2^53', -(2 ** 53)],
    ['1e308', 1e308],
    ['empty Uint8Array', new Uint8Array(0)],
    ['detached Uint8Array', detached()],
    ['ArrayBuffer', new ArrayBuffer(8)],
    ['Date', new Date(0)],
  ];
}

/** The call either throws TypeError/RangeError or returns a number, an array or an ArrayBuffer. */
export function survives(what: string, fn: () => unknown): unknown {
  let result: unknown;
  try {
    result = fn();
  } catch (err) {
    assert.ok(err instanceof TypeError || err instanceof RangeError, `${what}: threw ${String(err)}`);
    return err;
  }
  assert.ok(
    typeof result === 'number' || typeof result === 'string' || result === undefined || Array.isArray(result) || result instanceof ArrayBuffer,
    `${what}: returned ${String(result)}`,
  );
  return result;
}

export function throwsType(fn: () => unknown, what?: string): void {
  assert.throws(fn, TypeError, what);
}
export function throwsRange(fn: () => unknown, what?: string): void {
  assert.throws(fn, RangeError, what);
}
