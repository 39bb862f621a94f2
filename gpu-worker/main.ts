// The GPU worker's entry point: an Electron utility process (or a Node child under
// `kotaro serve` and the tests). It owns the engine; main owns all state.
import { connectToParent } from './transport.js';
import { PROTOCOL_VERSION, workerRequest, type WorkerMessage, type WorkerRequest } from './protocol.js';
import { engineBuildInfoOf, loadEngineAddon } from './engine-binding.js';
import { SchemaError } from '../electron/contract/schema.js';

const transport = connectToParent();
const send = (message: WorkerMessage) => transport.send(message);

function codeOf(error: unknown): string {
  const code = (error as { code?: unknown })?.code;
  return typeof code === 'string' ? code : 'INTERNAL';
}
function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function handle(request: WorkerRequest): void {
  switch (request.type) {
    case 'hello': {
      let engine = null;
      let engineError = null;
      try {
        engine = engineBuildInfoOf(loadEngineAddon());
      } catch (error) {
        engineError = { code: codeOf(error), message: messageOf(error) };
      }
      send({ type: 'hello', id: request.id, protocolVersion: PROTOCOL_VERSION, pid: process.pid, engine, engineError });
      return;
    }
    case 'ping':
      send({ type: 'pong', id: request.id, sentAt: request.sentAt, pid: process.pid });
      return;
    case 'shutdown':
      send({ type: 'ack', id: request.id });
      setImmediate(() => process.exit(0));
      return;
  }
}

transport.onMessage((raw) => {
  let request: WorkerRequest;
  try {
    request = workerRequest.parse(raw, 'request');
  } catch (error) {
    const id = typeof (raw as { id?: unknown })?.id === 'number' ? (raw as { id: number }).id : -1;
    send({ type: 'error', id, error: { code: error instanceof SchemaError ? error.code : 'INTERNAL', message: messageOf(error) } });
    return;
  }
  try {
    handle(request);
  } catch (error) {
    send({ type: 'error', id: request.id, error: { code: codeOf(error), message: messageOf(error) } });
  }
});
