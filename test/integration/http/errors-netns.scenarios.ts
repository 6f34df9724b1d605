// Run by errors-netns.test.ts inside a private network namespace (`unshare -rn`) that it set up with:
//   2001:db8:dead::/48 → a veth whose peer drops every frame (a SYN there is never answered)
//   2001:db8:bad::/48  → an `unreachable` route (EHOSTUNREACH at once)
// Not a *.test.ts file: run on the host it would dial the host's networks.
import t from 'tap';
import { request } from 'undici';
import { withEdge } from '../../helpers/edge.js';
import { httpConfig } from './backends.js';

if (process.env.EDGE46_HTTP_NETNS !== '1') {
  t.plan(0, 'only inside the namespace errors-netns.test.ts creates');
  process.exit(0);
}

const edge = await withEdge(
  t,
  httpConfig({
    timeouts: { connectMs: 300 },
    backends: { allow: ['2001:db8::/32'], deny: [] },
    routes: [
      { host: 'hole.example', target: '[2001:db8:dead::1]:80' },
      { host: 'unreachable.example', target: '[2001:db8:bad::1]:80' },
    ],
  }),
);

async function get(host: string) {
  const res = await request(`http://127.0.0.1:${edge.port()}/`, { headers: { host } });
  return { status: res.statusCode, body: await res.body.text() };
}

t.test('a black-holed backend address → 504 EDGE_CONNECT_TIMEOUT after timeouts.connectMs', async (t) => {
  t.match(await get('hole.example'), { status: 504, body: /^504 Gateway Timeout\nEDGE_CONNECT_TIMEOUT\n$/ });
  t.match(await edge.logs.waitFor((r) => r.msg === 'request' && r.code === 'EDGE_CONNECT_TIMEOUT'), {
    status: 504,
    outcome: 'connect_failed',
    reason: /connect timed out after 300 ms: \[2001:db8:dead::1\]:80 timeout/,
  });
});

t.test('an unreachable backend address → 502 EDGE_CONNECT_FAILED at once', async (t) => {
  t.match(await get('unreachable.example'), { status: 502, body: /EDGE_CONNECT_FAILED/ });
  t.match(await edge.logs.waitFor((r) => r.msg === 'request' && r.code === 'EDGE_CONNECT_FAILED'), {
    status: 502,
    reason: /\[2001:db8:bad::1\]:80 EHOSTUNREACH/,
  });
});
