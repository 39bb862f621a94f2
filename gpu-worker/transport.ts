// How the worker talks to main. In Electron it is a utility process and messages come
// through `process.parentPort`; under plain Node (kotaro serve, tests) it is a child
// forked with an IPC channel and uses `process.send`. The worker code sees one interface.

export interface WorkerTransport {
  send(message: unknown): void;
  onMessage(listener: (message: unknown) => void): void;
}

interface ParentPort {
  postMessage(message: unknown): void;
  on(event: 'message', listener: (event: { data: unknown }) => void): void;
}

export function connectToParent(): WorkerTransport {
  const parentPort = (process as unknown as { parentPort?: ParentPort }).parentPort;
  if (parentPort) {
    return {
      send: (message) => parentPort.postMessage(message),
      onMessage: (listener) => parentPort.on('message', (event) => listener(event.data)),
    };
  }
  if (typeof process.send === 'function') {
    return {
      send: (message) => process.send!(message),
      onMessage: (listener) => process.on('message', listener),
    };
  }
  throw new Error('gpu-worker: started without a parent channel (run it through the host, not directly)');
}
