#!/usr/bin/env node
// The `kotaro` command. Runs the compiled CLI (npm run build:ts writes dist/).
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { dirname, join } from 'node:path';

const entry = join(dirname(fileURLToPath(import.meta.url)), '..', 'dist', 'electron', 'cli', 'index.js');
if (!existsSync(entry)) {
  console.error('kotaro: not built yet; run `npm run build` in the package folder');
  process.exit(1);
}
const { main } = await import(pathToFileURL(entry).href);
process.exitCode = await main(process.argv.slice(2));
