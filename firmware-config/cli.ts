import { pathToFileURL } from 'node:url';
import { configCommand, type ConfigIo } from './commands.ts';

// npx tsx firmware-config/cli.ts <file...>   (npm run validate-config -- <file...>)
// The same as `greetwatch config check <file...>` (firmware-config/README.md "Commands").

export type CliIo = ConfigIo;

const stdio: CliIo = {
  out: (line) => process.stdout.write(line + '\n'),
  err: (line) => process.stderr.write(line + '\n'),
};

export function main(args: readonly string[], io: CliIo = stdio): Promise<number> {
  return configCommand(['check', ...args], io);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
