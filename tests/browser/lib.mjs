// Launches Debian's Chromium for the browser tests, through playwright-core (which downloads no
// browser of its own). Headless, sandbox off (tests run as root in containers). Chromium resolves
// *.localhost to loopback by itself, so tenant hosts such as acme.localhost need no DNS.
import { chromium } from 'playwright-core';

export const CHROMIUM = process.env.TENANTGATE_CHROMIUM ?? '/usr/bin/chromium';

/** A headless Chromium; close it with `await browser.close()`. */
export async function launchBrowser() {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    // --no-proxy-server: loopback only, never through a proxy from the environment.
    args: ['--no-sandbox', '--no-proxy-server'],
  });
}

/**
 * A fresh context and page with a default timeout. The page records the main frame's last
 * document response in `page.lastDocument` (for the final status).
 */
export async function newPage(browser, { timeoutMs = 30_000 } = {}) {
  const context = await browser.newContext();
  const page = await context.newPage();
  page.setDefaultTimeout(timeoutMs);
  page.lastDocument = null;
  page.on('response', (response) => {
    const request = response.request();
    if (request.isNavigationRequest() && request.frame() === page.mainFrame()) {
      page.lastDocument = response;
    }
  });
  return page;
}

/** Prints one JSON line on stdout: the result a test reads (tests/harness/browser.rs). */
export function printResult(value) {
  process.stdout.write(`${JSON.stringify(value)}\n`);
}
