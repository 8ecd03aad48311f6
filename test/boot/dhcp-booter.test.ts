import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { captureLogger } from '../../server/log.ts';
import { chooseBoot, createDhcpBooter, planBoot, type DhcpBooterConfig } from '../../server/boot/dhcp-booter.ts';
import type { DhcpClientInfo } from '../../server/dhcp/client-info.ts';

const config: DhcpBooterConfig = { tftpServer: '10.0.0.1', httpBase: 'http://10.0.0.1:8080/', ipxeChain: false };

function client(over: Partial<DhcpClientInfo>): DhcpClientInfo {
  return { mac: 'aa:bb:cc:dd:ee:ff', arch: null, vendorClass: null, userClass: [], isPxe: false, isHttpClient: false, isIpxe: false, uuid: null, hostname: null, relay: null, ...over };
}

describe('boot file by client', () => {
  test('BIOS PXE gets pxelinux.0 from the TFTP server', () => {
    assert.deepEqual(chooseBoot(config, client({ arch: 0, isPxe: true })), { bootFile: 'pxelinux.0', nextServer: '10.0.0.1' });
  });

  test('BIOS PXE gets undionly.kpxe when configured to chain into iPXE', () => {
    assert.equal(chooseBoot({ ...config, ipxeChain: true }, client({ arch: 0, isPxe: true }))?.bootFile, 'undionly.kpxe');
  });

  test('EFI x64 (7 and 9) get the configured loader: ipxe.efi, snponly.efi, shimx64.efi (Secure Boot) or grubx64.efi', () => {
    for (const arch of [7, 9]) assert.equal(chooseBoot(config, client({ arch, isPxe: true }))?.bootFile, 'ipxe.efi');
    const by = (efiLoader: DhcpBooterConfig['efiLoader']) => chooseBoot({ ...config, efiLoader }, client({ arch: 7, isPxe: true }))?.bootFile;
    assert.deepEqual([by('snponly'), by('shim'), by('grub')], ['snponly.efi', 'shimx64.efi', 'grubx64.efi']);
    assert.equal(chooseBoot(config, client({ arch: 6, isPxe: true }))?.bootFile, 'ipxe.efi');
    assert.equal(chooseBoot({ ...config, files: { efi32: 'ipxe32.efi' } }, client({ arch: 6, isPxe: true }))?.bootFile, 'ipxe32.efi');
  });

  test('UEFI HTTP Boot clients (x64 16, ARM64 19) get a full URL under /boot/ and option 60 HTTPClient, no TFTP server', () => {
    assert.deepEqual(chooseBoot(config, client({ arch: 0x10, isHttpClient: true })), { bootFile: 'http://10.0.0.1:8080/boot/ipxe.efi', vendorClass: 'HTTPClient' });
    assert.equal(chooseBoot({ ...config, efiLoader: 'snponly' }, client({ arch: 0x10, isHttpClient: true }))?.bootFile, 'http://10.0.0.1:8080/boot/snponly.efi');
    assert.deepEqual(chooseBoot(config, client({ arch: 0x13, isHttpClient: true })), { bootFile: 'http://10.0.0.1:8080/boot/grubaa64.efi', vendorClass: 'HTTPClient' });
  });

  test('ARM64 UEFI (11) gets Debian\'s signed GRUB network image, or shim when the loader is shim', () => {
    assert.equal(chooseBoot(config, client({ arch: 0x0b, isPxe: true }))?.bootFile, 'grubaa64.efi');
    assert.equal(chooseBoot({ ...config, efiLoader: 'shim' }, client({ arch: 0x0b, isPxe: true }))?.bootFile, 'shimaa64.efi');
  });

  test('a client already running iPXE gets the HTTP script URL, never the iPXE binary again', () => {
    for (const arch of [0, 7, 9]) {
      const a = chooseBoot({ ...config, ipxeChain: true }, client({ arch, isPxe: true, isIpxe: true }));
      assert.equal(a?.bootFile, 'http://10.0.0.1:8080/boot.ipxe?mac=aa:bb:cc:dd:ee:ff');
    }
    const custom = chooseBoot({ ...config, ipxeScriptPath: 'ipxe/{mac}' }, client({ isIpxe: true }));
    assert.equal(custom?.bootFile, 'http://10.0.0.1:8080/ipxe/aa:bb:cc:dd:ee:ff');
  });

  test('ipxeClients pxe sends iPXE ROMs down the plain PXE path, except where that path is iPXE itself', () => {
    const pxe = { ...config, ipxeClients: 'pxe' as const };
    assert.deepEqual(chooseBoot(pxe, client({ arch: 0, isPxe: true, isIpxe: true })), { bootFile: 'pxelinux.0', nextServer: '10.0.0.1' });
    assert.equal(chooseBoot({ ...pxe, efiLoader: 'shim' }, client({ arch: 7, isPxe: true, isIpxe: true }))?.bootFile, 'shimx64.efi');
    // undionly.kpxe and ipxe.efi would start iPXE again: the script, as without the setting.
    assert.match(chooseBoot({ ...pxe, ipxeChain: true }, client({ arch: 0, isPxe: true, isIpxe: true }))!.bootFile, /^http:\/\/10\.0\.0\.1:8080\/boot\.ipxe/);
    assert.match(chooseBoot(pxe, client({ arch: 7, isPxe: true, isIpxe: true }))!.bootFile, /^http:\/\/10\.0\.0\.1:8080\/boot\.ipxe/);
  });

  test('a plain DHCP client (no option 93) gets the BIOS file; an unknown architecture gets none', () => {
    assert.equal(chooseBoot(config, client({}))?.bootFile, 'pxelinux.0');
    assert.equal(chooseBoot(config, client({ arch: 0x1c, isPxe: true })), null);
    assert.equal(planBoot(config, client({ arch: 0x1c, isPxe: true })), null);
  });

  test('a file this host lacks is no answer: planBoot names it', () => {
    const has = (n: string) => n !== 'grubaa64.efi';
    assert.deepEqual(planBoot(config, client({ arch: 0x0b, isPxe: true }), has), { missing: 'grubaa64.efi' });
    assert.deepEqual(planBoot(config, client({ arch: 0x13, isHttpClient: true }), has), { missing: 'grubaa64.efi' });
    assert.equal(chooseBoot(config, client({ arch: 0x0b, isPxe: true }), has), null);
  });
});

describe('createDhcpBooter', () => {
  test('looks reservations up through the injected lookup and passes pxe events on', async () => {
    const seen: string[] = [];
    const booter = createDhcpBooter(config, {
      reservationFor: async (mac) => (mac === 'aa:bb:cc:dd:ee:ff' ? { ip: '10.0.0.50', hostname: 'guest1' } : null),
      onPxe: (c, a) => seen.push(`${c.mac} ${a.bootFile}`),
    });
    assert.deepEqual(await booter.reservationFor('aa:bb:cc:dd:ee:ff'), { ip: '10.0.0.50', hostname: 'guest1' });
    assert.equal(await booter.reservationFor('00:00:00:00:00:01'), null);
    const answer = await booter.bootFor(client({ arch: 0, isPxe: true }));
    booter.onPxe?.(client({}), answer!);
    assert.deepEqual(seen, ['aa:bb:cc:dd:ee:ff pxelinux.0']);
  });

  test('a client whose loader is missing gets no offer and one log line naming the package, again only after the interval', async () => {
    const { log, lines } = captureLogger('debug');
    let now = 1_000;
    const booter = createDhcpBooter(config, {
      reservationFor: async () => null,
      loaders: { has: (n) => n !== 'grubaa64.efi', packageOf: (n) => (n === 'grubaa64.efi' ? 'grub-efi-arm64-signed' : null) },
      log,
      clock: () => now,
      missingLogIntervalMs: 60_000,
    });
    const arm = client({ arch: 0x0b, isPxe: true });
    for (let i = 0; i < 5; i++) assert.equal(await booter.bootFor(arm), null);
    assert.equal((await booter.bootFor(client({ arch: 7, isPxe: true })))?.bootFile, 'ipxe.efi');
    const warned = () => lines().filter((l) => l.level === 40);
    assert.equal(warned().length, 1);
    assert.equal(warned()[0]!.msg, 'no boot offer for ARM64 UEFI clients (arch 11): grubaa64.efi is not on this host; install the Debian package grub-efi-arm64-signed');
    now += 60_000;
    await booter.bootFor(arm);
    assert.equal(warned().length, 2);
  });
});
