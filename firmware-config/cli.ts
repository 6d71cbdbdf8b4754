import { pathToFileURL } from 'node:url';
import { ConfigError, formatIssue, loadConfig } from './load.ts';

// npx tsx firmware-config/cli.ts <file...>   (npm run validate-config -- <file...>)
// Prints `file: ok (N nodes, M sensors, K buttons)` or one line per problem; exit 1 if any file is invalid.

export interface CliIo {
  out: (line: string) => void;
  err: (line: string) => void;
}

const stdio: CliIo = {
  out: (line) => process.stdout.write(line + '\n'),
  err: (line) => process.stderr.write(line + '\n'),
};

export function main(args: readonly string[], io: CliIo = stdio): number {
  if (args.length === 0 || args.includes('-h') || args.includes('--help')) {
    io.err('usage: validate-config <store-config.yaml|json> [...]');
    return args.length === 0 ? 2 : 0;
  }
  let failed = 0;
  for (const file of args) {
    try {
      const cfg = loadConfig(file, { onWarning: (w) => io.err(formatIssue(w)) });
      const sensors = cfg.nodes.reduce((n, node) => n + node.sensors.length, 0);
      const buttons = cfg.nodes.reduce((n, node) => n + node.buttons.length, 0);
      io.out(`${file}: ok (${cfg.nodes.length} nodes, ${sensors} sensors, ${buttons} buttons)`);
    } catch (err) {
      // config problems are the user's to fix: their lines, never a stack trace
      if (!(err instanceof ConfigError)) throw err;
      failed++;
      for (const line of err.message.split('\n')) io.err(line);
    }
  }
  return failed > 0 ? 1 : 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = main(process.argv.slice(2));
}
