// Reads a password: from a file, from standard input when it is not a terminal, or from a hidden prompt.
import { readFileSync } from 'node:fs';

export async function readPassword(opts: { file?: string; prompt: string; confirm?: boolean }): Promise<string> {
  if (opts.file) return firstLine(readFileSync(opts.file, 'utf8'));
  if (!process.stdin.isTTY) return firstLine(await readAll(process.stdin));
  const first = await promptHidden(opts.prompt);
  if (opts.confirm) {
    const again = await promptHidden('Again: ');
    if (again !== first) throw new Error('passwords do not match');
  }
  return first;
}

function firstLine(s: string): string {
  const line = s.split(/\r?\n/)[0] ?? '';
  if (!line) throw new Error('empty password');
  return line;
}

async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(Buffer.isBuffer(c) ? c : Buffer.from(String(c)));
  return Buffer.concat(chunks).toString('utf8');
}

/** A terminal prompt that does not echo what is typed. */
function promptHidden(prompt: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const stdin = process.stdin;
    // Echo off before the prompt appears, so that input typed right after it is never shown.
    stdin.setRawMode(true);
    process.stdout.write(prompt);
    stdin.resume();
    stdin.setEncoding('utf8');
    let value = '';
    const onData = (ch: string): void => {
      for (const c of ch) {
        if (c === '\r' || c === '\n') {
          done();
          resolve(value);
          return;
        }
        if (c === '\u0003') {
          done();
          reject(new Error('interrupted'));
          return;
        }
        if (c === '\u007f' || c === '\b') value = value.slice(0, -1);
        else value += c;
      }
    };
    const done = (): void => {
      stdin.off('data', onData);
      stdin.setRawMode(false);
      stdin.pause();
      process.stdout.write('\n');
    };
    stdin.on('data', onData);
  });
}
