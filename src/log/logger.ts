// attachLogger: the records that bpf/include/tsbpf_log.h's log_* macros put in the
// object's `tsbpf_log` ring buffer, formatted and handed to a logger as they come.
import { MapError } from '../errors.js';
import { describeValue } from '../describe.js';
import { RingBuf, RingBufPoller } from '../events/ringbuf.js';
import type { Ebpf } from '../loader/load.js';
import { decodeLogRecord, LOG_LEVELS, type BpfLogArg, type BpfLogLevel, type BpfLogRecord } from './format.js';

/** The ring buffer tsbpf_log.h defines. */
export const LOG_MAP_NAME = 'tsbpf_log';

/**
 * Where records go: `console`, or an object with pino's level methods (pino, bunyan,
 * winston, log4js, ... have them), each called as `logger.info(message)`, or with
 * `fields` as `logger.info({ format, args, line }, message)`. Or a function given each
 * record.
 */
export interface BpfLogTarget {
  /** log_error's records. */
  error(...args: any[]): unknown;
  /** log_warn's records. */
  warn(...args: any[]): unknown;
  /** log_info's records. */
  info(...args: any[]): unknown;
  /** log_debug's records. */
  debug(...args: any[]): unknown;
  /** log_trace's records (console.debug for console). */
  trace(...args: any[]): unknown;
}

/** attachLogger's options. */
export interface AttachLoggerOptions {
  /** The least severe level passed on (default 'trace': all). */
  level?: BpfLogLevel;
  /**
   * Call `logger[level](fields, message)` with fields `{ format, args, line }` (pino's
   * and bunyan's merging object; 64-bit arguments as numbers when exact, else decimal
   * strings, so that they serialise to JSON) instead of `logger[level](message)`.
   */
  fields?: boolean;
  /** Closes the logger when it aborts. */
  signal?: AbortSignal;
  /**
   * Called with an error the logger threw (the record is dropped, reading goes on).
   * Default: the error is thrown from a later task (an uncaught exception).
   */
  onError?: (error: unknown) => void;
}

type Sink = (record: BpfLogRecord) => void;

/** JSON-safe fields for a structured logger: bigints as numbers when exact, else strings. */
function jsonArg(a: BpfLogArg): number | string {
  if (typeof a !== 'bigint') return a;
  return a >= BigInt(Number.MIN_SAFE_INTEGER) && a <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(a) : a.toString();
}

function sinkFor(logger: BpfLogTarget | ((record: BpfLogRecord) => void), fields: boolean): Sink {
  if (typeof logger === 'function') return logger;
  if (typeof logger !== 'object' || logger === null) throw new MapError('InvalidArgument', `attachLogger takes a logger (console, pino, ...) or a function, got ${describeValue(logger)}`);
  for (const level of LOG_LEVELS) {
    if (typeof (logger as any)[level] !== 'function') throw new MapError('InvalidArgument', `attachLogger: the logger has no ${level}() method (it needs error, warn, info, debug and trace)`);
  }
  // console.trace prints a stack trace: trace records go to console.debug.
  const method = (level: BpfLogLevel) => (logger === console && level === 'trace' ? 'debug' : level);
  if (fields) {
    return (r) => void logger[method(r.level)]({ format: r.format, args: r.args.map(jsonArg), line: r.line }, r.message);
  }
  return (r) => void logger[method(r.level)](r.message);
}

/**
 * Reads an object's log records as they come and hands them to a logger. Close it
 * (close() or `using`) before the Ebpf: records still in the ring are handed over first.
 * While open it holds the event loop (as a server does).
 */
export class BpfLogger implements Disposable {
  readonly #ring: RingBuf;
  readonly #poller: RingBufPoller;
  readonly #stop = new AbortController();
  readonly #run: Promise<number>;
  readonly #signal: AbortSignal | undefined;
  readonly #onAbort = () => this.close();
  #records = 0;
  #malformed = 0;

  /** @internal */
  constructor(ebpf: Ebpf, sink: Sink, options: AttachLoggerOptions) {
    const rank = LOG_LEVELS.indexOf(options.level ?? 'trace');
    const onError = options.onError ?? ((err: unknown) => setImmediate(() => { throw err; }));
    this.#ring = ebpf.map(LOG_MAP_NAME, RingBuf);
    try {
      this.#poller = new RingBufPoller();
    } catch (err) {
      this.#ring.close();
      throw err;
    }
    this.#poller.add(this.#ring, (record) => {
      // The level is byte 1: records above the threshold are not even decoded.
      const level = record[1]!;
      if (level > rank + 1 && level <= LOG_LEVELS.length && record.length >= 16) return;
      const r = decodeLogRecord(record, 0, record.length);
      if (!r) {
        this.#malformed++;
        return;
      }
      this.#records++;
      try {
        sink(r);
      } catch (err) {
        onError(err);
      }
    });
    this.#run = this.#poller.run({ signal: this.#stop.signal });
    this.#run.catch(onError);
    this.#signal = options.signal;
    this.#signal?.addEventListener('abort', this.#onAbort, { once: true });
  }

  /** Hands over the records in the ring now, without waiting for the event loop; their number. */
  flush(): number {
    if (this.closed) return 0;
    const before = this.#records;
    this.#poller.consume();
    return this.#records - before;
  }

  /** Records handed to the logger (those under the level threshold are not counted). */
  get records(): number {
    return this.#records;
  }

  /** Records that were not tsbpf_log.h records (another layout version, cut short): skipped. */
  get malformed(): number {
    return this.#malformed;
  }

  /** True once closed (close(), dispose or the signal). */
  get closed(): boolean {
    return this.#stop.signal.aborted;
  }

  /** Hands over the records still in the ring, then stops reading. Idempotent. */
  close(): void {
    if (this.closed) return;
    try {
      if (!this.#ring.closed) this.#poller.consume();
    } finally {
      this.#signal?.removeEventListener('abort', this.#onAbort);
      this.#stop.abort();
      this.#poller.close();
      this.#ring.close();
    }
  }

  /** close(). */
  [Symbol.dispose](): void {
    this.close();
  }
}

/**
 * Formats the records of bpf/include/tsbpf_log.h
 * (`log_info("pid %d opened %s", pid, name)` in the program) into `logger` as they come: console by default, or a
 * pino-compatible object (error, warn, info, debug, trace methods), or a function given
 * each decoded record. Reads the object's `tsbpf_log` ring buffer through the event loop
 * (no thread, no timer); returns the BpfLogger to close. MapError 'InvalidArgument' when
 * the object has no tsbpf_log map (the programs do not include tsbpf_log.h), or for a
 * logger without those methods; 'InvalidMapType' if tsbpf_log is not a ring buffer.
 * Needs ring buffers (5.8).
 */
export function attachLogger(ebpf: Ebpf, logger: BpfLogTarget | ((record: BpfLogRecord) => void) = console, options: AttachLoggerOptions = {}): BpfLogger {
  if (typeof options !== 'object' || options === null) throw new MapError('InvalidArgument', `attachLogger options must be an object, got ${describeValue(options)}`);
  if (options.level !== undefined && !LOG_LEVELS.includes(options.level)) {
    throw new MapError('InvalidArgument', `attachLogger level must be one of ${LOG_LEVELS.join(', ')}, got ${describeValue(options.level)}`);
  }
  if (options.signal !== undefined && !(options.signal instanceof AbortSignal)) throw new MapError('InvalidArgument', `attachLogger signal must be an AbortSignal, got ${describeValue(options.signal)}`);
  if (options.onError !== undefined && typeof options.onError !== 'function') throw new MapError('InvalidArgument', `attachLogger onError must be a function, got ${describeValue(options.onError)}`);
  options.signal?.throwIfAborted();
  const sink = sinkFor(logger, options.fields === true);
  if (![...ebpf.maps()].some(([name]) => name === LOG_MAP_NAME)) {
    throw new MapError('InvalidArgument', `attachLogger: the object has no ${LOG_MAP_NAME} ring buffer (include tsbpf_log.h in its programs and log with log_info(...))`);
  }
  return new BpfLogger(ebpf, sink, options);
}
