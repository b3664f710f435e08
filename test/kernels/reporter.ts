// A node:test reporter for guests (`--test-reporter=dist/test/kernels/reporter.js`): one
// JSON line per finished test, with the test's diagnostics (the branch it took) and,
// for a failure, the error; plus the stderr of a test file that died outside any test.
// The guest writes these to a serial port; run.ts reads them back.

/** What run.ts reads: one per finished test. */
export interface TestRecord {
  t: 'test';
  file: string;
  name: string;
  nesting: number;
  ok: boolean;
  skip: boolean;
  todo: boolean;
  ms: number;
  error?: string;
  diagnostics: string[];
}

/** A test about to run: the last one without a TestRecord is the one a timeout killed. */
export interface RunningRecord {
  t: 'running';
  file: string;
  name: string;
  nesting: number;
}

/** Output a test file wrote to stderr (kept for a file that failed to load). */
export interface StderrRecord {
  t: 'stderr';
  file: string;
  text: string;
}

const ERROR_CHARS = 1500;
const STDERR_CHARS = 4000;

interface EventData {
  name?: string;
  nesting?: number;
  file?: string;
  line?: number;
  message?: string;
  skip?: string | boolean;
  todo?: string | boolean;
  details?: { duration_ms?: number; error?: unknown; type?: string };
}

function basename(file: string | undefined): string {
  return file ? file.slice(file.lastIndexOf('/') + 1) : '';
}

/** The message of a failure: the assertion or error inside node's "test failed" wrapper. */
export function describeError(err: unknown): string {
  let e = err as { cause?: unknown; message?: unknown; code?: unknown; failureType?: unknown } | undefined;
  if (e && e.failureType === 'testCodeFailure' && e.cause !== undefined) e = e.cause as typeof e;
  const code = (e as { code?: unknown } | undefined)?.code;
  const text = e instanceof Error ? `${e.name}${typeof code === 'string' ? ` [${code}]` : ''}: ${e.message}` : String(e);
  return text.length > ERROR_CHARS ? `${text.slice(0, ERROR_CHARS)}…` : text;
}

export default async function* kernelReporter(source: AsyncIterable<{ type: string; data: EventData }>): AsyncGenerator<string> {
  // Diagnostics follow their test's pass/fail event: hold the record until the next one.
  let pending: { record: TestRecord; line?: number } | undefined;
  const stderr = new Map<string, string>();
  const flush = function* (): Generator<string> {
    if (pending) yield `${JSON.stringify(pending.record)}\n`;
    pending = undefined;
  };
  for await (const { type, data } of source) {
    if (type === 'test:pass' || type === 'test:fail') {
      yield* flush();
      // The file-level entry (named by its path) fails when the file's process fails.
      const isFile = data.name === data.file;
      pending = {
        line: data.line,
        record: {
          t: 'test',
          file: basename(data.file),
          name: isFile ? '(file)' : data.name ?? '',
          nesting: isFile ? -1 : data.nesting ?? 0,
          ok: type === 'test:pass',
          skip: data.skip !== undefined && data.skip !== false,
          todo: data.todo !== undefined && data.todo !== false,
          ms: Math.round(data.details?.duration_ms ?? 0),
          error: type === 'test:fail' ? describeError(data.details?.error) : undefined,
          diagnostics: [],
        },
      };
      if (isFile && type === 'test:fail' && stderr.has(data.file!)) {
        yield* flush();
        yield `${JSON.stringify({ t: 'stderr', file: basename(data.file), text: stderr.get(data.file!)! } satisfies StderrRecord)}\n`;
      }
    } else if (type === 'test:dequeue' && data.file !== undefined && data.name !== data.file) {
      yield* flush();
      yield `${JSON.stringify({ t: 'running', file: basename(data.file), name: data.name ?? '', nesting: data.nesting ?? 0 } satisfies RunningRecord)}\n`;
    } else if (type === 'test:diagnostic' && data.file !== undefined) {
      if (pending && pending.line === data.line && pending.record.nesting === data.nesting) pending.record.diagnostics.push(data.message ?? '');
    } else if (type === 'test:stderr' && data.file !== undefined) {
      const sofar = stderr.get(data.file) ?? '';
      if (sofar.length < STDERR_CHARS) stderr.set(data.file, (sofar + (data.message ?? '')).slice(0, STDERR_CHARS));
    }
  }
  yield* flush();
}
