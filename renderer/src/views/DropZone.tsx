// Where images come in: drop files or whole folders anywhere on the window, paste from
// the clipboard, or pick files or a folder. Everything becomes one queue of images.
import { useEffect, useRef, useState, type ChangeEvent } from 'react';
import { MAX_FILES_PER_DROP, collectFromFiles, collectFromItems, namePastedFile, type Collected } from '../files/collect-files';
import { useT } from '../i18n/use-t';
import { useKotaro } from '../store/react';

function hasFiles(event: DragEvent): boolean {
  return Array.from(event.dataTransfer?.types ?? []).includes('Files');
}

function isEditable(target: EventTarget | null): boolean {
  return target instanceof HTMLElement && (target.isContentEditable || target.tagName === 'TEXTAREA' || target.tagName === 'INPUT');
}

export function DropZone({ compact }: { compact: boolean }) {
  const t = useT();
  const addFiles = useKotaro((s) => s.addFiles);
  const setDropNotice = useKotaro((s) => s.setDropNotice);
  const notice = useKotaro((s) => s.dropNotice);
  const [dragging, setDragging] = useState(false);
  const fileInput = useRef<HTMLInputElement>(null);
  const folderInput = useRef<HTMLInputElement>(null);

  useEffect(() => {
    // React has no prop for it: lets the second input pick a whole folder.
    folderInput.current?.setAttribute('webkitdirectory', '');
  }, []);

  useEffect(() => {
    const accept = (collected: Collected<File>) => {
      setDropNotice(collected.skipped > 0 || collected.truncated ? { skipped: collected.skipped, truncated: collected.truncated } : null);
      void addFiles(collected.images);
    };
    // Window-wide, so a drop anywhere counts and the browser never navigates to the file.
    let depth = 0;
    const onDragEnter = (e: DragEvent) => {
      if (!hasFiles(e)) return;
      e.preventDefault();
      depth++;
      setDragging(true);
    };
    const onDragOver = (e: DragEvent) => {
      if (!hasFiles(e)) return;
      e.preventDefault();
      if (e.dataTransfer) e.dataTransfer.dropEffect = 'copy';
    };
    const onDragLeave = (e: DragEvent) => {
      if (!hasFiles(e)) return;
      depth = Math.max(0, depth - 1);
      if (depth === 0) setDragging(false);
    };
    const onDrop = (e: DragEvent) => {
      if (!hasFiles(e) || !e.dataTransfer) return;
      e.preventDefault();
      depth = 0;
      setDragging(false);
      // Entries must be taken before the event returns; the walk itself is async.
      void collectFromItems(e.dataTransfer.items).then(accept);
    };
    const onPaste = (e: ClipboardEvent) => {
      const files = Array.from(e.clipboardData?.files ?? []);
      if (files.length === 0) return;
      if (isEditable(e.target) && !files.some((f) => f.type.startsWith('image/'))) return;
      e.preventDefault();
      const now = new Date();
      accept(collectFromFiles(files.map((f) => namePastedFile(f, now))));
    };
    window.addEventListener('dragenter', onDragEnter);
    window.addEventListener('dragover', onDragOver);
    window.addEventListener('dragleave', onDragLeave);
    window.addEventListener('drop', onDrop);
    window.addEventListener('paste', onPaste);
    return () => {
      window.removeEventListener('dragenter', onDragEnter);
      window.removeEventListener('dragover', onDragOver);
      window.removeEventListener('dragleave', onDragLeave);
      window.removeEventListener('drop', onDrop);
      window.removeEventListener('paste', onPaste);
    };
  }, [addFiles, setDropNotice]);

  const onPicked = (e: ChangeEvent<HTMLInputElement>) => {
    const collected = collectFromFiles(Array.from(e.target.files ?? []));
    e.target.value = ''; // picking the same files again fires change again
    setDropNotice(collected.skipped > 0 || collected.truncated ? { skipped: collected.skipped, truncated: collected.truncated } : null);
    void addFiles(collected.images);
  };

  return (
    <section className={`drop-zone${compact ? ' compact' : ''}${dragging ? ' dragging' : ''}`} aria-label={t('drop.label')} data-testid="drop-zone">
      <div className="drop-text">
        <p className="drop-title">{dragging ? t('drop.active') : t('drop.title')}</p>
        <p className="drop-hint">{t('drop.hint')}</p>
      </div>
      <div className="drop-actions">
        <button type="button" className="primary" onClick={() => fileInput.current?.click()}>
          {t('drop.choose')}
        </button>
        <button type="button" onClick={() => folderInput.current?.click()}>
          {t('drop.chooseFolder')}
        </button>
      </div>
      <input ref={fileInput} type="file" multiple accept="image/*" hidden data-testid="file-input" onChange={onPicked} />
      <input ref={folderInput} type="file" multiple hidden data-testid="folder-input" onChange={onPicked} />
      {notice ? (
        <p className="drop-notice" role="status">
          {notice.skipped > 0 ? t('drop.skipped', { count: notice.skipped }) : null}
          {notice.skipped > 0 && notice.truncated ? ' · ' : null}
          {notice.truncated ? t('drop.tooMany', { count: MAX_FILES_PER_DROP }) : null}
        </p>
      ) : null}
    </section>
  );
}
