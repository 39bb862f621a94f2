// The window's footer: host, engine build and GPU worker state at a glance.
import { useT } from '../i18n/use-t';
import { useKotaro } from '../store/react';

export function StatusBar() {
  const t = useT();
  const appInfo = useKotaro((s) => s.appInfo);
  const worker = useKotaro((s) => s.worker);
  const connectionError = useKotaro((s) => s.connectionError);
  const engine = worker?.engine;
  const gpu = engine?.gpus[0];
  return (
    <footer className="status-bar" data-testid="status-bar">
      {connectionError ? <span className="status-error">{connectionError}</span> : null}
      <span data-testid="worker-state" data-state={worker?.state ?? 'unknown'}>
        {t('status.worker', { state: worker ? t(`worker.${worker.state}`) : t('status.unknown') })}
        {worker?.lastError && worker.state !== 'ready' && worker.state !== 'busy' ? <span className="status-error"> · {worker.lastError}</span> : null}
      </span>
      <span>{t('status.engine', { engine: engine ? `${engine.version}${engine.cudaCompiled ? ' + CUDA' : ` ${t('status.cpuOnly')}`}` : t('status.unknown') })}</span>
      <span>{gpu ? `${gpu.name} · ${(gpu.totalBytes / 2 ** 30).toFixed(1)} GiB` : t('status.noGpu')}</span>
      <span className="status-host">{appInfo ? `Kotaro ${appInfo.version} · ${appInfo.host}` : ''}</span>
    </footer>
  );
}
