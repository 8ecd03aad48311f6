// A fake power driver factory for unit tests: each target's machine is a little state record
// (power, next boot, the calls made), and a machine can be told to fail like a BMC that is down.
import { PowerError } from '../../server/errors.ts';
import type { DriverFactory } from '../../server/power/drivers.ts';
import type { BootDevice, PowerDriver, PowerState, PowerTarget } from '../../server/power/types.ts';

/** One fake machine. */
export interface FakeMachine {
  state: PowerState;
  nextBoot: BootDevice | null;
  calls: string[];
  /** When set, every call fails with this message. */
  fail: string | null;
  /** The targets drivers were made for (secrets included, to prove what reached the driver). */
  targets: PowerTarget[];
}

/** Returns a driver factory over fake machines, and the machines by system name. */
export function fakePower(): { factory: DriverFactory; machine(name: string): FakeMachine } {
  const machines = new Map<string, FakeMachine>();
  const machine = (name: string) => {
    let m = machines.get(name);
    if (!m) machines.set(name, (m = { state: 'off', nextBoot: null, calls: [], fail: null, targets: [] }));
    return m;
  };
  const factory: DriverFactory = (t) => {
    const m = machine(t.system);
    m.targets.push(t);
    const step = async (call: string) => {
      m.calls.push(call);
      if (m.fail) throw new PowerError(`${t.driver} ${t.address ?? 'local'}: ${m.fail}`);
    };
    const d: PowerDriver = {
      name: t.driver,
      async status() {
        await step('status');
        return m.state;
      },
      async on() {
        await step('on');
        m.state = 'on';
      },
      async off() {
        await step('off');
        m.state = 'off';
      },
      async cycle() {
        await step('cycle');
        m.state = 'on';
      },
      async setNextBoot(device) {
        await step(`next-boot ${device}`);
        m.nextBoot = device;
      },
      async installDone() {
        await step('install-done');
        m.nextBoot = null;
      },
    };
    return d;
  };
  return { factory, machine };
}
