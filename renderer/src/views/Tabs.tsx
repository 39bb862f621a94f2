// The view switcher: a WAI-ARIA tab list (arrow keys move between tabs, Home/End jump).
import { useRef, type KeyboardEvent } from 'react';
import { useT } from '../i18n/use-t';
import { useKotaro } from '../store/react';
import { VIEWS, type ViewName } from '../store/ui-slice';

export const tabId = (view: ViewName) => `tab-${view}`;
export const panelId = (view: ViewName) => `panel-${view}`;

export function Tabs() {
  const t = useT();
  const view = useKotaro((s) => s.view);
  const setView = useKotaro((s) => s.setView);
  const refs = useRef<Partial<Record<ViewName, HTMLButtonElement | null>>>({});

  const onKeyDown = (e: KeyboardEvent) => {
    const i = VIEWS.indexOf(view);
    const next =
      e.key === 'ArrowRight' ? VIEWS[(i + 1) % VIEWS.length] : e.key === 'ArrowLeft' ? VIEWS[(i + VIEWS.length - 1) % VIEWS.length] : e.key === 'Home' ? VIEWS[0] : e.key === 'End' ? VIEWS[VIEWS.length - 1] : undefined;
    if (!next) return;
    e.preventDefault();
    setView(next);
    refs.current[next]?.focus();
  };

  return (
    <nav className="tabs" role="tablist" aria-label={t('nav.label')} onKeyDown={onKeyDown}>
      {VIEWS.map((name) => (
        <button
          key={name}
          ref={(el) => void (refs.current[name] = el)}
          type="button"
          role="tab"
          id={tabId(name)}
          aria-selected={view === name}
          aria-controls={panelId(name)}
          tabIndex={view === name ? 0 : -1}
          onClick={() => setView(name)}
          data-testid={`tab-${name}`}
        >
          {t(`nav.${name}`)}
        </button>
      ))}
    </nav>
  );
}
