// Fills a SQLite store with armed systems the way `kickstand system import` does before the server
// starts (its own connection, closed after): for the in-process probes that read them back cold.
import { Lifecycle } from '../../server/boot/lifecycle.ts';
import { silentLogger } from '../../server/log.ts';
import { openSqliteStore } from '../../server/store/sqlite.ts';
import { benchMac } from './kickstand.ts';

/** Creates n armed centos44-hvm systems named `${prefix}-00000`… with MACs from benchMac(macBase); returns their tokens in order. */
export async function armSystems(file: string, n: number, prefix: string, macBase: number): Promise<string[]> {
  const setup = openSqliteStore(file);
  const life = new Lifecycle({ store: setup, log: silentLogger() });
  const tokens: string[] = [];
  for (let i = 0; i < n; i++) {
    const name = `${prefix}-${String(i).padStart(5, '0')}`;
    await setup.createSystem({ name, macs: [benchMac(macBase + i)], hostname: name, profile: 'centos44-hvm' }, Date.now());
    tokens.push((await life.arm(name, null)).token!);
  }
  await setup.close();
  return tokens;
}
