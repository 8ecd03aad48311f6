// The IPMI driver against a stand-in ipmitool: the command lines it runs (lanplus, the password
// only in IPMI_PASSWORD with -E, bootdev pxe once, options=efiboot for UEFI), cycle of a machine
// that is off, and errors that name the BMC, quote ipmitool and never the secret.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { PowerError } from '../../server/errors.ts';
import { ipmiDriver } from '../../server/power/ipmi.ts';
import type { PowerTarget } from '../../server/power/types.ts';
import { StandinTools } from './standin-tool.ts';

const SECRET = 'pa$$ w0rd;`reboot`';
const target = (o: Partial<PowerTarget> = {}): PowerTarget => ({
  system: 'node1', driver: 'ipmi', address: '10.0.0.5', user: 'admin', secret: SECRET, port: 6230, domain: null, uefi: false, boot: 'network', configDir: '/etc/xen', ...o,
});

describe('ipmi driver', () => {
  const tools = new StandinTools();
  after(() => tools.cleanup());

  test('status runs ipmitool lanplus with the password in IPMI_PASSWORD only, and reads the state', async () => {
    tools.reset();
    const exe = tools.tool('ipmitool', [{ match: ['chassis', 'power', 'status'], stdout: 'Chassis Power is on\n' }]);
    assert.equal(await ipmiDriver(target(), { command: exe }).status(), 'on');
    const [c] = tools.calls();
    assert.deepEqual(c!.argv, ['-I', 'lanplus', '-H', '10.0.0.5', '-p', '6230', '-N', '2', '-R', '2', '-U', 'admin', '-E', 'chassis', 'power', 'status']);
    assert.equal(c!.env.IPMI_PASSWORD, SECRET);
    assert.ok(!c!.argv.some((a) => a.includes('w0rd')), 'the secret is not on the command line');
  });

  test('cycle of a machine that is off powers it on; of one that is on, power cycle', async () => {
    tools.reset();
    let exe = tools.tool('ipmitool', [{ match: ['status'], stdout: 'Chassis Power is off\n' }, { match: ['on'], stdout: 'Chassis Power Control: Up/On\n' }]);
    await ipmiDriver(target(), { command: exe }).cycle();
    assert.deepEqual(tools.calls().map((c) => c.argv.slice(-3).join(' ')), ['chassis power status', 'chassis power on']);
    tools.reset();
    exe = tools.tool('ipmitool', [{ match: ['status'], stdout: 'Chassis Power is on\n' }, { match: ['cycle'], stdout: 'Chassis Power Control: Cycle\n' }]);
    await ipmiDriver(target(), { command: exe }).cycle();
    assert.deepEqual(tools.calls().map((c) => c.argv.slice(-3).join(' ')), ['chassis power status', 'chassis power cycle']);
  });

  test('next boot: bootdev pxe (once), options=efiboot for UEFI, cdrom for the CD route', async () => {
    tools.reset();
    const exe = tools.tool('ipmitool', [{ match: ['bootdev'], stdout: 'Set Boot Device to pxe\n' }]);
    await ipmiDriver(target(), { command: exe }).setNextBoot('network');
    await ipmiDriver(target({ uefi: true }), { command: exe }).setNextBoot('network');
    await ipmiDriver(target(), { command: exe }).setNextBoot('cd');
    assert.deepEqual(tools.calls().map((c) => c.argv.slice(13).join(' ')), ['chassis bootdev pxe', 'chassis bootdev pxe options=efiboot', 'chassis bootdev cdrom']);
    assert.ok(tools.calls().every((c) => !c.argv.includes('persistent')), 'never persistent: the next boot only');
  });

  test('a failure is a PowerError naming the BMC with ipmitool\'s words and the secret scrubbed', async () => {
    tools.reset();
    const exe = tools.tool('ipmitool', [{ match: ['status'], stderr: `Unable to establish IPMI v2 / RMCP+ session (password ${SECRET})\n`, code: 1 }]);
    await assert.rejects(ipmiDriver(target(), { command: exe }).status(), (e: unknown) => {
      assert.ok(e instanceof PowerError);
      assert.match(e.message, /^ipmi 10\.0\.0\.5:6230: Unable to establish IPMI v2 \/ RMCP\+ session/);
      assert.ok(!e.message.includes(SECRET), e.message);
      assert.match(e.message, /\[redacted\]/);
      return true;
    });
  });

  test('an answer it cannot read, a missing ipmitool and a hung one are clear errors', async () => {
    const exe = tools.tool('ipmitool', [{ match: ['status'], stdout: 'Chassis Power is sideways\n' }]);
    await assert.rejects(ipmiDriver(target(), { command: exe }).status(), /unexpected answer to chassis power status/);
    await assert.rejects(ipmiDriver(target(), { command: '/nonexistent/ipmitool' }).on(), /\/nonexistent\/ipmitool is not installed/);
    const slow = tools.tool('ipmitool', [{ match: ['on'], delayMs: 5000 }]);
    await assert.rejects(ipmiDriver(target(), { command: slow, commandTimeoutMs: 300 }).on(), /ipmi 10.0.0.5:6230: ipmitool gave no answer within 0.3 s/);
  });

  test('a target without a BMC address is refused before anything runs', () => {
    assert.throws(() => ipmiDriver(target({ address: null })), /has no BMC address/);
  });
});
