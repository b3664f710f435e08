// tsbpf export: the Prometheus exporter as a server (cloudflare/ebpf_exporter for Node).
// Loads the object a config names, attaches its programs and serves the metrics on
// /metrics until SIGINT or SIGTERM, then detaches and closes everything.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { Command, InvalidArgumentError, Option } from 'commander';
import { tsbpf } from './lib.js';
import { CliError } from './errors.js';
import { toJson, type Output } from './output.js';

interface Listen {
  host?: string;
  port: number;
}

/** `[host]:port`, `[::1]:port` or a bare port; an empty host listens on every address. */
export function parseListen(value: string): Listen {
  const m = /^(?:\[([^\]]+)\]|([^:]*))?:?(\d+)$/.exec(value.trim());
  const port = m ? Number(m[3]) : Number.NaN;
  if (!m || !Number.isInteger(port) || port > 65535 || (!value.includes(':') && m[2])) {
    throw new InvalidArgumentError('expected [host]:port, e.g. :9435, 127.0.0.1:9435 or [::1]:9435 (port 0: any free port)');
  }
  const host = m[1] ?? m[2];
  return host ? { host, port } : { port };
}

export function exportCommand(out: () => Output): Command {
  return new Command('export')
    .description('serve metrics from BPF maps for Prometheus over HTTP, as the config says (object, programs, metrics)')
    .requiredOption('-c, --config <file>', 'the exporter configuration (YAML: object, programs, metrics)')
    .addOption(new Option('-l, --listen <address>', 'where to serve /metrics: [host]:port (port 0: any free port)').default(parseListen(':9435'), ':9435').argParser(parseListen))
    .addHelpText('after', '\nThe configuration format is in the README (Prometheus exporter). Ctrl-C or SIGTERM stops the server and detaches the programs.')
    .action(async (opts: { config: string; listen: Listen }) => {
      const o = out();
      const { Registry } = await import('prom-client');
      const registry = new Registry();
      const exporter = tsbpf().exportMetrics(registry, opts.config);
      try {
        const server = createServer((req: IncomingMessage, res: ServerResponse) => {
          const path = (req.url ?? '/').split('?')[0];
          if (req.method !== 'GET' && req.method !== 'HEAD') {
            res.writeHead(405, { allow: 'GET, HEAD' }).end();
          } else if (path === '/metrics') {
            registry.metrics().then(
              (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text),
              (err: unknown) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`reading the maps failed: ${err instanceof Error ? err.message : String(err)}\n`),
            );
          } else if (path === '/') {
            res.writeHead(200, { 'content-type': 'text/html' }).end('<html><head><title>tsbpf exporter</title></head><body><a href="/metrics">metrics</a></body></html>\n');
          } else {
            res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: the metrics are at /metrics\n');
          }
        });
        await new Promise<void>((resolve, reject) => {
          server.once('error', (err: NodeJS.ErrnoException) => {
            const where = `${opts.listen.host ?? ''}:${opts.listen.port}`;
            reject(new CliError(err.code === 'EADDRINUSE' ? `cannot listen on ${where}: the address is in use (choose another with --listen)` : `cannot listen on ${where}: ${err.message}`));
          });
          server.listen(opts.listen.port, opts.listen.host, resolve);
        });
        const address = server.address();
        const port = typeof address === 'object' && address ? address.port : opts.listen.port;
        const host = opts.listen.host ?? 'localhost';
        const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}/metrics`;
        const programs = [...exporter.links.keys()];
        if (o.json) o.write(toJson({ url, port, metrics: exporter.metricNames, programs }));
        else o.write(`serving ${url}: ${exporter.metricNames.length} metrics, programs attached: ${programs.join(', ') || 'none'} (Ctrl-C stops)`);
        const signal = await new Promise<NodeJS.Signals>((resolve) => {
          const stop = (s: NodeJS.Signals) => {
            process.off('SIGINT', stop);
            process.off('SIGTERM', stop);
            resolve(s);
          };
          process.on('SIGINT', stop);
          process.on('SIGTERM', stop);
        });
        server.closeAllConnections();
        await new Promise<void>((resolve) => server.close(() => resolve()));
        if (!o.json) process.stderr.write(`${signal}: stopped, programs detached\n`);
      } finally {
        exporter.close();
      }
    });
}
