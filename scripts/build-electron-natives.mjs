// better-sqlite3 is a NAN addon: the copy in node_modules is built for plain Node (tests,
// `kotaro serve`) and cannot load in Electron's main process, which has another ABI. This
// builds a second copy for Electron into build/electron-natives/better_sqlite3.node (loaded
// through better-sqlite3's `nativeBinding` option, see electron/main.ts) and leaves
// node_modules untouched, so tests and the app can both run from one checkout.
// Our own engine addon is Node-API and loads in both without a rebuild.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, copyFileSync, readFileSync, rmSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const electronVersion = JSON.parse(readFileSync(require.resolve('electron/package.json'), 'utf8')).version;
const sourceDir = dirname(require.resolve('better-sqlite3/package.json'));
const outDir = join(root, 'build', 'electron-natives');
const target = join(outDir, 'better_sqlite3.node');
const stamp = join(outDir, `electron-${electronVersion}`);

if (existsSync(target) && existsSync(stamp) && statSync(target).mtimeMs > statSync(join(sourceDir, 'package.json')).mtimeMs) {
  console.log(`kotaro: better-sqlite3 for Electron ${electronVersion} is up to date`);
  process.exit(0);
}

const work = join(outDir, 'better-sqlite3');
rmSync(work, { recursive: true, force: true });
mkdirSync(outDir, { recursive: true });
cpSync(sourceDir, work, { recursive: true, filter: (p) => !p.includes(`${join('better-sqlite3', 'build')}`) });

// npm ships node-gyp; use that one (no extra dependency).
const npmCli = process.env.npm_execpath;
const candidates = [
  npmCli && join(dirname(npmCli), '..', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
  '/usr/lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js',
  '/usr/local/lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js',
].filter(Boolean);
const nodeGyp = candidates.find((p) => existsSync(p));
if (!nodeGyp) {
  console.error('kotaro: node-gyp not found (it ships with npm); cannot build better-sqlite3 for Electron');
  process.exit(1);
}
console.log(`kotaro: building better-sqlite3 for Electron ${electronVersion}…`);
const r = spawnSync(process.execPath, [nodeGyp, 'rebuild', '--release', `--target=${electronVersion}`, '--runtime=electron',
  '--dist-url=https://electronjs.org/headers', `--jobs=${process.env.KOTARO_BUILD_JOBS || 2}`], { cwd: work, stdio: 'inherit' });
if (r.status !== 0) process.exit(r.status ?? 1);
copyFileSync(join(work, 'build', 'Release', 'better_sqlite3.node'), target);
copyFileSync(target, stamp);
rmSync(work, { recursive: true, force: true });
console.log(`kotaro: → ${target}`);
