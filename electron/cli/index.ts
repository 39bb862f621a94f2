// The `kotaro` command line (package.json "bin"). Each subcommand lives in commands/.
import type { CliCommand } from './command.js';
import { serveCommand } from './commands/serve.js';
import { evalCommand } from './commands/eval.js';
import { convertCommand } from './commands/convert.js';
import { analyzeCommand } from './commands/analyze.js';

const commands: CliCommand[] = [serveCommand, evalCommand, convertCommand, analyzeCommand];

function help(): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  return [
    'usage: kotaro <command> [options]',
    '',
    ...commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    'kotaro <command> --help shows the options of one command.',
  ].join('\n');
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    console.log(help());
    return name ? 0 : 1;
  }
  const command = commands.find((c) => c.name === name);
  if (!command) {
    console.error(`kotaro: unknown command '${name}'\n\n${help()}`);
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    console.log(`usage: ${command.usage}\n\n${command.summary}`);
    return 0;
  }
  try {
    return await command.run(rest);
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    console.error(`kotaro ${name}: ${(error as Error).message}${typeof code === 'string' ? ` [${code}]` : ''}`);
    return 1;
  }
}
