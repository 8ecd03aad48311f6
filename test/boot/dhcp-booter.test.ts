import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { chooseBoot, createDhcpBooter, type DhcpBooterConfig } from '../../server/boot/dhcp-booter.ts';
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

  test('EFI x64 (7 and 9) and EFI IA32 (6) get ipxe.efi; IA32 follows its own setting', () => {
    for (const arch of [6, 7, 9]) assert.equal(chooseBoot(config, client({ arch, isPxe: true }))?.bootFile, 'ipxe.efi');
    assert.equal(chooseBoot({ ...config, files: { efi32: 'ipxe32.efi' } }, client({ arch: 6, isPxe: true }))?.bootFile, 'ipxe32.efi');
  });

  test('UEFI HTTP clients (0x10) get an HTTP URL and option 60 HTTPClient', () => {
    assert.deepEqual(chooseBoot(config, client({ arch: 0x10, isHttpClient: true })), { bootFile: 'http://10.0.0.1:8080/ipxe.efi', vendorClass: 'HTTPClient' });
  });

  test('a client already running iPXE gets the HTTP script URL, never the iPXE binary again', () => {
    for (const arch of [0, 7, 9]) {
      const a = chooseBoot({ ...config, ipxeChain: true }, client({ arch, isPxe: true, isIpxe: true }));
      assert.equal(a?.bootFile, 'http://10.0.0.1:8080/boot.ipxe?mac=aa:bb:cc:dd:ee:ff');
    }
    const custom = chooseBoot({ ...config, ipxeScriptPath: 'ipxe/{mac}' }, client({ isIpxe: true }));
    assert.equal(custom?.bootFile, 'http://10.0.0.1:8080/ipxe/aa:bb:cc:dd:ee:ff');
  });

  test('a plain DHCP client (no option 93) gets the BIOS file; an unknown architecture gets none', () => {
    assert.equal(chooseBoot(config, client({}))?.bootFile, 'pxelinux.0');
    assert.equal(chooseBoot(config, client({ arch: 0x0b, isPxe: true })), null);
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
});
