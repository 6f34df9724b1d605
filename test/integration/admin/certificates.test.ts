// /routes and the status page list the certificate each terminate route is served with: here a
// self-signed stand-in, generated at start-up because no certificate covers the route's name.
import t from 'tap';
import { processStatus } from '../../../src/admin/status.js';
import { testConfig, withEdge } from '../../helpers/edge.js';

t.test('a terminate route without a certificate shows its self-signed stand-in', async (t) => {
  const edge = await withEdge(
    t,
    testConfig({ routes: [{ host: 'shop.example', target: '[::1]:8080', tls: 'terminate' }] }),
  );
  const status = processStatus(edge.app, null);
  t.equal(status.certificates.length, 1);
  t.match(status.certificates[0], { names: ['shop.example'], generated: true, problem: null });
  t.ok(
    edge.logs.records.some((r) => typeof r.msg === 'string' && /self-signed/i.test(r.msg)),
    'the stand-in is announced with a warning',
  );
});
