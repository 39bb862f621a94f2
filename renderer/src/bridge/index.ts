// The renderer's one door to the host: Electron's preload bridge when present, else the
// WebSocket bridge of `kotaro serve` (token taken from the page URL).
import type { KotaroBridge } from '../../../electron/contract/bridge';
import { createWebSocketBridge } from './ws-bridge';

declare global {
  interface Window {
    kotaro?: KotaroBridge;
  }
}

let bridge: KotaroBridge | null = null;

export function getBridge(): KotaroBridge {
  if (bridge) return bridge;
  if (window.kotaro) {
    bridge = window.kotaro;
  } else {
    const token = new URLSearchParams(window.location.search).get('token') ?? '';
    const scheme = window.location.protocol === 'https:' ? 'wss' : 'ws';
    bridge = createWebSocketBridge(
      `${scheme}://${window.location.host}/bridge?token=${encodeURIComponent(token)}`,
      `${window.location.origin}/upload?token=${encodeURIComponent(token)}`,
    );
  }
  return bridge;
}
