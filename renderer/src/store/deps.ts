// What the store needs from its surroundings, passed in so the slices run unchanged in
// the window and in the node tests (with a fake bridge and fake object URLs).
import type { KotaroBridge } from '../../../electron/contract/bridge';

export interface PreviewUrls {
  /** A URL that shows the file at once (URL.createObjectURL in the window). */
  create(file: File): string | null;
  revoke(url: string): void;
}

export interface StoreDeps {
  bridge: KotaroBridge;
  previews: PreviewUrls;
  /** navigator.language in the window. */
  systemLocale: string;
}

export interface ErrorInfo {
  code: string;
  message: string;
}
