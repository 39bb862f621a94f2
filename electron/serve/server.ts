// `kotaro serve`: the host services without Electron, with the built renderer served to a
// browser on loopback. The window.kotaro bridge travels over a WebSocket. Access needs the
// random token printed in the URL (exchanged for an HttpOnly cookie), the Host header must
// name this server (no DNS rebinding) and WebSocket upgrades must come from this origin.
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import { BridgeRouter, toBridgeError } from '../host/bridge-router.js';
import type { HostServices } from '../host/host-services.js';
import { wireRequest, type WireMessage } from '../contract/bridge.js';
import { resolveStatic, sendFile } from './static-files.js';
import { handleUpload } from './upload.js';

export interface ServeOptions {
  host: HostServices;
  rendererRoot: string;
  /** Where uploaded files are stored (browsers cannot hand over file paths). */
  inboxDir: string;
  port?: number;          // 0 = a free port
  token?: string;
}

export interface RunningServer {
  url: string;
  port: number;
  token: string;
  close(): Promise<void>;
}

const COOKIE = 'kotaro_token';
const MAX_FRAME_BYTES = 1 << 20;

function sameToken(a: string | null | undefined, b: string): boolean {
  if (!a) return false;
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

function cookieToken(req: IncomingMessage): string | null {
  const header = req.headers.cookie ?? '';
  for (const part of header.split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k === COOKIE) return v.join('=');
  }
  return null;
}

export async function startServer(options: ServeOptions): Promise<RunningServer> {
  const token = options.token ?? randomBytes(24).toString('base64url');
  const router = new BridgeRouter(options.host);
  let port = 0;
  const allowedHosts = () => [`127.0.0.1:${port}`, `localhost:${port}`];
  const csp = () =>
    `default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; ` +
    `connect-src 'self' ws://127.0.0.1:${port} ws://localhost:${port}; object-src 'none'; base-uri 'none'; frame-ancestors 'none'`;

  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (!allowedHosts().includes(req.headers.host ?? '')) {
      res.writeHead(421).end('wrong host');
      return;
    }
    const queryToken = url.searchParams.get('token');
    const authorised = sameToken(queryToken, token) || sameToken(cookieToken(req), token);
    if (!authorised) {
      res.writeHead(401, { 'Content-Type': 'text/plain' }).end('Kotaro: open the URL printed by `kotaro serve` (it carries the access token).');
      return;
    }
    if (url.pathname === '/upload' && req.method === 'POST') {
      // A cross-site form cannot carry our token in the query, and the cookie is SameSite=Strict.
      if (!sameToken(queryToken, token)) {
        res.writeHead(403).end();
        return;
      }
      handleUpload(req, res, options.inboxDir, url.searchParams.get('name') ?? 'image');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405).end();
      return;
    }
    const file = resolveStatic(options.rendererRoot, url.pathname);
    if (!file) {
      res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found');
      return;
    }
    sendFile(res, file, {
      'Content-Security-Policy': csp(),
      'Set-Cookie': `${COOKIE}=${token}; HttpOnly; SameSite=Strict; Path=/`,
      'Referrer-Policy': 'no-referrer',
    });
  });

  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_FRAME_BYTES });
  const clients = new Set<WebSocket>();
  server.on('upgrade', (req, socket, head) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const originOk = [`http://127.0.0.1:${port}`, `http://localhost:${port}`].includes(req.headers.origin ?? '');
    const tokenOk = sameToken(url.searchParams.get('token'), token) || sameToken(cookieToken(req), token);
    if (url.pathname !== '/bridge' || !originOk || !tokenOk || !allowedHosts().includes(req.headers.host ?? '')) {
      socket.write('HTTP/1.1 403 Forbidden\r\n\r\n');
      socket.destroy();
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      clients.add(ws);
      ws.on('close', () => clients.delete(ws));
      ws.on('message', (data) => void onFrame(ws, data.toString()));
    });
  });

  async function onFrame(ws: WebSocket, text: string): Promise<void> {
    let request;
    try {
      request = wireRequest.parse(JSON.parse(text), 'frame');
    } catch (error) {
      ws.send(JSON.stringify({ type: 'error', id: -1, error: { code: 'INVALID_MESSAGE', message: (error as Error).message } } satisfies WireMessage));
      return;
    }
    let reply: WireMessage;
    try {
      reply = { type: 'result', id: request.id, result: await router.dispatch(request.method, request.params) };
    } catch (error) {
      reply = { type: 'error', id: request.id, error: toBridgeError(error) };
    }
    if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(reply));
  }

  const onEvent = ({ event, payload }: { event: string; payload: unknown }) => {
    const frame = JSON.stringify({ type: 'event', event, payload } satisfies WireMessage);
    for (const ws of clients) if (ws.readyState === ws.OPEN) ws.send(frame);
  };
  options.host.on('bridgeEvent', onEvent);

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  port = (server.address() as AddressInfo).port;

  return {
    url: `http://127.0.0.1:${port}/?token=${token}`,
    port,
    token,
    close: async () => {
      options.host.off('bridgeEvent', onEvent);
      for (const ws of clients) ws.terminate();
      wss.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
