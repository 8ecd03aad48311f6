// Real TFTP clients against kickstand's TFTP server on 127.0.0.1: tftp-hpa, atftp (with blksize
// and windowsize), curl and the npm `tftp` client, fetching files from a directory and a file
// generated in memory; every download is compared by sha256.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensurePackages, skipUnlessRoot } from './lib/apt.ts';
import { bufferSource } from '../../server/byte-source.ts';
import { openUnder } from '../../server/boot/file-roots.ts';
import { silentLogger } from '../../server/log.ts';
import { TftpServer, type TransferSummary } from '../../server/tftp/index.ts';

/** The part of the npm `tftp` client (no types shipped) this test uses. */
interface NpmTftpClient {
  get(remote: string, local: string, cb: (err?: Error | null) => void): void;
}
const npmTftp = createRequire(import.meta.url)('tftp') as {
  createClient(o: { host: string; port: number; blockSize?: number; windowSize?: number; retries?: number; timeout?: number }): NpmTftpClient;
};

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** Runs a command without blocking the event loop (the server runs in this process). */
function run(cmd: string, args: string[], timeoutMs = 60_000): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: timeoutMs, encoding: 'utf8' }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

describe('tftp server with real clients', { skip: skipUnlessRoot('needs root to install Debian packages') }, () => {
  let dir: string;
  let out: string;
  let server: TftpServer;
  let port: number;
  const files: Record<string, Buffer> = {};
  const unfinished: TransferSummary[] = [];
  const generated = Buffer.from(Array.from({ length: 40_000 }, (_, i) => `LABEL entry-${i}\n`).join(''));

  before(async () => {
    ensurePackages(['tftp-hpa', 'atftp', 'curl']);
    dir = await mkdtemp(join(tmpdir(), 'ks-tftp-sys-'));
    out = join(dir, 'out');
    await mkdir(join(dir, 'root', 'boot'), { recursive: true });
    await mkdir(out);
    files['boot/big.bin'] = randomBytes(5 * 1024 * 1024 + 123);
    files['exact.bin'] = randomBytes(1468 * 512);
    files['hello.txt'] = Buffer.from('hello\nworld\n\nthird line\n');
    for (const [name, data] of Object.entries(files)) await writeFile(join(dir, 'root', name), data);
    server = new TftpServer({
      host: '127.0.0.1',
      port: 0,
      log: silentLogger(),
      handler: async (req) => (req.filename === 'generated/menu' ? bufferSource(generated) : openUnder([join(dir, 'root')], req.filename)),
    });
    server.on('transfer', (t: TransferSummary) => {
      if (t.outcome !== 'completed') unfinished.push(t);
    });
    port = (await server.listen()).port;
  });

  after(async () => {
    await server?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const expect = (name: string) => (name === 'generated/menu' ? generated : files[name]);
  let n = 0;
  const local = () => join(out, `f${n++}`);

  for (const name of ['boot/big.bin', 'generated/menu', 'exact.bin']) {
    test(`tftp-hpa fetches ${name} byte for byte`, async () => {
      const dest = local();
      const r = await run('tftp', ['-m', 'binary', '127.0.0.1', String(port), '-c', 'get', name, dest]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(sha(await readFile(dest)), sha(expect(name)));
    });

    test(`atftp with blksize 1468, windowsize 16 and tsize fetches ${name} byte for byte`, async () => {
      const dest = local();
      const r = await run('atftp', ['-g', '-r', name, '-l', dest, '--option', 'blksize 1468', '--option', 'windowsize 16', '--option', 'tsize 0', '127.0.0.1', String(port)]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(sha(await readFile(dest)), sha(expect(name)));
    });

    test(`curl with blksize 1468 fetches ${name} byte for byte`, async () => {
      const dest = local();
      const r = await run('curl', ['-sS', '--tftp-blksize', '1468', '-o', dest, `tftp://127.0.0.1:${port}/${name}`]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(sha(await readFile(dest)), sha(expect(name)));
    });

    test(`the npm tftp client (blksize 1468, windowsize 16) fetches ${name} byte for byte`, async () => {
      const dest = local();
      const client = npmTftp.createClient({ host: '127.0.0.1', port, blockSize: 1468, windowSize: 16 });
      await new Promise<void>((resolve, reject) => client.get(name, dest, (err) => (err ? reject(err) : resolve())));
      assert.equal(sha(await readFile(dest)), sha(expect(name)));
    });
  }

  test('atftp without options (RFC 1350 lock-step, 512-byte blocks) fetches a file byte for byte', async () => {
    const dest = local();
    const r = await run('atftp', ['-g', '-r', 'boot/big.bin', '-l', dest, '127.0.0.1', String(port)]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(sha(await readFile(dest)), sha(files['boot/big.bin']));
  });

  test('curl with its default options fetches a file byte for byte', async () => {
    const dest = local();
    const r = await run('curl', ['-sS', '-o', dest, `tftp://127.0.0.1:${port}/generated/menu`]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(sha(await readFile(dest)), sha(generated));
  });

  test('tftp-hpa in ascii mode gets the text back as written (netascii both ways)', async () => {
    const dest = local();
    const r = await run('tftp', ['-m', 'ascii', '127.0.0.1', String(port), '-c', 'get', 'hello.txt', dest]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal((await readFile(dest)).toString(), files['hello.txt'].toString());
  });

  test('curl reports a missing file as TFTP "file not found" (exit 68)', async () => {
    const r = await run('curl', ['-sS', '-o', local(), `tftp://127.0.0.1:${port}/no/such/file`]);
    assert.equal(r.code, 68, r.stderr);
  });

  test('a path escaping the root is not served to curl', async () => {
    const r = await run('curl', ['-sS', '--path-as-is', '-o', local(), `tftp://127.0.0.1:${port}/../out/f0`]);
    assert.equal(r.code, 68, r.stderr);
  });

  test('the server counted completed transfers and no failures', () => {
    const s = server.stats();
    assert.ok(s.transfersCompleted >= 15, `completed ${s.transfersCompleted}`);
    assert.equal(s.transfersFailed, 0, JSON.stringify(unfinished));
  });
});
