// Seals power secrets before they reach the store: AES-256-GCM under a key kept in a file only
// the service user can read (mode 0600, created on first use). The database, its backups and the
// API never hold a readable BMC password.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { chmodSync, readFileSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { ConfigError, PowerError } from '../errors.ts';

const VERSION = 'v1';
const KEY_BYTES = 32;

/** Seals and opens secrets with one key file. */
export class SecretBox {
  private key: Buffer | null = null;

  constructor(private readonly keyFile: string) {}

  /** Returns the key, creating the file (0600) when it does not exist yet. */
  private loadKey(): Buffer {
    if (this.key) return this.key;
    let key: Buffer;
    try {
      key = readFileSync(this.keyFile);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new ConfigError(`power secrets key ${this.keyFile}: ${(err as Error).message}`);
      mkdirSync(dirname(this.keyFile), { recursive: true, mode: 0o700 });
      try {
        writeFileSync(this.keyFile, randomBytes(KEY_BYTES), { mode: 0o600, flag: 'wx' });
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e; // another process made it first
      }
      key = readFileSync(this.keyFile);
    }
    if (key.length !== KEY_BYTES) throw new ConfigError(`power secrets key ${this.keyFile}: expected ${KEY_BYTES} bytes, found ${key.length}`);
    if ((statSync(this.keyFile).mode & 0o077) !== 0) chmodSync(this.keyFile, 0o600);
    this.key = key;
    return key;
  }

  /** Returns the secret sealed: `v1:<iv>:<tag>:<ciphertext>`, base64url. */
  seal(plain: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.loadKey(), iv);
    const ct = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
    return [VERSION, iv.toString('base64url'), cipher.getAuthTag().toString('base64url'), ct.toString('base64url')].join(':');
  }

  /** Returns the plain secret; PowerError when it was sealed under another key or altered. */
  open(sealed: string): string {
    const [v, iv, tag, ct] = sealed.split(':');
    if (v !== VERSION || !iv || !tag || ct === undefined) throw new PowerError('the stored power secret is not in a known format; set it again');
    try {
      const d = createDecipheriv('aes-256-gcm', this.loadKey(), Buffer.from(iv, 'base64url'));
      d.setAuthTag(Buffer.from(tag, 'base64url'));
      return Buffer.concat([d.update(Buffer.from(ct, 'base64url')), d.final()]).toString('utf8');
    } catch {
      throw new PowerError(`the stored power secret cannot be opened with ${this.keyFile} (was the key replaced?); set the secret again`);
    }
  }
}
