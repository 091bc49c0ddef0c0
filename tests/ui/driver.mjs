// driver.mjs -- a headless Chromium (Debian's /usr/bin/chromium) driven by
// playwright-core, controlled line by line over stdin/stdout so that the
// console tests (tests/integration/test_console.py) keep their logic, their
// gtmd and their real backends in Python.
//
// Each stdin line is a JSON command {"op": ..., ...}; each gets exactly one
// stdout line: {"ok": true, "value": ...} or {"ok": false, "error": "..."}.
// Every wait has a timeout (default 20 s: a wait is for something that
// must come, not a measure of speed; on a loaded 2-core machine, beside an
// ASan gtmd, the sign-in form once took over 5 s to appear). The browser's console messages,
// page errors and CSP reports are kept and returned by {"op": "log"}.
import { chromium } from 'playwright-core';
import { createInterface } from 'node:readline';

const WAIT_MS = 20000;
const executablePath = process.env.CHROMIUM || '/usr/bin/chromium';
const browser = await chromium.launch({
  executablePath,
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--no-first-run'],
});
let context = null;
let page = null;
let log = [];

async function fresh() {
  if (context) await context.close();
  context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  page = await context.newPage();
  log = [];
  page.on('console', (m) => log.push(m.type() + ': ' + m.text()));
  page.on('pageerror', (e) => log.push('pageerror: ' + e.message));
  page.on('dialog', (d) => { log.push('dialog: ' + d.message()); d.dismiss(); });
}
await fresh();

const ops = {
  async reset() { await fresh(); },
  async goto(c) { const r = await page.goto(c.url, { timeout: c.timeout || WAIT_MS }); return { status: r.status(), headers: r.headers() }; },
  async fill(c) { await page.fill(c.sel, c.value, { timeout: c.timeout || WAIT_MS }); },
  async click(c) { await page.click(c.sel, { timeout: c.timeout || WAIT_MS }); },
  async select(c) { await page.selectOption(c.sel, c.value, { timeout: c.timeout || WAIT_MS }); },
  async wait(c) { await page.waitForSelector(c.sel, { state: c.state || 'visible', timeout: c.timeout || WAIT_MS }); },
  async text(c) { return await page.textContent(c.sel, { timeout: c.timeout || WAIT_MS }); },
  async attr(c) { return await page.getAttribute(c.sel, c.name, { timeout: c.timeout || WAIT_MS }); },
  async count(c) { return await page.locator(c.sel).count(); },
  async disabled(c) { return await page.isDisabled(c.sel, { timeout: c.timeout || WAIT_MS }); },
  async eval(c) { return await page.evaluate(c.js); },
  // Polled from here with page.evaluate (the DevTools protocol, which the
  // page's CSP does not govern): page.waitForFunction re-evaluates a string
  // predicate with eval() inside the page, which the console's CSP refuses
  // (no 'unsafe-eval'), so it failed whenever the first try was false.
  async waitfn(c) {
    const end = Date.now() + (c.timeout || WAIT_MS);
    for (;;) {
      if (await page.evaluate(c.js)) return;
      if (Date.now() > end) throw new Error('waitfn: timed out waiting for ' + c.js);
      await new Promise((r) => setTimeout(r, 50));
    }
  },
  async viewport(c) { await page.setViewportSize({ width: c.width, height: c.height || 900 }); },
  async screenshot(c) { await page.screenshot({ path: c.path, fullPage: !!c.full }); },
  async log() { return log; },
  async quit() { await browser.close(); process.exit(0); },
};

const rl = createInterface({ input: process.stdin });
for await (const line of rl) {
  let reply;
  try {
    const c = JSON.parse(line);
    const fn = ops[c.op];
    if (!fn) throw new Error('unknown op ' + c.op);
    reply = { ok: true, value: (await fn(c)) ?? null };
  } catch (e) {
    reply = { ok: false, error: String(e && e.message ? e.message : e) };
  }
  process.stdout.write(JSON.stringify(reply) + '\n');
}
await browser.close();
