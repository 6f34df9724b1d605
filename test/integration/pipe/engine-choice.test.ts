/**
 * pipe.engine: auto takes splice where the addon loads, js when asked; the choice is logged at start and
 * exported as edge46_pipe_engine_info; a passthrough pair's logged byte counts are the engine's own.
 */
import { once } from 'node:events';
import t from 'tap';
import { nativeLoadError, loadNative } from '../../../src/pipe/native.js';
import { choosePipeEngine } from '../../../src/pipe/choose.js';
import { testConfig, withEdge } from '../../helpers/edge.js';
import { connectTls, readLine, startTlsBackend } from '../../helpers/tls-backend.js';

const hasAddon = loadNative() !== null;

t.test('choosePipeEngine', (t) => {
  const js = choosePipeEngine({ engine: 'js', threads: 1 });
  t.equal(js.engine.name, 'js');
  t.equal(js.fallbackReason, null);
  js.close();
  const auto = choosePipeEngine({ engine: 'auto', threads: 2 });
  t.equal(auto.engine.name, hasAddon ? 'splice' : 'js');
  t.equal(auto.fallbackReason, hasAddon ? null : nativeLoadError());
  auto.close();
  if (hasAddon) {
    const splice = choosePipeEngine({ engine: 'splice', threads: 1 });
    t.equal(splice.engine.name, 'splice');
    splice.close();
  } else {
    t.throws(() => choosePipeEngine({ engine: 'splice', threads: 1 }), /pipe\.engine is splice but/);
  }
  t.end();
});

for (const engine of ['auto', 'js'] as const) {
  t.test(`pipe.engine ${engine}: logged, exported, byte counts from the engine`, async (t) => {
    const expected = engine === 'js' || !hasAddon ? 'js' : 'splice';
    const backend = await startTlsBackend(t, 'A');
    const edge = await withEdge(
      t,
      testConfig({ pipe: { engine }, routes: [{ host: 'web.example', target: `[::1]:${backend.port}` }] }),
    );
    t.match(await edge.logs.waitFor((r) => r.msg?.startsWith('edge46 started') === true), { pipe: expected });
    const text = await edge.app.metrics.text();
    t.match(text, `edge46_pipe_engine_info{engine="${expected}"} 1`);
    const client = connectTls(edge.port(), 'web.example');
    t.equal(await readLine(client), 'A web.example');
    client.write('x'.repeat(10_000) + '\n');
    t.equal((await readLine(client)).length, 10_000);
    client.end();
    await once(client, 'close');
    const log = await edge.logs.connection(0);
    t.match(log, { outcome: 'ok', end: 'done' });
    t.ok((log.bytesIn as number) > 10_000 && (log.bytesOut as number) > 10_000, 'bytes from the engine');
  });
}
