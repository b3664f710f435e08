// bpf_printk's output: the lines of tracefs's trace_pipe, parsed, as an async iterable.
//
// trace_pipe is one stream for the whole system, and reading consumes it: two readers
// share the lines between them, and lines of other programs (and other trace events
// enabled in the top-level instance) come through too. Filter on what your program prints.
// The descriptor is opened non-blocking and waited on through epoll (trace_pipe polls
// readable while the ring is not empty), so no libuv thread sits in a blocking read.
import { closeSync, constants, openSync, readFileSync, readSync, writeFileSync } from 'node:fs';
import { StringDecoder } from 'node:string_decoder';
import { ProgramError } from '../errors.js';
import { describeValue } from '../describe.js';
import { Readiness } from '../events/readiness.js';
import { tracefs } from '../programs/trace-point.js';

/** A line of trace_pipe. */
export interface TracePipeLine {
  /** The task's comm (`<...>` when the kernel no longer knows it). */
  task: string;
  /** The thread id. */
  pid: number;
  /** The CPU it ran on. */
  cpu: number;
  /** The irqs-off / need-resched / hardirq-softirq / preempt-depth flags ("d..31"; '' when the irq-info option is off). */
  flags: string;
  /** Seconds (the trace clock's: local, since boot by default). */
  timestamp: number;
  /** The event: 'bpf_trace_printk' for bpf_printk. */
  event: string;
  /** What the program printed (without the trailing newline). */
  message: string;
  /** The whole line. */
  line: string;
}

/** tracePipe's options. */
export interface TracePipeOptions {
  /** Ends the iteration: the pending next() rejects with `signal.reason` (as `events.on`). */
  signal?: AbortSignal;
  /** Only lines of this event (default: every parsed line; bpf_printk's are 'bpf_trace_printk'). */
  event?: string;
  /**
   * Turns tracing on (tracefs tracing_on: 1) while the reader is open, and back off at
   * close if it was off. With tracing off (a `traceoff` trigger, traceoff_on_warning, or
   * someone's `echo 0 > tracing_on`) bpf_printk writes nothing. Default: tracing_on is
   * left as it is (the `tracingOn` property says what it is).
   */
  tracingOn?: boolean;
}

// "  task-1234  (  1234) [001] d..31  1234.567890: bpf_trace_printk: message"
// The task's comm may hold spaces and dashes: the pid is the last "-digits" before the CPU.
const LINE = /^\s*(.*?)-(\d+)\s+(?:\(\s*(?:\d+|-+)\)\s+)?\[(\d+)\]\s+(?:(\S{4,6})\s+)?(\d+(?:\.\d+)?):\s+([^:\s]+):\s?(.*)$/;

/** A line of trace_pipe parsed; undefined for lines of another shape ("CPU:1 [LOST 3 EVENTS]"). */
export function parseTracePipeLine(line: string): TracePipeLine | undefined {
  const m = LINE.exec(line);
  if (!m) return undefined;
  return { task: m[1]!, pid: Number(m[2]), cpu: Number(m[3]), flags: m[4] ?? '', timestamp: Number(m[5]), event: m[6]!, message: m[7]!, line };
}

const CHUNK = 64 * 1024;

/**
 * The lines of tracefs's trace_pipe as they come: what programs print with bpf_printk
 * (bpf_trace_printk), parsed. Opens /sys/kernel/tracing/trace_pipe (mounting tracefs
 * there when it is not mounted, else the debugfs copy) at once, so that opening errors
 * throw here: ProgramError 'NotSupported' without tracefs; the open's error (EACCES:
 * needs root) as is. Reading consumes the lines for every reader on the system. Waits
 * through the event loop; breaking out of the loop, return(), close() or aborting
 * `signal` closes the file (aborting rejects the pending next() with `signal.reason`).
 */
export function tracePipe(options: TracePipeOptions = {}): TracePipe {
  if (typeof options !== 'object' || options === null) throw new ProgramError('InvalidArgument', `tracePipe options must be an object, got ${describeValue(options)}`);
  const { signal, event } = options;
  if (signal !== undefined && !(signal instanceof AbortSignal)) throw new ProgramError('InvalidArgument', `tracePipe signal must be an AbortSignal, got ${describeValue(signal)}`);
  if (event !== undefined && typeof event !== 'string') throw new ProgramError('InvalidArgument', `tracePipe event must be a string, got ${describeValue(event)}`);
  if (options.tracingOn !== undefined && typeof options.tracingOn !== 'boolean') throw new ProgramError('InvalidArgument', `tracePipe tracingOn must be a boolean, got ${describeValue(options.tracingOn)}`);
  signal?.throwIfAborted();
  return new TracePipe(tracefs(), signal, event, options.tracingOn === true);
}

/** A reader dropped without close(): its trace_pipe descriptor is closed when it is collected. */
const dropped = new FinalizationRegistry<{ fd: number }>((cell) => {
  if (cell.fd >= 0) closeSync(cell.fd);
});

/** The reader tracePipe() returns: an async iterator of lines that owns the open trace_pipe. */
export class TracePipe implements AsyncIterableIterator<TracePipeLine>, Disposable {
  #fd: number;
  readonly #readiness: Readiness;
  readonly #lines: AsyncGenerator<TracePipeLine>;
  readonly #root: string;
  /** tracing_on was off and this reader turned it on: off again at close. */
  #restore = false;
  /** The descriptor as the FinalizationRegistry sees it: -1 once closed. */
  readonly #cell: { fd: number };

  /** @internal */
  constructor(root: string, signal: AbortSignal | undefined, event: string | undefined, tracingOn: boolean) {
    const fd = openSync(`${root}/trace_pipe`, constants.O_RDONLY | constants.O_NONBLOCK);
    let readiness: Readiness | undefined;
    try {
      readiness = new Readiness();
      readiness.add(fd, 0);
      if (tracingOn && readFileSync(`${root}/tracing_on`, 'utf8').trim() === '0') {
        writeFileSync(`${root}/tracing_on`, '1');
        this.#restore = true;
      }
    } catch (err) {
      readiness?.close();
      closeSync(fd);
      throw err;
    }
    this.#readiness = readiness;
    this.#root = root;
    this.#fd = fd;
    this.#cell = { fd };
    dropped.register(this, this.#cell);
    this.#lines = this.#read(signal, event);
  }

  /** Whether tracing is on (tracefs tracing_on): with it off, bpf_printk writes nothing. */
  get tracingOn(): boolean {
    return readFileSync(`${this.#root}/tracing_on`, 'utf8').trim() !== '0';
  }

  /** The next line, waiting for it. */
  next(): Promise<IteratorResult<TracePipeLine, undefined>> {
    return this.#lines.next();
  }

  /** Closes the file; the iteration ends. */
  async return(): Promise<IteratorResult<TracePipeLine, undefined>> {
    this.close();
    return this.#lines.return(undefined);
  }

  /** This reader. */
  [Symbol.asyncIterator](): this {
    return this;
  }

  /** True once closed (close(), return(), the end of the loop, the signal). */
  get closed(): boolean {
    return this.#fd < 0;
  }

  /** Closes trace_pipe (a pending next() resolves done). Idempotent. */
  close(): void {
    if (this.#fd < 0) return;
    this.#readiness.close();
    closeSync(this.#fd);
    this.#fd = -1;
    this.#cell.fd = -1;
    if (this.#restore) writeFileSync(`${this.#root}/tracing_on`, '0');
  }

  /** close(). */
  [Symbol.dispose](): void {
    this.close();
  }

  async *#read(signal: AbortSignal | undefined, event: string | undefined): AsyncGenerator<TracePipeLine, undefined> {
    const buffer = Buffer.alloc(CHUNK);
    const text = new StringDecoder('utf8');
    let pending = '';
    try {
      while (this.#fd >= 0) {
        signal?.throwIfAborted();
        let n: number;
        try {
          n = readSync(this.#fd, buffer, 0, CHUNK, null);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') throw err;
          n = 0;
        }
        if (n === 0) {
          await this.#readiness.readable(signal);
          continue;
        }
        pending += text.write(buffer.subarray(0, n));
        const end = pending.lastIndexOf('\n');
        if (end < 0) continue;
        const complete = pending.slice(0, end);
        pending = pending.slice(end + 1);
        for (const l of complete.split('\n')) {
          const line = parseTracePipeLine(l);
          if (line && (event === undefined || line.event === event)) yield line;
          if (this.#fd < 0) return undefined;
        }
      }
      return undefined;
    } finally {
      this.close();
    }
  }
}
