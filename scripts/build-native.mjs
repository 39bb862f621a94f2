// Builds the engine addon (native/) with cmake-js into build/native-addon and copies it to
// build/Release/kotaro_engine.node, where gpu-worker/engine-binding.ts looks for it.
// Runs on `npm ci` (the package's install script) and on `npm run build:native`.
//   --force    rebuild even when the addon is up to date
//   --release  the release set of CUDA architectures (sm_75 … sm_120 + PTX)
//   --debug    a debug build
// Node-API headers come from the node-api-headers package: nothing is downloaded.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, copyFileSync, statSync, readdirSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = new Set(process.argv.slice(2));
const outDir = join(root, 'build', 'native-addon');
const target = join(root, 'build', 'Release', 'kotaro_engine.node');

function newestMtime(dir) {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestMtime(p));
    else newest = Math.max(newest, statSync(p).mtimeMs);
  }
  return newest;
}

if (!args.has('--force') && existsSync(target) && statSync(target).mtimeMs > newestMtime(join(root, 'native'))) {
  console.log('kotaro: native addon is up to date');
  process.exit(0);
}

const require = createRequire(import.meta.url);
const cmakeJs = require.resolve('cmake-js/bin/cmake-js');
const hasNinja = spawnSync('ninja', ['--version']).status === 0;
const cmakeArgs = [
  cmakeJs, 'compile',
  '--directory', join(root, 'native'),
  '--out', outDir,
  ...(hasNinja ? ['--generator', 'Ninja'] : []),
  ...(args.has('--debug') ? ['--debug'] : []),
  // The addon build needs no tools or tests (npm run test:native builds those).
  '--CDKOTARO_BUILD_TOOLS=OFF',
  ...(args.has('--release') ? ['--CDKOTARO_RELEASE=ON'] : []),
  ...(process.env.KOTARO_NO_CUDA ? ['--CDKOTARO_WITH_CUDA=OFF'] : []),
  '--parallel', String(Number(process.env.KOTARO_BUILD_JOBS) || 2),
];
console.log('kotaro: building the native engine addon (cmake-js)…');
const result = spawnSync(process.execPath, cmakeArgs, { stdio: 'inherit', cwd: root });
if (result.status !== 0) {
  console.error('kotaro: the native addon failed to build. It needs cmake (>= 3.22) and a C++17 compiler;' +
    ' the CUDA backend additionally needs the CUDA toolkit (nvcc). See README.md → Development.');
  process.exit(result.status ?? 1);
}
const built = [join(outDir, 'Release', 'kotaro_engine.node'), join(outDir, 'Debug', 'kotaro_engine.node'),
  join(outDir, 'kotaro_engine.node')].find((p) => existsSync(p));
if (!built) {
  console.error(`kotaro: cmake-js finished but no kotaro_engine.node was found under ${outDir}`);
  process.exit(1);
}
mkdirSync(dirname(target), { recursive: true });
copyFileSync(built, target);
console.log(`kotaro: addon → ${target}`);
