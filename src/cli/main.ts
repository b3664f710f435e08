#!/usr/bin/env node
// The tsbpf command: inspect the programs, maps, links and BTF in the kernel, and what it
// supports. Exit codes: 0 done, 1 the operation failed, 2 the command line was wrong.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command, CommanderError, Option } from 'commander';
import { btfCommand } from './btf.js';
import { describeError } from './errors.js';
import { exportCommand } from './export.js';
import { featureCommand } from './feature.js';
import { genCommand } from './gen.js';
import { linkCommand } from './link.js';
import { loadCommand } from './load.js';
import { mapCommand } from './map.js';
import { makeOutput, useColor, type Output } from './output.js';
import { loadLibrary } from './lib.js';
import { progCommand } from './prog.js';
import { packageRoot } from '../sys/package-root.js';

const EXIT_OK = 0;
const EXIT_FAILURE = 1;
const EXIT_USAGE = 2;

function version(): string {
  try {
    return (JSON.parse(readFileSync(join(packageRoot(import.meta.url), 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

/** The command tree; `argv` without the node and script entries. */
export function buildProgram(): Command {
  const program = new Command('tsbpf');
  const color = (cmd: Command) => useColor(process.stdout, process.env, cmd.optsWithGlobals<{ color: boolean }>().color);
  // Each command's options (--json) are read when it runs: the factories get a thunk.
  let current: Command | undefined;
  const out = (): Output => {
    const opts = current!.optsWithGlobals<{ json?: boolean; color: boolean }>();
    return makeOutput(opts.json === true, color(current!));
  };
  program
    .description('inspect BPF programs, maps, links and BTF on this machine; load objects and generate TypeScript bindings (the tsbpf library\'s command line)')
    .version(version(), '-V, --version')
    .option('-j, --json', 'print JSON instead of tables')
    .addOption(new Option('--no-color', 'no colour even on a terminal (NO_COLOR=1 does the same)'))
    .showHelpAfterError('(run with --help for usage)')
    .showSuggestionAfterError(true)
    .exitOverride()
    .configureOutput({ outputError: (text, write) => write(text) })
    .hook('preAction', async (_root, action) => {
      current = action;
      await loadLibrary();
    });
  for (const make of [progCommand, mapCommand, linkCommand, featureCommand, btfCommand, genCommand, loadCommand, exportCommand]) {
    const cmd = make(out);
    program.addCommand(cmd);
    configure(cmd);
  }
  return program;
}

/** What every command shares: --json, exit codes through exceptions, usage errors with their help hint. */
function configure(cmd: Command): void {
  cmd.option('-j, --json', 'print JSON instead of tables');
  cmd.exitOverride();
  cmd.showHelpAfterError('(run with --help for usage)');
  cmd.showSuggestionAfterError(true);
  for (const sub of cmd.commands) configure(sub);
}

export async function run(argv: string[]): Promise<number> {
  const program = buildProgram();
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    // `tsbpf map dump 7 | head`: the reader went away, nothing is wrong.
    if (err.code === 'EPIPE') process.exit(EXIT_OK);
    throw err;
  });
  try {
    await program.parseAsync(argv, { from: 'user' });
    return EXIT_OK;
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version end through here with exit code 0; a bare `tsbpf` or
      // `tsbpf map` prints help to stderr with 1: both that and any parse error are usage.
      return err.exitCode === 0 ? EXIT_OK : EXIT_USAGE;
    }
    const { message, hint, exitCode } = describeError(err);
    const c = makeOutput(false, useColor(process.stderr, process.env, !argv.includes('--no-color'))).c;
    process.stderr.write(`${c.red('tsbpf: error:')} ${message}\n`);
    if (hint) process.stderr.write(`${c.yellow('hint:')} ${hint}\n`);
    return exitCode === EXIT_USAGE ? EXIT_USAGE : EXIT_FAILURE;
  }
}

process.exitCode = await run(process.argv.slice(2));
