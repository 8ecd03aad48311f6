// The libvirt domain artifact: BIOS, UEFI and Secure Boot firmware as libvirt's autoselection
// takes them, the bus each disk name implies, the power driver's boot order (and its rewrite of
// the rendered XML), where the artifact does not apply, and values that cannot leave their XML
// attribute or element (refused at save, or escaped).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import Handlebars from 'handlebars';
import { NotFoundError, ProfileError, TemplateError } from '../../server/errors.ts';
import { applyOverrides } from '../../server/profiles/load.ts';
import { bootOrder, withBootOrder } from '../../server/power/libvirt-xml.ts';
import { artifactsFor } from '../../server/render/artifacts.ts';
import { checkTemplate } from '../../server/render/check.ts';
import { buildContext, type RenderContext } from '../../server/render/context.ts';
import { xmlText } from '../../server/render/helpers.ts';
import { busOf } from '../../server/render/libvirt.ts';
import { allProfiles, BASE, contextFor, fixedSystem, renderer, TOKEN } from './fixtures.ts';

/** Returns the context of a profile changed by overrides (armed, or built when built is set). */
function variant(name: string, over: Record<string, unknown>, o: { family?: 'el6' | 'el9'; built?: boolean } = {}): RenderContext {
  const { profiles, distros } = allProfiles();
  const profile = applyOverrides(profiles.get(name)!, over, 'test');
  const base = distros.get(profile.distro)!;
  const distro = o.family ? { ...base, family: o.family } : base;
  const system = o.built ? fixedSystem({ profile: name, build: false, token: null, state: 'built' }) : fixedSystem({ profile: name });
  return buildContext({ system, profile, distro, urls: { base: BASE }, token: o.built ? null : TOKEN });
}

/** Returns the one element of xml matching re, failing when there is none or several. */
function only(xml: string, re: RegExp): string {
  const all = xml.match(new RegExp(re.source, `g${re.flags}`)) ?? [];
  assert.equal(all.length, 1, `${re}: ${all.length} matches in\n${xml}`);
  return all[0]!;
}

describe('libvirt domain', async () => {
  const r = await renderer();

  test('BIOS (the notes guest): plain <os> on pc, no firmware, loader, nvram or SMM; hd* disks on IDE, the CD as hdc', () => {
    const xml = r.render('libvirt', contextFor('centos44-hvm'));
    assert.equal(only(xml, /^  <os[^>]*>/m), '  <os>');
    only(xml, /<type arch='x86_64' machine='pc'>hvm<\/type>/);
    for (const absent of ['<firmware', 'firmware=', '<loader', '<nvram', '<smm', 'q35']) assert.ok(!xml.includes(absent), absent);
    assert.deepEqual([...xml.matchAll(/<target dev='(\w+)' bus='(\w+)'\/>/g)].map((m) => `${m[1]}:${m[2]}`), ['hda:ide', 'hdb:ide', 'hdc:ide']);
    only(xml, /<name>NGTest-hvm<\/name>/);
    only(xml, /<memory unit='MiB'>512<\/memory>/);
    only(xml, /<vcpu>2<\/vcpu>/);
    only(xml, /<source file='\/var\/xen\/ngtest-hvm-hda\.img'\/>/);
    only(xml, /<mac address='00:16:3e:84:b5:99'\/>\n\s*<source bridge='xenbr0'\/>/);
    only(xml, /<graphics type='vnc' port='-1' autoport='yes' listen='127\.0\.0\.1'>/);
    only(xml, /<serial type='pty'>/);
  });

  test('UEFI: <os firmware=efi> on q35 with Secure Boot asked off, no loader path (libvirt picks OVMF); hd* go on SATA (q35 has no IDE)', () => {
    const xml = r.render('libvirt', variant('centos44-hvm', { firmware: 'uefi', alignment: '1MiB' }, { family: 'el6' }));
    assert.equal(only(xml, /^  <os[^>]*>/m), "  <os firmware='efi'>");
    only(xml, /<type arch='x86_64' machine='q35'>hvm<\/type>/);
    only(xml, /<firmware>\n\s*<feature enabled='no' name='secure-boot'\/>\n\s*<\/firmware>/);
    for (const absent of ['<loader', '<nvram', '<smm', "bus='ide'"]) assert.ok(!xml.includes(absent), absent);
    assert.deepEqual([...xml.matchAll(/<target dev='(\w+)' bus='(\w+)'\/>/g)].map((m) => `${m[1]}:${m[2]}`), ['hda:sata', 'hdb:sata', 'sdc:sata']);
    const virtio = r.render('libvirt', contextFor('uefi-kvm'));
    assert.deepEqual([...virtio.matchAll(/<target dev='(\w+)' bus='(\w+)'\/>/g)].map((m) => `${m[1]}:${m[2]}`), ['vda:virtio', 'vdb:virtio']);
    only(virtio, /<model type='virtio'\/>/);
  });

  test('Secure Boot: secure-boot and enrolled-keys features, <loader secure=yes>, SMM on, q35; no xl config (Xen has no Secure Boot)', () => {
    const ctx = contextFor('secure-kvm');
    const xml = r.render('libvirt', ctx);
    assert.equal(only(xml, /^  <os[^>]*>/m), "  <os firmware='efi'>");
    only(xml, /<type arch='x86_64' machine='q35'>hvm<\/type>/);
    only(xml, /<feature enabled='yes' name='secure-boot'\/>/);
    only(xml, /<feature enabled='yes' name='enrolled-keys'\/>/);
    only(xml, /<loader secure='yes'\/>/);
    only(xml, /<features>[\s\S]*<smm state='on'\/>[\s\S]*<\/features>/);
    assert.ok(!artifactsFor(ctx).includes('xl'));
    assert.throws(() => r.render('xl', ctx), (e: unknown) => e instanceof NotFoundError && /asks for Secure Boot; Xen's OVMF has none/.test(e.message));
    assert.ok(artifactsFor(contextFor('uefi-kvm')).includes('xl'), 'UEFI without Secure Boot keeps its xl config');
  });

  test('secure_boot is refused at load unless the profile boots uefi', () => {
    for (const firmware of ['bios', 'both']) {
      assert.throws(() => variant('uefi-kvm', { firmware, secure_boot: true }), (e: unknown) => e instanceof ProfileError && /secure_boot: Secure Boot needs firmware uefi/.test(e.message), firmware);
    }
  });

  test('disk names give the bus: hd* IDE (SATA on q35), sd* SATA, vd* virtio', () => {
    assert.deepEqual(['hda', 'sdb', 'vdc'].map((d) => busOf(d, 'pc')), ['ide', 'sata', 'virtio']);
    assert.deepEqual(['hda', 'sdb', 'vdc'].map((d) => busOf(d, 'q35')), ['sata', 'sata', 'virtio']);
    const sata = r.render('libvirt', variant('uefi-kvm', { firmware: 'bios', disks: { vda: null, vdb: null, sda: { size_mib: 4096, partitions: [{ role: 'root', fstype: 'xfs', mount: '/' }] } } }));
    assert.deepEqual([...sata.matchAll(/<target dev='(\w+)' bus='(\w+)'\/>/g)].map((m) => `${m[1]}:${m[2]}`), ['sda:sata']);
    const block = r.render('libvirt', variant('centos44-hvm', { xen: { disk_backend: 'phy', disk_dir: '/dev/vg0' } }));
    only(block, /<disk type='block' device='disk'>\n\s*<driver name='qemu' type='raw'\/>\n\s*<source dev='\/dev\/vg0\/ngtest-hvm-hda'\/>/);
  });

  test('boot order as the power driver writes it: network then disk while armed, the CD on the CD route, the disk once built; the driver can rewrite it', () => {
    const armed = r.render('libvirt', contextFor('centos44-hvm'));
    assert.deepEqual(bootOrder(armed), ['network', 'hd']);
    assert.deepEqual(bootOrder(r.render('libvirt', contextFor('centos44-hvm', { armed: false, system: { state: 'built' } }))), ['hd']);
    assert.deepEqual(bootOrder(r.render('libvirt', variant('centos44-hvm', { power: { boot: 'cd' } }))), ['cdrom', 'hd']);
    assert.deepEqual(bootOrder(r.render('libvirt', variant('uefi-kvm', { power: { boot: 'cd' } }))), ['network', 'hd'], 'no CD attached: the network');
    assert.deepEqual(bootOrder(r.render('libvirt', variant('uefi-kvm', {}, { built: true }))), ['hd']);
    const rewritten = withBootOrder(armed, ['hd'], 'test');
    assert.deepEqual(bootOrder(rewritten), ['hd']);
    assert.equal(rewritten.replace(/\n\s*<boot dev='hd'\/>/, ''), armed.replace(/\n\s*<boot dev='network'\/>\n\s*<boot dev='hd'\/>/, ''), 'only the boot elements change');
  });

  test('not applicable: a profile without a xen block, Xen PV disk names', () => {
    assert.throws(() => r.render('libvirt', contextFor('el9-kvm')), (e: unknown) => e instanceof NotFoundError && /has no xen block/.test(e.message));
    const xvd = variant('uefi-kvm', { disks: { vda: null, vdb: null, xvda: { size_mib: 4096, partitions: [{ role: 'root', fstype: 'xfs', mount: '/' }] } } });
    assert.throws(() => r.render('libvirt', xvd), (e: unknown) => e instanceof NotFoundError && /disk xvda is a Xen PV disk name/.test(e.message));
  });
});

describe('libvirt domain: hostile values', async () => {
  const r = await renderer();
  const HOSTILE = `x'"<>&;/><evil a='1'/>`;

  test('xmlText escapes the five markup characters and refuses control characters', () => {
    assert.equal(xmlText(`a'b"c<d>e&f`), 'a&apos;b&quot;c&lt;d&gt;e&amp;f');
    assert.equal(xmlText('&amp;'), '&amp;amp;', 'an entity is text, escaped again');
    for (const v of ['a\nb', 'a\x00b', 'a\x1bb']) assert.throws(() => xmlText(v), TemplateError);
  });

  test('a value with quotes and markup stays inside its attribute or element: only the escaped value differs from a benign render', () => {
    const ctx = contextFor('secure-kvm');
    const lv = ctx.libvirt!;
    const benign = r.render('libvirt', ctx);
    // Past validation (a second line of defence): every string the template writes made hostile.
    const evil = {
      ...ctx,
      libvirt: {
        ...lv, name: HOSTILE, nic: { ...lv.nic, bridge: HOSTILE }, vnc: { listen: lv.vnc!.listen, password: HOSTILE },
        disks: lv.disks.map((d) => ({ ...d, source: HOSTILE })), cdrom: { ...lv.cdrom!, source: HOSTILE },
      },
    } as RenderContext;
    const xml = r.render('libvirt', evil);
    assert.ok(!xml.includes('<evil'), 'no element of the value');
    // Written out, not computed with xmlText: a broken escaper must not grade itself.
    const escaped = 'x&apos;&quot;&lt;&gt;&amp;;/&gt;&lt;evil a=&apos;1&apos;/&gt;';
    const back = xml
      .replace(`<name>${escaped}</name>`, `<name>${lv.name}</name>`)
      .replace(`bridge='${escaped}'`, `bridge='${lv.nic.bridge}'`)
      .replace(`passwd='${escaped}'`, "passwd='a&lt;b&amp;c&gt;d'")
      .replace(`<source file='${escaped}'/>`, `<source file='${lv.disks[0]!.source}'/>`)
      .replace(`<source file='${escaped}'/>`, `<source file='${lv.cdrom!.source}'/>`);
    assert.equal(back, benign);
    assert.throws(() => r.render('libvirt', { ...ctx, libvirt: { ...lv, name: 'a\nb' } } as RenderContext), /\{\{xml\}\}.*control character/);
  });

  test('at save: a VNC password with a quote is refused (as for xl), one with <, > and & is escaped in passwd', () => {
    assert.throws(() => variant('uefi-kvm', { xen: { vnc: { password: "a'b" } } }), ProfileError);
    assert.throws(() => variant('uefi-kvm', { xen: { bridge: "br'0" } }), ProfileError);
    only(r.render('libvirt', contextFor('secure-kvm')), /passwd='a&lt;b&amp;c&gt;d'/);
    assert.throws(() => buildContext({ system: fixedSystem({ displayName: "NGTest'<x>" }), profile: allProfiles().profiles.get('uefi-kvm')!, distro: allProfiles().distros.get('rocky-9-x86_64')!, urls: { base: BASE }, token: TOKEN }), /system\.displayName/);
  });

  test('the template checker refuses a bare value in a libvirt template', () => {
    const bad = Handlebars.parse("<name>{{libvirt.name}}</name>\n");
    assert.throws(() => checkTemplate(bad, 'libvirt/bad.xml.hbs', 'xml', new Map()), /outputs a value without a xml quoting helper \(xml, num\)/);
    assert.throws(() => checkTemplate(Handlebars.parse('<name>{{{libvirt.name}}}</name>\n'), 'libvirt/bad.xml.hbs', 'xml', new Map()), TemplateError);
    assert.throws(() => checkTemplate(Handlebars.parse('<name>{{xl libvirt.name}}</name>\n'), 'libvirt/bad.xml.hbs', 'xml', new Map()), TemplateError);
  });
});
