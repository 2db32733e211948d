/**
 * A real headless Chromium (Debian's `chromium`) driven by playwright-core,
 * run INSIDE a test network namespace: it reaches a netprobe listening on
 * that namespace's loopback, and has no route to anything else. The browser
 * is started through a small wrapper (`ip netns exec <ns> chromium ...`);
 * playwright talks to it over the inherited pipe, not the network. Flags
 * turn off Chromium's own background calls (updates, sync, safe browsing).
 */
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext } from 'playwright-core';
import type { Netns } from './netns.js';

export const CHROMIUM = '/usr/bin/chromium';

const FLAGS = [
  '--headless=new',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--no-first-run',
  '--disable-sync',
  '--disable-default-apps',
  '--disable-extensions',
  '--metrics-recording-only',
  '--no-default-browser-check',
  '--font-render-hinting=none',
];

export interface NetnsBrowser {
  browser: Browser;
  /** A fresh context (its own storage) with this colour scheme and a fixed viewport. */
  newContext(colorScheme: 'light' | 'dark'): Promise<BrowserContext>;
  /** Closes the browser and removes its wrapper and profile directory. Idempotent. */
  close(): Promise<void>;
}

/** Whether Chromium is installed (the test profile of scripts/install.sh installs it). */
export function haveChromium(): boolean {
  return existsSync(CHROMIUM);
}

export async function launchBrowserIn(ns: Netns): Promise<NetnsBrowser> {
  const dir = await mkdtemp(join(tmpdir(), 'np-browser-'));
  const wrapper = join(dir, 'chromium-in-netns');
  // playwright passes its own temporary profile; HOME (caches, crash dumps) is `dir`, removed on close.
  await writeFile(wrapper, `#!/bin/sh\nexec ip netns exec '${ns.name}' ${CHROMIUM} "$@"\n`);
  await chmod(wrapper, 0o700);
  let browser: Browser;
  try {
    browser = await chromium.launch({ executablePath: wrapper, args: FLAGS, timeout: 60_000, env: { ...process.env, HOME: dir } });
  } catch (e) {
    await rm(dir, { recursive: true, force: true });
    throw e;
  }
  let closed = false;
  return {
    browser,
    newContext: (colorScheme) => browser.newContext({ colorScheme, viewport: { width: 1280, height: 900 }, deviceScaleFactor: 1 }),
    close: async () => {
      if (closed) return;
      closed = true;
      await browser.close().catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
    },
  };
}
