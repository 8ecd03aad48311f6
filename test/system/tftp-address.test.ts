// TFTP answers from the address a request came to. The server's namespace has two addresses on
// one link (10.61.0.1/24, and 10.62.0.1/24 that the client reaches through it); a reply to the
// client routed the usual way would leave from 10.61.0.1 whatever was asked. The real service
// (kickstand serve, tftp.host 0.0.0.0) is asked at each address by a raw client that records
// where every OACK and DATA came from, and by curl; an address added while it runs is picked up
// (bind-dynamic) and one removed stops being listened on.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensurePackages, isRoot } from './lib/apt.ts';
import { createNetns, ip, linkNetns, type Netns } from './lib/netns.ts';
import { probeFrom, startTftpService, type TftpService } from './lib/tftp-service.ts';

const CI = process.env.CI === 'true';

describe('tftp replies come from the address asked', { skip: isRoot() || CI ? false : 'needs root for namespaces' }, () => {
  let server: Netns;
  let client: Netns;
  let svc: TftpService;
  let serverIf = '';
  const file = randomBytes(300_000);

  before(async () => {
    ensurePackages(['curl', 'iproute2']);
    server = createNetns('ks-ta-');
    client = createNetns('ks-tb-');
    const link = linkNetns(server, '10.61.0.1/24', client, '10.61.0.2/24');
    serverIf = link.aIf;
    ip('-n', server.name, 'addr', 'add', '10.62.0.1/24', 'dev', serverIf);
    ip('-n', client.name, 'route', 'add', '10.62.0.0/24', 'via', '10.61.0.1');
    ip('-n', client.name, 'route', 'add', '10.63.0.0/24', 'via', '10.61.0.1');
    svc = await startTftpService(server, { TFTP__HOST: '0.0.0.0' });
    writeFileSync(join(svc.root, 'boot.bin'), file);
  });

  after(() => {
    svc?.stop();
    client?.cleanup();
    server?.cleanup();
  });

  for (const [asked, options] of [
    ['10.61.0.1', {}],
    ['10.62.0.1', {}],
    ['10.62.0.1', { blksize: '1468', tsize: '0' }],
  ] as const) {
    test(`asked at ${asked}${Object.keys(options).length ? ' with options' : ''}: every reply comes from ${asked}`, () => {
      const r = probeFrom(client, asked, 'boot.bin', options);
      assert.equal(r.error, null, JSON.stringify(r));
      assert.equal(r.bytes, file.length);
      const wrong = r.replies.filter((x) => x.from !== asked);
      assert.deepEqual(wrong, [], `replies from elsewhere: ${JSON.stringify(wrong.slice(0, 3))}`);
      assert.ok(r.replies.some((x) => x.opcode === 3), 'DATA seen');
    });
  }

  test('curl fetches the file from the second address', () => {
    const out = client.exec('sh', ['-c', 'curl -s -f --max-time 30 tftp://10.62.0.1/boot.bin | sha256sum']);
    assert.equal(out.split(' ')[0], createHash('sha256').update(file).digest('hex'));
  });

  test('an address added while running is listened on within a refresh, and a removed one is dropped', async () => {
    ip('-n', server.name, 'addr', 'add', '10.63.0.1/24', 'dev', serverIf);
    const deadline = Date.now() + 15_000;
    while (!/new address 10\.63\.0\.1/.test(svc.log())) {
      assert.ok(Date.now() < deadline, `10.63.0.1 never listened on:\n${svc.log().slice(-2000)}`);
      await new Promise((r) => setTimeout(r, 250));
    }
    const r = probeFrom(client, '10.63.0.1', 'boot.bin', { blksize: '1468' });
    assert.equal(r.error, null);
    assert.deepEqual(r.replies.filter((x) => x.from !== '10.63.0.1'), []);
    ip('-n', server.name, 'addr', 'del', '10.63.0.1/24', 'dev', serverIf);
    while (!/10\.63\.0\.1 is gone/.test(svc.log())) {
      assert.ok(Date.now() < deadline + 15_000, 'removal never noticed');
      await new Promise((r) => setTimeout(r, 250));
    }
  });
});
