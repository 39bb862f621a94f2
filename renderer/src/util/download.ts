// Saves text as a file through the browser's download (works in Electron and on `kotaro serve`).
export function downloadText(filename: string, content: string, mime: string): void {
  const blob = new Blob([content], { type: mime });
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = filename;
  a.rel = 'noopener';
  document.body.appendChild(a);
  a.click();
  a.remove();
  // The download has started by the next task; the URL is no longer needed.
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

export function mimeFor(format: 'json' | 'csv'): string {
  return format === 'json' ? 'application/json' : 'text/csv;charset=utf-8';
}
