// End-to-end check of the TAM web UI in headless Chromium.
// usage: node ui.mjs BASE_URL ADMIN_TOKEN PHASE TA_FILE DEVICE_KID_PREFIX [CAPTURED_MESSAGE]
//   phase "setup": log in, upload a TA, assign it to all devices, see the device listed
//   phase "check": log in, see the device holding the TA, open its page: read its hwmodel as
//     text and its last-seen as a date, open the session and expand its Update down to the
//     manifest's component name, open the TC's catalog page; then paste CAPTURED_MESSAGE as hex
//     into the inspector and see it named
import { readFileSync } from 'node:fs';
import { chromium } from 'playwright-core';

const [base, token, phase, taFile, kid, captured] = process.argv.slice(2);
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
    await page.waitForSelector('#device');

    // Claims decoded, times as dates.
    const hwmodel = (await page.textContent('#claims tr[data-claim=hwmodel] td.value')).trim();
    assert(hwmodel === 'sim-tee', `hwmodel not shown as text: ${hwmodel}`);
    const seen = (await page.textContent('#last-seen')).trim();
    assert(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}Z$/.test(seen), `last seen is not a date: ${seen}`);
    assert((await page.textContent('#device-status')).includes('attested'), 'status');
    const held = page.locator('#installed tr.tc', { hasText: 'browser-ta' });
    assert(await held.count() === 1, 'installed TC not listed by name');
    assert((await held.locator('td.tc-sequence').textContent()).trim() === '1', 'installed sequence');
    assert((await page.textContent('#next')).includes('No Update'), 'next step not explained');
    // The power users' record is still there.
    const json = JSON.parse(await page.textContent('#device-json'));
    assert(json.installed.length === 1 && json.status === 'attested', `device record: ${JSON.stringify(json)}`);

    // A session: QueryResponse -> Update -> Success; its Update opens down to the manifest's
    // component name, one named level at a time.
    const session = page.locator('details.session', { hasText: 'QueryResponse → Update → Success' }).first();
    await session.locator('> summary').click();
    const update = session.locator('details.msg[data-message="Update"]');
    assert(await update.count() === 1, 'the session has no Update');
    assert((await update.locator('> summary').textContent()).includes('TAM → Broker'), 'direction');
    await update.locator('> summary').click();
    // In the named tree, not the summary line (which names the component too).
    const name = update.locator('div.tree').getByText('SecureFS').first();
    for (let clicks = 0; clicks < 300 && !(await name.isVisible().catch(() => false)); clicks++) {
      const closed = update.locator('details.node:not([open]) > summary:visible').first();
      if (await closed.count() === 0) break;
      await closed.click();
    }
    assert(await name.isVisible(), 'the Update does not open to the component name SecureFS');
    const path = await name.evaluate((el) => {
      const names = [];
      for (let d = el.closest('details.node'); d; d = d.parentElement.closest('details.node')) names.unshift(d.dataset.name);
      return names.join(' > ');
    });
    console.log(`Update opened to the component name: ${path}`);

    // The catalog entry, its manifest by name.
    await held.locator('td.tc-name a').click();
    await page.waitForSelector('#manifest');
    assert((await page.textContent('#tc')).includes('SecureFS'), 'catalog entry component');

    await page.goto(`${base}/ui/log`);
    assert((await page.textContent('#log')).includes('QueryResponse'), 'exchange log empty');

    // The inspector: a captured message pasted as hex is named.
    const hex = readFileSync(captured).toString('hex').replace(/(.{64})/g, '$1\n');
    await page.click('nav a[href="/ui/inspect"]');
    await page.fill('#inspect-hex', `# captured\n${hex}`);
    await page.click('#inspect button[type=submit]');
    await page.waitForSelector('#inspect-summary');
    const summary = await page.textContent('#inspect-summary');
    assert(summary.includes('QueryRequest'), `inspector summary: ${summary}`);
    assert(await page.locator('#inspect-tree details[data-name="QueryRequest"]').count() === 1, 'inspector tree not named');
    assert(await page.locator('#inspect-headers li').count() > 0, 'no COSE header lines');
    // Bad input is an error on the page.
    await page.fill('#inspect-hex', 'not hex');
    await page.click('#inspect button[type=submit]');
    await page.waitForSelector('#inspect-error');
    assert((await page.textContent('#inspect-error')).startsWith('hex:'), 'bad hex not reported');
  } else {
    throw new Error(`unknown phase ${phase}`);
  }
  console.log(`ui ${phase}: ok`);
} finally {
  await browser.close();
}
