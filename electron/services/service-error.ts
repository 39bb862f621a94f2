// The error every host service throws for a condition the user can act on. Its code crosses
// the bridge unchanged (electron/host/bridge-router.ts → toBridgeError), so the window can show
// a specific message and the CLI can print it.
export class ServiceError extends Error {
  constructor(readonly code: string, message: string) {
    super(message);
    this.name = 'ServiceError';
  }
}

/** The code of anything thrown (ServiceError, WorkerError, GgufError, Node's errno errors). */
export function errorCode(error: unknown, fallback = 'INTERNAL'): string {
  const code = (error as { code?: unknown })?.code;
  return typeof code === 'string' && code.length > 0 ? code : fallback;
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
