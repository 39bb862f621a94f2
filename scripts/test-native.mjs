// Builds the engine's C++ tools and tests (CPU backend; CUDA sources still compile when nvcc
// is present, so a CUDA syntax error fails CI) and runs them with ctest.
//   KOTARO_NO_CUDA=1  skip compiling the CUDA sources
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const buildDir = join(root, 'build', 'native-tests');
const jobs = String(Number(process.env.KOTARO_BUILD_JOBS) || 2);
const hasNinja = spawnSync('ninja', ['--version']).status === 0;
const fixtures = process.env.KOTARO_FIXTURES ?? join(root, '..', 'shared', 'fixtures');

function run(cmd, args, env = {}) {
  console.log(`$ ${cmd} ${args.join(' ')}`);
  const r = spawnSync(cmd, args, { stdio: 'inherit', cwd: root, env: { ...process.env, ...env } });
  if (r.status !== 0) process.exit(r.status ?? 1);
}

run('cmake', ['-S', 'native', '-B', buildDir, ...(hasNinja ? ['-G', 'Ninja'] : []), '-DCMAKE_BUILD_TYPE=Release',
  ...(process.env.KOTARO_NO_CUDA ? ['-DKOTARO_WITH_CUDA=OFF'] : [])]);
run('cmake', ['--build', buildDir, '--parallel', jobs]);
run('ctest', ['--test-dir', buildDir, '--output-on-failure', '--timeout', '900'], { KOTARO_FIXTURES: fixtures });
