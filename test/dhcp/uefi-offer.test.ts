// Offers to UEFI firmware with kickstand's own booter: EDK2's PXE (OVMF) treats an offer carrying
// option 60 "PXEClient" without a boot menu as one to confirm with a boot server on port 4011,
// which full mode does not run (OVMF said PXE-E16). So a full-mode offer to a UEFI PXE client
// carries the file and no option 60; ProxyDHCP, which answers on 4011, still sends "PXEClient";
// HTTP Boot gets "HTTPClient" either way; BIOS keeps "PXEClient" and its option 43.
import { test, describe, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { createDhcpBooter } from '../../server/boot/dhcp-booter.ts';
import { Opt } from '../../server/dhcp/options.ts';
import { arch, pxeVendor, request, startServer, uefiDiscover, UUID_OPT, type Harness } from './helpers.ts';
import { MsgType } from '../../server/dhcp/options.ts';

const booter = () => createDhcpBooter({ tftpServer: '127.0.0.1', httpBase: 'http://127.0.0.1:8080', ipxeChain: false, efiLoader: 'shim' }, { reservationFor: async () => null });

for (const mode of ['full', 'proxy'] as const) {
  describe(`${mode} mode with kickstand's booter`, () => {
    let h: Harness;
    before(async () => {
      h = await startServer({ mode, booter: booter() });
    });
    after(() => h.close());

    test(`UEFI PXE (7) is offered shimx64.efi ${mode === 'full' ? 'with no option 60' : 'with option 60 PXEClient'}`, async () => {
      await h.client.send(uefiDiscover('02:00:00:00:07:01', 7, false, 0x701), h.port);
      const offer = await h.client.next(0x701);
      assert.equal(offer.file, 'shimx64.efi');
      assert.equal(offer.options.string(Opt.VENDOR_CLASS), mode === 'full' ? null : 'PXEClient');
    });

    test('UEFI HTTP Boot (16) gets a URL and option 60 HTTPClient', async () => {
      await h.client.send(uefiDiscover('02:00:00:00:07:02', 0x10, true, 0x702), h.port);
      const offer = await h.client.next(0x702);
      assert.equal(offer.options.string(Opt.BOOTFILE) ?? offer.file, 'http://127.0.0.1:8080/boot/ipxe.efi');
      assert.equal(offer.options.string(Opt.VENDOR_CLASS), 'HTTPClient');
    });

    test('BIOS PXE keeps option 60 PXEClient and option 43', async () => {
      await h.client.send(request(MsgType.DISCOVER, { mac: '02:00:00:00:07:03', xid: 0x703, options: [[Opt.CLIENT_ARCH, arch(0)], [Opt.VENDOR_CLASS, pxeVendor(0)], [Opt.CLIENT_UUID, UUID_OPT]] }), h.port);
      const offer = await h.client.next(0x703);
      assert.equal(offer.file, 'pxelinux.0');
      assert.equal(offer.options.string(Opt.VENDOR_CLASS), 'PXEClient');
      assert.deepEqual([...offer.options.get(Opt.VENDOR_SPECIFIC)!], [6, 1, 8, 255]);
    });
  });
}
