// How the CLI writes: aligned tables, JSON with exact u64, colour only where it helps.
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

/** ANSI colour codes (SGR), which take no room on the screen. */
const SGR = /\u001b\[[0-9;]*m/g;

const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;

/** Whether a code point takes two columns (East Asian wide and fullwidth forms, emoji). */
function isWide(cp: number): boolean {
  return (
    (cp >= 0x1100 && cp <= 0x115f) || (cp >= 0x2e80 && cp <= 0x303e) || (cp >= 0x3041 && cp <= 0x33ff) || (cp >= 0x3400 && cp <= 0x4dbf) ||
    (cp >= 0x4e00 && cp <= 0x9fff) || (cp >= 0xa000 && cp <= 0xa4cf) || (cp >= 0xac00 && cp <= 0xd7a3) || (cp >= 0xf900 && cp <= 0xfaff) ||
    (cp >= 0xfe30 && cp <= 0xfe4f) || (cp >= 0xff00 && cp <= 0xff60) || (cp >= 0xffe0 && cp <= 0xffe6) || (cp >= 0x1f300 && cp <= 0x1f64f) ||
    (cp >= 0x1f900 && cp <= 0x1f9ff) || (cp >= 0x20000 && cp <= 0x3fffd)
  );
}

/** Columns a line takes on a terminal: colour codes none, control and combining characters none, wide ones two. */
export function displayWidth(text: string): number {
  if (PRINTABLE_ASCII.test(text)) return text.length;
  let width = 0;
  for (const ch of text.replace(SGR, '')) {
    const cp = ch.codePointAt(0)!;
    if (cp < 0x20 || (cp >= 0x7f && cp < 0xa0) || (cp >= 0x300 && cp <= 0x36f) || cp === 0x200b) continue;
    width += isWide(cp) ? 2 : 1;
  }
  return width;
}

/**
 * Borderless, aligned columns (as ps and bpftool print them); headers bold on a terminal.
 * Written here rather than with a table package: cli-table3 took 70 ms of the first
 * 30-row table (string-width's expressions), more than the rest of `tsbpf prog list`.
 */
export function table(out: Output, head: string[], rows: (string | number | bigint)[][]): string {
  // A cell of several lines makes its row that many lines high.
  const cells = [head.map((h) => out.c.bold(h)), ...rows.map((r) => r.map(String))].map((r) => r.map((cell) => cell.split('\n')));
  const columns = Math.max(...cells.map((r) => r.length));
  const widths = Array.from({ length: columns }, (_, i) => Math.max(0, ...cells.map((r) => Math.max(0, ...(r[i] ?? []).map(displayWidth)))));
  const lines: string[] = [];
  for (const row of cells) {
    const height = Math.max(1, ...row.map((c) => c.length));
    for (let l = 0; l < height; l++) {
      const line = widths.map((w, i) => {
        const text = row[i]?.[l] ?? '';
        return text + ' '.repeat(w - displayWidth(text));
      });
      lines.push(line.join('  ').trimEnd());
    }
  }
  return lines.join('\n');
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
