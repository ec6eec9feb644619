// Headless Chromium for the browser tests: Debian's chromium, driven by playwright-core, with
// nothing fetched from the network. Screenshots and pages land in test-artifacts/.
import * as path from 'node:path';

export const CHROMIUM = '/usr/bin/chromium';
export const NBCONVERT = '/usr/bin/jupyter-nbconvert';
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--no-first-run',
];
export const ARTIFACTS = path.join(__dirname, '..', '..', '..', 'test-artifacts');
