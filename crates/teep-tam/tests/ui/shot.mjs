import { chromium } from 'playwright-core';
import { readFileSync } from 'node:fs';
const base = 'http://127.0.0.1:18499';
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: ['--headless', '--no-sandbox', '--disable-gpu'] });
const page = await browser.newPage({ viewport: { width: 1300, height: 1800 } });
await page.goto(`${base}/ui/login`);
await page.fill('#token', 'shot-token-123');
await page.click('#login button[type=submit]');
await page.goto(`${base}/ui/devices/1`);
const s = page.locator('details.session').first();
await s.locator('> summary').click();
const u = s.locator('details.msg[data-message="Update"]');
await u.locator('> summary').click();
for (const n of ['message', 'options', 'manifest-list', '0', 'decoded', 'manifest', 'common']) {
  const c = u.locator(`details.node[data-name="${n}"]:not([open]) > summary:visible`).first();
  if (await c.count()) await c.click();
}
await page.screenshot({ path: '/work/target-ui/shot-device.png', fullPage: false });
await page.goto(`${base}/ui/inspect`);
await page.fill('#inspect-hex', readFileSync('/work/shared/interop/captured/libteep_03_success.cbor').toString('hex'));
await page.click('#inspect button[type=submit]');
await page.screenshot({ path: '/work/target-ui/shot-inspect.png', fullPage: false });
await page.goto(`${base}/ui/tcs/1`);
await page.screenshot({ path: '/work/target-ui/shot-tc.png', fullPage: false });
await browser.close();
