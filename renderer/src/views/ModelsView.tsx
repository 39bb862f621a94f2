// Models: the registry's model pairs (size, quantization, VRAM need, whether it fits),
// load/unload with progress, and the folders the registry scans.
import { useId, useState } from 'react';
import type { ModelEntry, ModelStatus, VramEstimate } from '../../../electron/contract/bridge';
import type { Translate } from '../i18n';
import { useT } from '../i18n/use-t';
import { useKotaro } from '../store/react';
import { formatBytes } from '../util/format';

function statusText(t: Translate, status: ModelStatus | null, models: ModelEntry[]): string {
  if (!status) return t('status.unknown');
  const model = models.find((m) => m.id === status.modelId);
  // Several files of one model share its name: the quantization tells them apart.
  const name = model ? `${model.name} ${model.quantization}` : (status.modelId ?? '');
  switch (status.state) {
    case 'unloaded':
      return t('models.status.unloaded');
    case 'loading':
      return t('models.status.loading', { name, percent: Math.round(status.progress * 100) });
    case 'loaded':
      return t('models.status.loaded', { name, backend: status.backend ?? '?' });
    case 'unloading':
      return t('models.status.unloading');
    case 'error':
      return t('models.status.error', { message: status.error ?? '' });
  }
}

export function ModelStatusLine() {
  const t = useT();
  const status = useKotaro((s) => s.modelStatus);
  const models = useKotaro((s) => s.models);
  const unloadModel = useKotaro((s) => s.unloadModel);
  return (
    <div className={`model-status state-${status?.state ?? 'unknown'}`} data-testid="model-status" data-state={status?.state ?? 'unknown'}>
      <p role="status">{statusText(t, status, models)}</p>
      {status?.state === 'loading' ? <progress max={1} value={status.progress} aria-label={statusText(t, status, models)} /> : null}
      {status?.state === 'loaded' ? (
        <button type="button" onClick={() => void unloadModel()}>
          {t('models.unload')}
        </button>
      ) : null}
    </div>
  );
}

function fileName(path: string): string {
  return path.split(/[\\/]/).pop() ?? path;
}

/** The estimate's parts, shown when hovering the VRAM figure. */
function estimateTitle(t: Translate, e: VramEstimate): string {
  return [
    `${t('live.weights')}: ${formatBytes(e.weightsBytes)}`,
    `${t('models.visionTower')}: ${formatBytes(e.visionBytes)}`,
    `${t('live.kvCache')} (${e.contextLength}): ${formatBytes(e.kvCacheBytes)}`,
    `${t('live.activations')}: ${formatBytes(e.activationsBytes)}`,
    `${t('models.overhead')}: ${formatBytes(e.overheadBytes)}`,
  ].join('\n');
}

function FitBadge({ fits }: { fits: boolean | null }) {
  const t = useT();
  if (fits === null) return <span className="badge fit-unknown">{t('models.fitUnknown')}</span>;
  return fits ? <span className="badge fit-yes">{t('models.fits')}</span> : <span className="badge fit-no">{t('models.noFit')}</span>;
}

export function ModelsView() {
  const t = useT();
  const models = useKotaro((s) => s.models);
  const status = useKotaro((s) => s.modelStatus);
  const error = useKotaro((s) => s.modelsError);
  const rescanning = useKotaro((s) => s.rescanning);
  const rescanModels = useKotaro((s) => s.rescanModels);
  const loadModel = useKotaro((s) => s.loadModel);
  const busy = status?.state === 'loading' || status?.state === 'unloading';

  return (
    <div className="models-view">
      <div className="view-toolbar">
        <h2>{t('models.label')}</h2>
        <button type="button" onClick={() => void rescanModels()} disabled={rescanning} aria-busy={rescanning} data-testid="models-rescan">
          {t('models.rescan')}
        </button>
      </div>
      <ModelStatusLine />
      {error ? (
        <p className="job-error" role="alert">
          {t('models.error', { message: error.message })}
        </p>
      ) : null}
      {models.length === 0 ? (
        <p className="empty">{t('models.empty')}</p>
      ) : (
        <table className="models-table" data-testid="models-table">
          <thead>
            <tr>
              <th scope="col">{t('models.name')}</th>
              <th scope="col">{t('models.source')}</th>
              <th scope="col">{t('models.quant')}</th>
              <th scope="col">{t('models.size')}</th>
              <th scope="col">{t('models.vram')}</th>
              <th scope="col">{t('models.fit')}</th>
              <th scope="col">
                <span className="visually-hidden">{t('models.load')}</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {models.map((model) => {
              const loaded = status?.modelId === model.id && status.state === 'loaded';
              return (
                <tr key={model.id} data-testid="model-row" data-model-id={model.id}>
                  <td>
                    <div className="model-name" title={model.modelPath}>
                      {model.name}
                    </div>
                    <div className="model-meta">
                      <code>{fileName(model.modelPath)}</code> · {model.architecture}
                      {model.mmprojPath && model.vision !== false ? '' : ` · ${t('models.noMmproj')}`}
                    </div>
                    {model.problem ? <div className="model-problem">{model.problem}</div> : null}
                  </td>
                  <td>{model.source}</td>
                  <td>{model.quantization}</td>
                  <td>{formatBytes(model.sizeBytes)}</td>
                  <td title={model.estimate ? estimateTitle(t, model.estimate) : undefined}>{formatBytes(model.vramEstimateBytes)}</td>
                  <td>
                    <FitBadge fits={model.fits} />
                  </td>
                  <td>
                    {loaded ? (
                      <span className="badge fit-yes">{t('models.loaded')}</span>
                    ) : (
                      <button
                        type="button"
                        className="primary"
                        disabled={busy || model.problem !== null}
                        onClick={() => void loadModel(model.id)}
                        aria-label={t('models.loadNamed', { name: model.name })}
                        data-testid="model-load"
                      >
                        {t('models.load')}
                      </button>
                    )}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
      <ModelFolders />
    </div>
  );
}

function ModelFolders() {
  const t = useT();
  const folders = useKotaro((s) => s.settings?.modelFolders ?? null);
  const addModelFolder = useKotaro((s) => s.addModelFolder);
  const removeModelFolder = useKotaro((s) => s.removeModelFolder);
  const [path, setPath] = useState('');
  const inputId = useId();
  return (
    <section className="model-folders" aria-labelledby={`${inputId}-title`}>
      <h3 id={`${inputId}-title`}>{t('models.folders')}</h3>
      {folders && folders.length > 0 ? (
        <ul data-testid="model-folders">
          {folders.map((folder) => (
            <li key={folder}>
              <code>{folder}</code>
              <button type="button" onClick={() => void removeModelFolder(folder)} aria-label={t('models.removeFolder', { folder })}>
                ×
              </button>
            </li>
          ))}
        </ul>
      ) : (
        <p className="empty">{t('models.noFolders')}</p>
      )}
      <form
        className="inline-form"
        onSubmit={(e) => {
          e.preventDefault();
          void addModelFolder(path).then((ok) => ok && setPath(''));
        }}
      >
        <label htmlFor={inputId}>{t('models.folderInput')}</label>
        <input id={inputId} type="text" value={path} placeholder={t('models.folderPlaceholder')} onChange={(e) => setPath(e.target.value)} data-testid="model-folder-input" spellCheck={false} />
        <button type="submit" disabled={!path.trim()} data-testid="model-folder-add">
          {t('models.addFolder')}
        </button>
      </form>
    </section>
  );
}
