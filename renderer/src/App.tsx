// The window: header with the view tabs and the model's state, the active view, the live
// panel beside it, and the status bar.
import { useEffect } from 'react';
import { useLanguage, useT } from './i18n/use-t';
import { useKotaro } from './store/react';
import { HistoryView } from './views/HistoryView';
import { LivePanel } from './views/LivePanel';
import { ModelStatusLine, ModelsView } from './views/ModelsView';
import { QueueView } from './views/QueueView';
import { SettingsView } from './views/SettingsView';
import { StatusBar } from './views/StatusBar';
import { Tabs, panelId, tabId } from './views/Tabs';

export function App() {
  const t = useT();
  const language = useLanguage();
  const view = useKotaro((s) => s.view);

  useEffect(() => {
    document.documentElement.lang = language;
  }, [language]);

  return (
    <div className="app" data-testid="main-view">
      <header className="app-header">
        <h1>{t('app.title')}</h1>
        <Tabs />
        <ModelStatusLine />
      </header>
      <div className="workspace">
        <main className="view" role="tabpanel" id={panelId(view)} aria-labelledby={tabId(view)} data-testid={`view-${view}`}>
          {view === 'queue' ? <QueueView /> : null}
          {view === 'history' ? <HistoryView /> : null}
          {view === 'models' ? <ModelsView /> : null}
          {view === 'settings' ? <SettingsView /> : null}
        </main>
        <LivePanel />
      </div>
      <StatusBar />
    </div>
  );
}
