// The render cache: one render per system state, served again by identity for the store's frozen
// reads, re-rendered when anything the output depends on changes or the templates reload.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Artifacts } from '../../server/boot/artifacts.ts';
import { silentLogger } from '../../server/log.ts';
import { ProfileRegistry } from '../../server/profiles/registry.ts';
import type { System } from '../../server/store/types.ts';
import { memoryStore } from '../fakes/memory-store.ts';
import { fakeRenderer } from '../fakes/renderer.ts';
import { PROFILES_DIR } from '../http/harness.ts';

async function setup() {
  const renderer = fakeRenderer();
  const artifacts = new Artifacts(new ProfileRegistry(PROFILES_DIR, silentLogger()), renderer);
  const store = memoryStore();
  await store.createSystem({ name: 'ng', macs: ['00:16:3e:84:b5:99'], profile: 'centos44-hvm' }, 1);
  const armed = Object.freeze({ ...(await store.getSystem('ng'))!, build: true, token: 'tok-1', run: 1, updatedAt: 2 }) as System;
  return { renderer, artifacts, armed };
}

test('a frozen system renders once per kind and base; bytes are the UTF-8 of the text', async () => {
  const { renderer, artifacts, armed } = await setup();
  const text = artifacts.render('kickstart', armed, 'http://10.0.0.1:8080');
  assert.match(text, /events http:\/\/10\.0\.0\.1:8080\/events\/tok-1/);
  assert.deepEqual(artifacts.renderBytes('kickstart', armed, 'http://10.0.0.1:8080'), Buffer.from(text, 'utf8'));
  assert.equal(artifacts.renderBytes('kickstart', armed, 'http://10.0.0.1:8080'), artifacts.renderBytes('kickstart', armed, 'http://10.0.0.1:8080'));
  assert.equal(renderer.calls, 1);
  assert.match(artifacts.render('kickstart', armed, 'http://kick:8080'), /http:\/\/kick:8080\/events\/tok-1/);
  assert.match(artifacts.render('install', armed, 'http://10.0.0.1:8080'), /^# install for ng/);
  assert.equal(renderer.calls, 3);
});

test('a changed system (new object: new token, disarmed) renders anew; the same state as a copy hits the key cache', async () => {
  const { renderer, artifacts, armed } = await setup();
  artifacts.render('pxelinux', armed, 'http://b');
  const rearmed = Object.freeze({ ...armed, token: 'tok-2', run: 2, updatedAt: 3 });
  assert.match(artifacts.render('pxelinux', rearmed, 'http://b'), /\/ks\/tok-2/);
  const built = Object.freeze({ ...rearmed, build: false, updatedAt: 4 });
  assert.equal(artifacts.render('pxelinux', built, 'http://b'), 'pxelinux localboot ng\n');
  assert.equal(renderer.calls, 3);
  assert.match(artifacts.render('pxelinux', { ...armed }, 'http://b'), /\/ks\/tok-1/);
  assert.equal(renderer.calls, 3, 'an unfrozen copy of a rendered state is found by its key');
});

test('invalidate (profiles or templates reloaded) re-renders even a system seen by identity', async () => {
  const { renderer, artifacts, armed } = await setup();
  artifacts.render('kickstart', armed, 'http://b');
  artifacts.invalidate();
  artifacts.render('kickstart', armed, 'http://b');
  assert.equal(renderer.calls, 2);
});

test('lifecycle fields alone (fetched, a step report) do not re-render; what the output reads does', async () => {
  const { renderer, artifacts, armed } = await setup();
  artifacts.render('kickstart', armed, 'http://b');
  // The first fetch moves the system to installing: same kickstart, found by its key.
  const installing = Object.freeze({ ...armed, state: 'installing', stage: 'kickstart', updatedAt: 5, lastEventAt: 5 }) as System;
  artifacts.render('kickstart', installing, 'http://b');
  assert.equal(renderer.calls, 1);
  for (const change of [{ hostname: 'other' }, { ip: '10.0.0.9' }, { macs: ['00:16:3e:84:b5:98'] }, { overrides: { timezone: 'UTC' } }, { displayName: 'NG' }, { state: 'built' }]) {
    artifacts.render('kickstart', Object.freeze({ ...installing, ...change }) as System, 'http://b');
  }
  assert.equal(renderer.calls, 7, 'each change of what the render reads renders anew');
  // The resolved profile is shared by systems with the same profile and overrides.
  assert.equal(artifacts.resolve(armed).profile, artifacts.resolve({ ...armed, name: 'other' }).profile);
});
