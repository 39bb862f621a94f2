// The translate function for the current interface language (re-renders on a change).
import { useMemo } from 'react';
import { useKotaro } from '../store/react';
import { selectLanguage } from '../store/ui-slice';
import { translator, type Language, type Translate } from './index';

export function useLanguage(): Language {
  return useKotaro(selectLanguage);
}

export function useT(): Translate {
  const language = useLanguage();
  return useMemo(() => translator(language), [language]);
}
