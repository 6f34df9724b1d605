// The process helper the e2e tests stand on: line waiting driven by output, exits, and stop by PID.
import t from 'tap';
import { descendants, isRunning, runChecked, runCommand, spawnProcess } from '../helpers/process.js';

const node = (script: string) => [process.execPath, '-e', script];

t.test('waitForLine and waitForJson see lines already printed and lines still to come', async (t) => {
  const child = spawnProcess(
    node(
      `console.log('plain'); console.log(JSON.stringify({ msg: 'listening', port: 1 }));
       process.stdin.resume(); setTimeout(() => console.log(JSON.stringify({ msg: 'later' })), 50);
       setInterval(() => {}, 1000);`,
    ),
    { t },
  );
  t.equal(await child.waitForLine((l) => l === 'plain', 5000), 'plain');
  t.same(await child.waitForJson((r) => r.msg === 'listening', 5000), { msg: 'listening', port: 1 });
  const from = child.stdout.length;
  t.same(await child.waitForJson((r) => r.msg === 'later', 5000, { from }), { msg: 'later' });
  t.same(
    child.jsonLines().map((r) => r.msg),
    ['listening', 'later'],
  );
  const exit = await child.stop();
  t.equal(exit.signal, 'SIGTERM');
});

t.test('waitForLine rejects when the process exits first, with its output', async (t) => {
  const child = spawnProcess(node(`console.error('boom'); process.exit(3)`), { name: 'failing' });
  await t.rejects(
    child.waitForLine(() => false, 5000),
    /failing exited \(code 3[\s\S]*boom/,
  );
  t.same(await child.exited, { code: 3, signal: null });
  await t.rejects(
    child.waitForLine(() => false, 5000),
    /already exited/,
  );
});

t.test('waitForLine times out with a bound', async (t) => {
  const child = spawnProcess(node(`console.log('ready'); setInterval(() => {}, 1000)`), { t });
  await child.waitForLine((l) => l === 'ready', 5000);
  await t.rejects(
    child.waitForLine((l) => l === 'never', 100),
    /no matching stdout line within 100 ms/,
  );
});

t.test('stop escalates to SIGKILL for a process that ignores SIGTERM', async (t) => {
  const child = spawnProcess(
    node(
      `process.on('SIGTERM', () => console.log('ignored')); console.log('ready'); setInterval(() => {}, 1000)`,
    ),
  );
  await child.waitForLine((l) => l === 'ready', 5000);
  const exit = await child.stop({ timeoutMs: 200 });
  t.equal(exit.signal, 'SIGKILL');
  t.ok(child.stdout.includes('ignored'));
  t.equal(await child.stop(), exit, 'stop after exit returns the same result');
});

t.test('the SIGKILL escalation takes the whole process tree, each by PID', async (t) => {
  const child = spawnProcess(['sh', '-c', 'trap "" TERM; sleep 600 & sleep 601 & echo ready; wait'], { t });
  await child.waitForLine((l) => l === 'ready', 5000);
  const tree = descendants(child.pid);
  t.equal(tree.length, 2, 'two sleeps below the shell');
  const exit = await child.stop({ timeoutMs: 200 });
  t.equal(exit.signal, 'SIGKILL');
  for (const pid of tree) t.notOk(isRunning(pid), `descendant ${pid} is gone`);
});

t.test('runCommand and runChecked', async (t) => {
  t.same(await runCommand(['sh', '-c', 'cat; echo err >&2; exit 4'], { input: 'in' }), {
    code: 4,
    stdout: 'in',
    stderr: 'err\n',
  });
  t.equal((await runCommand(['sleep', '5'], { timeoutMs: 100 })).code, 128 + 9);
  t.equal(await runChecked(['echo', 'ok']), 'ok\n');
  await t.rejects(runChecked(['sh', '-c', 'echo nope >&2; exit 1']), /exited 1: nope/);
});
