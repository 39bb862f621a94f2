// The GPU worker's entry point: an Electron utility process (or a Node child under
// `kotaro serve` and the tests). It owns the engine; main owns all state. Requests are
// validated here and handled by WorkerService (worker-service.ts).
import { connectToParent } from './transport.js';
import { workerRequest, type WorkerMessage, type WorkerRequest } from './protocol.js';
import { loadEngineAddon } from './engine-binding.js';
import { WorkerService, codeOf, messageOf } from './worker-service.js';
import { SchemaError } from '../electron/contract/schema.js';

const transport = connectToParent();
const send = (message: WorkerMessage) => transport.send(message);

const telemetryEnv = Number(process.env.KOTARO_TELEMETRY_MS);
const service = new WorkerService({
  loadAddon: loadEngineAddon,
  send,
  exit: (code) => process.exit(code),
  telemetryIntervalMs: Number.isFinite(telemetryEnv) && telemetryEnv >= 0 ? telemetryEnv : 100,
});

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
    service.handle(request);
  } catch (error) {
    send({ type: 'error', id: request.id, error: { code: codeOf(error), message: messageOf(error) } });
  }
});
