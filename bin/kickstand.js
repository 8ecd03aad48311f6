#!/usr/bin/env node
// Runs the TypeScript CLI through tsx so the installed `kickstand` command needs no build step.
import { register } from 'tsx/esm/api';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

register();
const here = dirname(fileURLToPath(import.meta.url));
await import(join(here, '..', 'server', 'cli', 'main.ts'));
