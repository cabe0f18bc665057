// Loads one page in headless Chromium (Debian's /usr/bin/chromium, driven by playwright-core)
// with a fresh profile, waits for it to load, and prints one line of JSON describing what the
// browser got: images decoded, stylesheets applied, scripts run, every request it made.
// Usage: node open.mjs URL SCREENSHOT.png PROFILE_DIR
// Name resolution is mapped to nothing (--host-resolver-rules), so the page's absolute links to
// other sites (and its preconnect) can never leave the machine; they are recorded if attempted.
import { chromium } from 'playwright-core';

const [url, shot, profile] = process.argv.slice(2);
if (!url || !shot || !profile) {
  console.error('usage: node open.mjs URL SCREENSHOT PROFILE_DIR');
  process.exit(2);
}

const ctx = await chromium.launchPersistentContext(profile, {
  executablePath: '/usr/bin/chromium',
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
         '--disable-background-networking', '--disable-component-update', '--disable-sync',
         '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1'],
  viewport: { width: 1280, height: 900 },
  timeout: 30000,
});
const out = { url, requests: 0, foreign: [], failed: [], statuses: {} };
const origin = new URL(url).origin;
try {
  const page = ctx.pages()[0] || await ctx.newPage();
  page.on('request', (r) => {
    out.requests++;
    if (!r.url().startsWith(origin + '/')) out.foreign.push(r.url());
  });
  page.on('requestfailed', (r) => out.failed.push(r.url() + ' ' + (r.failure()?.errorText || '')));
  page.on('response', (r) => {
    const k = String(r.status());
    out.statuses[k] = (out.statuses[k] || 0) + 1;
  });
  const t0 = Date.now();
  await page.goto(url, { waitUntil: 'load', timeout: 60000 });
  out.load_ms = Date.now() - t0;
  await page.waitForFunction(() => document.body && document.body.dataset.loaded === '1',
                             null, { timeout: 10000 });
  Object.assign(out, await page.evaluate(() => {
    const imgs = Array.from(document.images);
    const decoded = imgs.filter((i) => i.complete && i.naturalWidth > 0);
    const links = Array.from(document.querySelectorAll('link[rel~="stylesheet"]'));
    const sheets = Array.from(document.styleSheets).filter((s) => s.href);
    const applied = sheets.filter((s) => {
      try { return s.cssRules.length > 0; } catch (e) { return false; }
    });
    return {
      title: document.title,
      images: imgs.length,
      decoded: decoded.length,
      broken: imgs.filter((i) => !decoded.includes(i)).map((i) => i.getAttribute('src')),
      stylesheet_links: links.length,
      stylesheets: sheets.length,
      stylesheets_applied: applied.length,
      theme: getComputedStyle(document.documentElement)
        .getPropertyValue('--courier-theme').trim(),
      loaded: document.body.dataset.loaded || '',
      body_decoded: document.body.dataset.decoded || '',
      body_theme: document.body.dataset.theme || '',
      words: document.body.dataset.words || '',
    };
  }));
  await page.screenshot({ path: shot });
  out.ok = true;
} catch (e) {
  out.ok = false;
  out.error = String(e && e.message ? e.message : e).split('\n')[0];
} finally {
  await ctx.close();
}
console.log(JSON.stringify(out));
