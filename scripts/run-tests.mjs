// Runs the tap suite and ends with the plain line CI reads: "N passed, N failed, N skipped".
// tap's own closing line ("# { total: N, pass: N, fail: N }") is translated; tap's exit code is kept.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';

const args = ['--reporter=tap', ...process.argv.slice(2)];
const child = spawn(process.execPath, ['node_modules/tap/dist/esm/run.mjs', ...args], {
  stdio: ['ignore', 'pipe', 'inherit'],
});
let summary = null;
const lines = createInterface({ input: child.stdout });
lines.on('line', (line) => {
  process.stdout.write(`${line}\n`);
  const match = /^# \{ (total: .*) \}$/.exec(line.trim());
  if (match) {
    summary = Object.fromEntries(
      match[1].split(',').map((part) => {
        const [key, value] = part.split(':').map((s) => s.trim());
        return [key, Number(value)];
      }),
    );
  }
});
child.on('close', (code, signal) => {
  const exit = code ?? (signal ? 1 : 0);
  if (summary === null) {
    console.log(`0 passed, ${exit === 0 ? 0 : 1} failed`);
  } else {
    const skipped = (summary.skip ?? 0) + (summary.todo ?? 0);
    console.log(
      `${summary.pass ?? 0} passed, ${summary.fail ?? 0} failed${skipped > 0 ? `, ${skipped} skipped` : ''}`,
    );
  }
  process.exit(exit);
});
