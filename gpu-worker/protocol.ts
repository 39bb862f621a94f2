// The main ↔ worker contract. Every message is validated where it is received: the worker
// parses requests with `workerRequest`, main parses replies with `workerMessage`.
// Large data never crosses as a buffer: images travel as file paths.
import { s, type Infer } from '../electron/contract/schema.js';
import { engineBuildInfo } from '../electron/contract/bridge.js';

/** Bumped on any incompatible change; main refuses a worker that answers another version. */
export const PROTOCOL_VERSION = 1;

export const workerRequest = s.union('type', {
  hello: s.object({ type: s.literal('hello'), id: s.number({ int: true }), protocolVersion: s.number({ int: true }) }),
  ping: s.object({ type: s.literal('ping'), id: s.number({ int: true }), sentAt: s.number() }),
  shutdown: s.object({ type: s.literal('shutdown'), id: s.number({ int: true }) }),
});
export type WorkerRequest = Infer<typeof workerRequest>;

const errorShape = s.object({ code: s.string(), message: s.string() });

export const workerMessage = s.union('type', {
  hello: s.object({
    type: s.literal('hello'),
    id: s.number({ int: true }),
    protocolVersion: s.number({ int: true }),
    pid: s.number({ int: true }),
    engine: s.nullable(engineBuildInfo),
    engineError: s.nullable(errorShape),
  }),
  pong: s.object({ type: s.literal('pong'), id: s.number({ int: true }), sentAt: s.number(), pid: s.number({ int: true }) }),
  error: s.object({ type: s.literal('error'), id: s.number({ int: true }), error: errorShape }),
  ack: s.object({ type: s.literal('ack'), id: s.number({ int: true }) }),
});
export type WorkerMessage = Infer<typeof workerMessage>;
