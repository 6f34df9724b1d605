// The status page in a real browser: headless Chromium (Debian's chromium-headless-shell, which
// .ci/run installs) loads it from the admin server, and the test checks the DOM the browser built and
// the pixels it painted (the readiness badge in its colour, ready → draining). Skips without Chromium.
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inflateSync } from 'node:zlib';
import t from 'tap';
import { appAdminSource } from '../../../src/admin/app-source.js';
import { AdminServer } from '../../../src/admin/server.js';
import { Readiness } from '../../../src/lifecycle/readiness.js';
import { createLogger } from '../../../src/observe/logger.js';
import { testConfig, withEdge } from '../../helpers/edge.js';
import { askThrough } from '../../helpers/ops.js';
import { runCommand } from '../../helpers/process.js';

const BROWSER = ['chromium-headless-shell', 'chromium'].find(
  (cmd) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0,
);
const WIDTH = 1000;
const HEIGHT = 700;

async function browse(url: string, dir: string, mode: 'dom' | 'png'): Promise<string | Buffer> {
  const shot = join(dir, 'shot.png');
  const args = [
    '--headless',
    '--no-sandbox', // tests run as root in CI
    '--disable-gpu',
    '--hide-scrollbars',
    `--user-data-dir=${join(dir, 'profile')}`,
    `--window-size=${WIDTH},${HEIGHT}`,
    mode === 'dom' ? '--dump-dom' : `--screenshot=${shot}`,
    url,
  ];
  const result = await runCommand([BROWSER ?? 'chromium', ...args], { timeoutMs: 60_000 });
  if (result.code !== 0) throw new Error(`${BROWSER ?? 'chromium'} exited ${result.code}: ${result.stderr}`);
  return mode === 'dom' ? result.stdout : readFile(shot);
}

/** Decodes an 8-bit RGB or RGBA PNG into rows of RGB triples. */
function decodePng(png: Buffer): {
  width: number;
  height: number;
  pixel: (x: number, y: number) => number[];
} {
  if (!png.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])))
    throw new Error('not a PNG');
  let off = 8;
  let width = 0;
  let height = 0;
  let channels = 0;
  const idat: Buffer[] = [];
  while (off < png.length) {
    const length = png.readUInt32BE(off);
    const type = png.toString('latin1', off + 4, off + 8);
    const data = png.subarray(off + 8, off + 8 + length);
    if (type === 'IHDR') {
      width = data.readUInt32BE(0);
      height = data.readUInt32BE(4);
      const [depth, colour, , , interlace] = [data[8], data[9], data[10], data[11], data[12]];
      if (depth !== 8 || (colour !== 2 && colour !== 6) || interlace !== 0)
        throw new Error(`unsupported PNG (depth ${depth}, colour ${colour}, interlace ${interlace})`);
      channels = colour === 6 ? 4 : 3;
    } else if (type === 'IDAT') {
      idat.push(data);
    }
    off += 12 + length;
  }
  const raw = inflateSync(Buffer.concat(idat));
  const stride = width * channels;
  const out = Buffer.alloc(height * stride);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)];
    for (let i = 0; i < stride; i++) {
      const x = raw[y * (stride + 1) + 1 + i] ?? 0;
      const a = i >= channels ? (out[y * stride + i - channels] ?? 0) : 0;
      const b = y > 0 ? (out[(y - 1) * stride + i] ?? 0) : 0;
      const c = y > 0 && i >= channels ? (out[(y - 1) * stride + i - channels] ?? 0) : 0;
      let value: number;
      switch (filter) {
        case 0:
          value = x;
          break;
        case 1:
          value = x + a;
          break;
        case 2:
          value = x + b;
          break;
        case 3:
          value = x + ((a + b) >> 1);
          break;
        case 4: {
          const p = a + b - c;
          const pa = Math.abs(p - a);
          const pb = Math.abs(p - b);
          const pc = Math.abs(p - c);
          value = x + (pa <= pb && pa <= pc ? a : pb <= pc ? b : c);
          break;
        }
        default:
          throw new Error(`bad PNG filter ${String(filter)}`);
      }
      out[y * stride + i] = value & 0xff;
    }
  }
  return {
    width,
    height,
    pixel: (x, y) => [...out.subarray(y * stride + x * channels, y * stride + x * channels + 3)],
  };
}

function countColour(png: ReturnType<typeof decodePng>, rgb: readonly number[]): number {
  let n = 0;
  for (let y = 0; y < png.height; y++) {
    for (let x = 0; x < png.width; x++) {
      const p = png.pixel(x, y);
      if (p.every((v, i) => Math.abs(v - (rgb[i] ?? 0)) <= 2)) n++;
    }
  }
  return n;
}

t.test(
  'headless Chromium renders the status page',
  { skip: BROWSER === undefined ? 'no chromium installed' : false },
  async (t) => {
    const edge = await withEdge(t, testConfig({ routes: [{ host: 'static.example', target: '[::1]:9' }] }));
    const readiness = new Readiness();
    const admin = await AdminServer.start({
      address: '127.0.0.1:0',
      source: appAdminSource(edge.app, { readiness }),
      log: createLogger({ level: 'silent', format: 'json' }),
    });
    t.teardown(() => admin.close());
    const dir = await mkdtemp(join(tmpdir(), 'edge46-browser-'));
    t.teardown(() => rm(dir, { recursive: true, force: true }));
    const url = `http://127.0.0.1:${admin.address.port}/`;
    await askThrough(edge.port(), 'nope.example');
    await edge.logs.connection(0);

    const dom = String(await browse(url, dir, 'dom'));
    t.match(dom, /<h1>edge46 [^<]+ <span class="badge ok" id="state">ready<\/span><\/h1>/, 'parsed as HTML');
    t.match(dom, /<table id="listeners">.*<td>tls<\/td>/s, 'listeners table');
    t.match(dom, /<table id="routes">.*<code>static\.example<\/code>/s, 'routes table');
    t.match(
      dom,
      /<table id="errors">.*<code>EDGE_NO_ROUTE<\/code><\/td><td>nope\.example<\/td>/s,
      'last errors',
    );
    t.notMatch(dom, /<script/i);

    const ready = decodePng((await browse(url, dir, 'png')) as Buffer);
    t.same([ready.width, ready.height], [WIDTH, HEIGHT], 'screenshot size');
    t.ok(countColour(ready, [0x22, 0xaa, 0x77]) > 300, 'the green "ready" badge is painted');
    t.equal(countColour(ready, [0xdd, 0x88, 0x00]), 0, 'no draining badge');

    readiness.startDraining();
    const draining = decodePng((await browse(url, dir, 'png')) as Buffer);
    t.ok(countColour(draining, [0xdd, 0x88, 0x00]) > 300, 'the orange "draining" badge is painted');
    t.equal(countColour(draining, [0x22, 0xaa, 0x77]), 0, 'no ready badge');
  },
);
