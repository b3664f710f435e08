// How the CLI writes: aligned tables, JSON with exact u64, colour only where it helps.
import Table from 'cli-table3';
import pc from 'picocolors';

export type Colors = ReturnType<typeof pc.createColors>;

/**
 * Colour only on a terminal, and never with NO_COLOR set to anything non-empty
 * (https://no-color.org); `--no-color` turns it off too.
 */
export function useColor(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv, flag: boolean): boolean {
  if (!flag) return false;
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  return stream.isTTY === true;
}

/** Where a command writes, and in which form. */
export interface Output {
  readonly json: boolean;
  readonly c: Colors;
  write(text: string): void;
}

export function makeOutput(json: boolean, color: boolean): Output {
  return {
    json,
    c: pc.createColors(color),
    write: (text) => {
      process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
    },
  };
}

const BIG = '\u0000bigint:';

/**
 * JSON where u64 values (bigint) are plain numbers with every digit, as bpftool writes
 * them: JSON.parse in JS rounds those above 2^53, jq and Python keep them.
 */
export function toJson(value: unknown): string {
  const text = JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? `${BIG}${v}` : v), 2);
  return text.replace(/"\\u0000bigint:(-?\d+)"/g, '$1');
}

/** Borderless, aligned columns (as ps and bpftool print them); headers bold on a terminal. */
export function table(out: Output, head: string[], rows: (string | number | bigint)[][]): string {
  const t = new Table({
    head: head.map((h) => out.c.bold(h)),
    chars: {
      top: '', 'top-mid': '', 'top-left': '', 'top-right': '', bottom: '', 'bottom-mid': '', 'bottom-left': '', 'bottom-right': '',
      left: '', 'left-mid': '', mid: '', 'mid-mid': '', right: '', 'right-mid': '', middle: '  ',
    },
    // cli-table3 colours headers and borders itself unless told not to: colour is ours to decide.
    style: { head: [], border: [], 'padding-left': 0, 'padding-right': 0, compact: true },
  });
  for (const r of rows) t.push(r.map(String));
  return t
    .toString()
    .split('\n')
    .map((line) => line.trimEnd())
    .join('\n');
}

/** Label/value lines for one object ("show" commands). */
export function fields(out: Output, rows: [string, string | number | bigint | boolean | undefined][]): string {
  const shown = rows.filter(([, v]) => v !== undefined && v !== '');
  const width = Math.max(...shown.map(([k]) => k.length));
  return shown.map(([k, v]) => `${out.c.dim(`${k}:`.padEnd(width + 1))} ${String(v)}`).join('\n');
}

/** Bytes as bpftool prints them: two hex digits each, separated by spaces. */
export function hexBytes(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i++) s += (i ? ' ' : '') + bytes[i]!.toString(16).padStart(2, '0');
  return s;
}
