// React access to the store: the provider holds the one store; useKotaro selects from it.
import { createContext, useContext, type ReactNode } from 'react';
import { useStore } from 'zustand';
import type { KotaroState, KotaroStore } from './index';

const StoreContext = createContext<KotaroStore | null>(null);

export function StoreProvider({ store, children }: { store: KotaroStore; children: ReactNode }) {
  return <StoreContext.Provider value={store}>{children}</StoreContext.Provider>;
}

export function useKotaroStore(): KotaroStore {
  const store = useContext(StoreContext);
  if (!store) throw new Error('useKotaro outside <StoreProvider>');
  return store;
}

/** Select narrowly (one field, or useShallow for derived objects) to avoid re-renders. */
export function useKotaro<T>(selector: (state: KotaroState) => T): T {
  return useStore(useKotaroStore(), selector);
}
