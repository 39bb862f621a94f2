// One subcommand of the `kotaro` command line.
export interface CliCommand {
  name: string;
  summary: string;
  usage: string;
  /** Resolves with the exit code. */
  run(argv: string[]): Promise<number>;
}
