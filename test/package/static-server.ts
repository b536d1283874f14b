/**
 * A static file server for the consumer app's `vite build` output with the response headers a deployment
 * chooses: cross-origin isolation or none, a Content-Security-Policy. It also takes the browser's CSP
 * violation reports (`report-uri /csp-report`), which Chromium sends for the page and for its workers
 * alike: the one listener that hears a worker's violations without code inside the worker.
 */
import { createReadStream, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, normalize, sep } from 'node:path';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  // WebAssembly.instantiateStreaming needs the exact type.
  '.wasm': 'application/wasm',
};

export const CSP_REPORT_PATH = '/csp-report';

export interface StaticServer {
  url: string;
  /** Bodies of the CSP violation reports received so far (JSON, as the browser sent them). */
  reports: unknown[];
  close(): Promise<void>;
}

export async function serveStatic(root: string, headers: Record<string, string>): Promise<StaticServer> {
  const reports: unknown[] = [];
  const server: Server = createServer((request, response) => {
    const path = decodeURIComponent(new URL(request.url ?? '/', 'http://x').pathname);
    if (request.method === 'POST' && path === CSP_REPORT_PATH) {
      let body = '';
      request.on('data', (chunk) => (body += chunk));
      request.on('end', () => {
        reports.push(JSON.parse(body));
        response.writeHead(204).end();
      });
      return;
    }
    const file = normalize(join(root, path.endsWith('/') ? `${path}index.html` : path));
    if (!file.startsWith(root + sep) || !statSync(file, { throwIfNoEntry: false })?.isFile()) {
      response.writeHead(404, headers).end();
      return;
    }
    response.writeHead(200, {
      ...headers,
      'Content-Type': TYPES[extname(file)] ?? 'application/octet-stream',
    });
    createReadStream(file).pipe(response);
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    reports,
    close: () => new Promise((ok) => server.close(() => ok())),
  };
}
