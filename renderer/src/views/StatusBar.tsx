// The window's footer: host, engine build and GPU worker state at a glance.
import { useKotaro } from '../store';

export function StatusBar() {
  const appInfo = useKotaro((s) => s.appInfo);
  const worker = useKotaro((s) => s.worker);
  const connectionError = useKotaro((s) => s.connectionError);
  const engine = worker?.engine;
  const gpu = engine?.gpus[0];
  return (
    <footer className="status-bar" data-testid="status-bar">
      {connectionError ? <span className="status-error">{connectionError}</span> : null}
      <span data-testid="worker-state" data-state={worker?.state ?? 'unknown'}>
        worker: {worker?.state ?? '…'}
      </span>
      <span>
        engine: {engine ? `${engine.version}${engine.cudaCompiled ? ' + CUDA' : ' (CPU only)'}` : '…'}
      </span>
      <span>{gpu ? `${gpu.name} · ${(gpu.totalBytes / 2 ** 30).toFixed(1)} GiB` : 'no GPU: CPU backend'}</span>
      <span className="status-host">{appInfo ? `Kotaro ${appInfo.version} · ${appInfo.host}` : ''}</span>
    </footer>
  );
}
