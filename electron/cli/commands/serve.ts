// `kotaro serve [--port N]`: the host services and the renderer, in a browser on loopback.
import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { join } from 'node:path';
import { HostServices } from '../../host/host-services.js';
import { nodeLauncher } from '../../worker-host/node-launcher.js';
import { startServer } from '../../serve/server.js';
import { appVersion, rendererRoot } from '../paths.js';
import type { CliCommand } from '../command.js';

export const serveCommand: CliCommand = {
  name: 'serve',
  summary: 'run Kotaro headless and open its window in a browser on 127.0.0.1',
  usage: 'kotaro serve [--port <n>]',
  async run(argv) {
    const { values } = parseArgs({ args: argv, options: { port: { type: 'string' } }, strict: true });
    const port = values.port === undefined ? 0 : Number(values.port);
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`--port: not a port number: ${values.port}`);
    const root = rendererRoot();
    if (!existsSync(root)) throw new Error(`the renderer is not built (${root}); run npm run build`);
    const host = new HostServices({ host: 'serve', launcher: nodeLauncher, appVersion: appVersion() });
    host.start();
    const server = await startServer({ host, rendererRoot: root, port, inboxDir: join(host.dataDir, 'inbox') });
    // The URL is the one line tests and scripts read: keep its format.
    console.log(`Kotaro is serving on ${server.url}`);
    const shutdown = async () => {
      await server.close();
      await host.stop();
      process.exit(0);
    };
    process.once('SIGINT', () => void shutdown());
    process.once('SIGTERM', () => void shutdown());
    return new Promise<number>(() => {}); // runs until a signal
  },
};
