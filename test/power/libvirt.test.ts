// The libvirt driver against a stand-in virsh: domstate read as on/off, start/destroy/reset, and
// the install boot order written into the domain XML (dumpxml --inactive --security-info, define),
// after which a cycle is a cold start (destroy + start) so the new order takes effect.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { libvirtDriver } from '../../server/power/libvirt.ts';
import { bootOrder, withBootOrder } from '../../server/power/libvirt-xml.ts';
import type { PowerTarget } from '../../server/power/types.ts';
import { StandinTools } from './standin-tool.ts';

export const DOMAIN_XML = `<domain type='qemu'>
  <name>node1</name>
  <memory unit='KiB'>524288</memory>
  <os>
    <type arch='x86_64' machine='pc-i440fx-7.2'>hvm</type>
    <boot dev='hd'/>
  </os>
  <devices>
    <disk type='file' device='disk'><source file='/var/lib/libvirt/images/node1.img'/><target dev='hda' bus='ide'/></disk>
    <graphics type='vnc' port='-1' passwd='vncpw'/>
  </devices>
</domain>
`;

const target = (o: Partial<PowerTarget> = {}): PowerTarget => ({
  system: 'node1', driver: 'libvirt', address: 'qemu:///system', user: null, secret: null, port: null, domain: null, uefi: false, boot: 'network', configDir: '/etc/xen', ...o,
});

describe('libvirt domain XML boot order', () => {
  test('replaces the <os> boot devices and keeps everything else byte for byte', () => {
    const out = withBootOrder(DOMAIN_XML, ['network', 'hd'], 'x');
    assert.deepEqual(bootOrder(out), ['network', 'hd']);
    assert.equal(out.replace(/\s*<boot dev='[a-z]+'\/>/g, ''), DOMAIN_XML.replace(/\s*<boot dev='[a-z]+'\/>/g, ''));
    assert.match(out, /\n    <boot dev='network'\/>\n    <boot dev='hd'\/>\n  <\/os>/);
    assert.deepEqual(bootOrder(withBootOrder(out, ['hd'], 'x')), ['hd']);
  });

  test('an <os> without boot elements gets them; per-device boot order and a missing <os> are refused', () => {
    const bare = DOMAIN_XML.replace("    <boot dev='hd'/>\n", '');
    assert.deepEqual(bootOrder(withBootOrder(bare, ['cdrom', 'hd'], 'x')), ['cdrom', 'hd']);
    const perDevice = DOMAIN_XML.replace("<target dev='hda' bus='ide'/>", "<target dev='hda' bus='ide'/><boot order='1'/>");
    assert.throws(() => withBootOrder(perDevice, ['network'], 'libvirt x'), /orders boot per device/);
    assert.throws(() => withBootOrder('<domain/>', ['network'], 'libvirt x'), /has no <os> element/);
  });
});

describe('libvirt driver', () => {
  const tools = new StandinTools();
  after(() => tools.cleanup());

  test('status reads domstate; on and off start and destroy only when needed', async () => {
    tools.reset();
    let virsh = tools.tool('virsh', [{ match: ['domstate'], stdout: 'shut off\n\n' }]);
    const d = libvirtDriver(target({ domain: 'other-name' }), { command: virsh });
    assert.equal(await d.status(), 'off');
    await d.off();
    await d.on();
    assert.deepEqual(tools.calls().map((c) => c.argv.join(' ')), [
      '--quiet -c qemu:///system domstate --domain other-name',
      '--quiet -c qemu:///system domstate --domain other-name',
      '--quiet -c qemu:///system domstate --domain other-name',
      '--quiet -c qemu:///system start --domain other-name',
    ]);
    tools.reset();
    virsh = tools.tool('virsh', [{ match: ['domstate'], stdout: 'running\n' }]);
    const e = libvirtDriver(target(), { command: virsh });
    assert.equal(await e.status(), 'on');
    await e.cycle();
    await e.off();
    assert.deepEqual(tools.calls().map((c) => c.argv.slice(3).join(' ')), ['domstate --domain node1', 'domstate --domain node1', 'reset --domain node1', 'domstate --domain node1', 'destroy --domain node1']);
  });

  test('next boot defines the domain with network first, keeps the VNC password, and the cycle is destroy + start', async () => {
    tools.reset();
    const virsh = tools.tool('virsh', [
      { match: ['dumpxml'], stdout: DOMAIN_XML },
      { match: ['define'], stdout: 'Domain node1 defined\n' },
      { match: ['domstate'], stdout: 'running\n' },
    ]);
    const d = libvirtDriver(target(), { command: virsh });
    await d.setNextBoot('network');
    await d.cycle();
    const calls = tools.calls().map((c) => c.argv.slice(3));
    assert.deepEqual(calls[0], ['dumpxml', '--inactive', '--security-info', '--domain', 'node1']);
    assert.equal(calls[1]![0], 'define');
    assert.deepEqual(calls.slice(2).map((a) => a.join(' ')), ['domstate --domain node1', 'destroy --domain node1', 'start --domain node1']);
  });

  test('the defined XML boots network (or CD) then disk while armed and disk only once built; the file is removed', async () => {
    tools.reset();
    const virsh = tools.tool('virsh', [{ match: ['dumpxml'], stdout: DOMAIN_XML }, { match: ['define'], stdout: '' }]);
    const d = libvirtDriver(target(), { command: virsh });
    await d.setNextBoot('network');
    await d.setNextBoot('cd');
    await d.installDone();
    const defines = tools.calls().filter((c) => c.argv.includes('define'));
    const xml = defines.map((c) => Object.values(c.files)[0]!);
    assert.deepEqual(xml.map(bootOrder), [['network', 'hd'], ['cdrom', 'hd'], ['hd']]);
    assert.ok(xml.every((x) => x.includes("passwd='vncpw'")), 'the VNC password survives the redefine');
    assert.throws(() => readFileSync(defines[0]!.argv.at(-1)!), /ENOENT/, 'the temporary domain XML is removed after define');
  });

  test('a missing domain is a PowerError with virsh\'s words', async () => {
    const virsh = tools.tool('virsh', [{ match: ['domstate'], stderr: "error: failed to get domain 'node1'\n", code: 1 }]);
    await assert.rejects(libvirtDriver(target(), { command: virsh }).cycle(), /^PowerError: libvirt qemu:\/\/\/system domain node1: error: failed to get domain 'node1'$/);
  });
});
