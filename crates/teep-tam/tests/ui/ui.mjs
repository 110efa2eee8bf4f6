// End-to-end check of the TAM web UI in headless Chromium.
// usage: node ui.mjs BASE_URL ADMIN_TOKEN PHASE TA_FILE DEVICE_KID_PREFIX
//   phase "setup": log in, upload a TA, assign it to all devices, see the device listed
//   phase "check": log in, see the device holding the TA, open its page and the exchange log
import { chromium } from 'playwright-core';

const [base, token, phase, taFile, kid] = process.argv.slice(2);
const executablePath = process.env.TEEP_TEST_CHROMIUM || '/usr/bin/chromium';

function assert(cond, msg) {
  if (!cond) throw new Error(`assertion failed: ${msg}`);
}

const browser = await chromium.launch({
  executablePath,
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
         '--disable-component-update', '--disable-sync'],
});
try {
  const page = await browser.newPage();
  await page.goto(`${base}/ui`);
  assert(page.url().endsWith('/ui/login'), `not redirected to login: ${page.url()}`);
  await page.fill('#token', 'wrong-token');
  await page.click('#login button[type=submit]');
  assert((await page.textContent('#flash')).includes('Wrong token'), 'wrong token accepted');
  await page.fill('#token', token);
  await page.click('#login button[type=submit]');
  await page.waitForSelector('#catalog');

  if (phase === 'setup') {
    await page.setInputFiles('#upload-file', taFile);
    await page.fill('#upload-name', 'browser-ta');
    await page.check('#kind-ta');
    await page.click('#upload button[type=submit]');
    await page.waitForSelector('#flash');
    const flash = await page.textContent('#flash');
    assert(flash.includes('Added browser-ta'), `upload: ${flash}`);
    assert((await page.textContent('#catalog')).includes('browser-ta'), 'catalog lacks the TA');
    const value = await page.locator('#assign-tc option', { hasText: 'browser-ta' }).first().getAttribute('value');
    await page.selectOption('#assign-tc', value);
    await page.fill('#assign-target', 'all');
    await page.click('#assign button[type=submit]');
    await page.waitForSelector('#flash');
    assert((await page.textContent('#flash')).includes('Assigned'), 'assign failed');
    assert((await page.textContent('#assignments')).includes('all'), 'assignment not listed');
    assert((await page.textContent('#devices')).includes(kid), `device ${kid} not listed`);
  } else if (phase === 'check') {
    const row = page.locator('#devices tr.device', { hasText: kid });
    assert(await row.count() === 1, 'device row missing');
    const installed = await row.locator('td.installed').textContent();
    assert(installed.includes('#1'), `device does not hold the TA: ${installed}`);
    await row.locator('a').first().click();
    await page.waitForSelector('#device-json');
    const json = JSON.parse(await page.textContent('#device-json'));
    assert(json.installed.length === 1 && json.status === 'attested', `device page: ${JSON.stringify(json)}`);
    await page.goto(`${base}/ui/log`);
    assert((await page.textContent('#log')).includes('QueryResponse'), 'exchange log empty');
  } else {
    throw new Error(`unknown phase ${phase}`);
  }
  console.log(`ui ${phase}: ok`);
} finally {
  await browser.close();
}
