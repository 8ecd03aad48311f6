// A staging directory that becomes an initramfs (cpio newc, gzip) or a root tarball: files,
// busybox applet links, host binaries with the shared libraries ldd names, kernel modules.
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** Builds a root file system tree under dir (emptied first). */
export class RootTree {
  readonly dir: string;

  constructor(dir: string) {
    this.dir = dir;
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    for (const d of ['bin', 'sbin', 'usr/bin', 'usr/sbin', 'etc', 'proc', 'sys', 'dev', 'tmp', 'run', 'mnt', 'root']) {
      this.mkdir(d);
    }
  }

  /** Returns the host path of a path inside the tree. */
  path(p: string): string {
    return join(this.dir, p.replace(/^\/+/, ''));
  }

  /** Creates a directory (and its parents) inside the tree. */
  mkdir(p: string): void {
    mkdirSync(this.path(p), { recursive: true });
  }

  /** Copies a host file to dest inside the tree, following symlinks, with the given mode. */
  copy(src: string, dest: string, mode = 0o644): void {
    const to = this.path(dest);
    mkdirSync(dirname(to), { recursive: true });
    copyFileSync(src, to);
    chmodSync(to, mode);
  }

  /** Writes text to dest inside the tree. */
  write(dest: string, text: string, mode = 0o644): void {
    const to = this.path(dest);
    mkdirSync(dirname(to), { recursive: true });
    writeFileSync(to, text);
    chmodSync(to, mode);
  }

  /** Creates a character device node (the kernel opens /dev/console before /init mounts devtmpfs). */
  charDevice(dest: string, major: number, minor: number): void {
    const at = this.path(dest);
    if (existsSync(at)) return;
    execFileSync('mknod', ['-m', '600', at, 'c', String(major), String(minor)]);
  }

  /** Creates a symlink at dest pointing to target (unless something is there already). */
  link(target: string, dest: string): void {
    const at = this.path(dest);
    if (existsSync(at)) return;
    mkdirSync(dirname(at), { recursive: true });
    symlinkSync(target, at);
  }

  /**
   * Installs a static busybox at /bin/busybox and links its applets at their usual paths, except
   * the names in `skip` (real binaries take those).
   */
  busybox(binary: string, skip: ReadonlySet<string>): void {
    this.copy(binary, '/bin/busybox', 0o755);
    const list = execFileSync(binary, ['--list-full'], { encoding: 'utf8' }).split('\n').filter(Boolean);
    for (const applet of list) {
      const name = applet.slice(applet.lastIndexOf('/') + 1);
      if (skip.has(name) || name === 'busybox') continue;
      this.link('/bin/busybox', `/${applet}`);
    }
  }

  /** Copies a dynamically linked host binary to dest with every library ldd lists, at the same paths. */
  hostBinary(src: string, dest: string): void {
    this.copy(src, dest, 0o755);
    const r = spawnSync('ldd', [src], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`ldd ${JSON.stringify(src)} failed: ${r.stderr.trim()}`);
    for (const line of r.stdout.split('\n')) {
      const m = /(?:=>\s*)?(\/\S+)\s+\(0x/.exec(line);
      if (m && !existsSync(this.path(m[1]))) this.copy(m[1], m[1], 0o755);
    }
  }

  /** Packs the tree into a gzip-compressed cpio newc archive (an initramfs), owned by root, sorted. */
  packInitramfs(out: string): void {
    mkdirSync(dirname(out), { recursive: true });
    const cmd = 'find . -mindepth 1 -print0 | LC_ALL=C sort -z | cpio --null -o -H newc -R 0:0 --reproducible --quiet | gzip -9 -n > "$1"';
    execFileSync('sh', ['-c', cmd, 'pack', out], { cwd: this.dir, stdio: ['ignore', 'ignore', 'inherit'] });
  }

  /** Packs the tree into a gzip-compressed tar archive with root ownership. */
  packTarball(out: string): void {
    mkdirSync(dirname(out), { recursive: true });
    execFileSync('tar', ['--numeric-owner', '--owner=0', '--group=0', '--sort=name', '-czf', out, '-C', this.dir, '.'], {
      stdio: ['ignore', 'ignore', 'inherit'],
    });
  }
}
