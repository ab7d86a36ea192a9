// What each page makes the browser fetch before it is interactive: opens
// every kind of page first, in a fresh Chromium (Debian's) with an empty
// cache, waits until the app marks it hydrated, and sums the scripts and
// WebAssembly it has received by then (the resource timings' sizes: as
// sent, compressed by the server, and as read); then opens it again in the
// same browser and counts what still went over the network (the bundle is
// kept for good under its build's path, so nothing should). A benchmark:
// prints numbers, asserts nothing.
//
//   node page-weight.mjs http://127.0.0.1:3000
import { chromium } from 'playwright-core';

const base = process.argv[2];
if (!base) {
  console.error('usage: node page-weight.mjs BASE_URL');
  process.exit(2);
}

const movies = await (await fetch(`${base}/api/movies`)).json();
const details = await (await fetch(`${base}/api/movies?id=${movies[0].id}`)).json();
const showtime = details.showtimes.at(-1).id;
const pages = ['/', `/movies/${movies[0].id}`, `/showtimes/${showtime}`, '/bookings', '/monitor'];

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
});
const kb = (bytes) => `${Math.round(bytes / 1024)} KB`;
/** The app's scripts and WebAssembly the page has received so far. */
const appFiles = (page) =>
  page.evaluate(() =>
    performance
      .getEntriesByType('resource')
      .filter((entry) => /\.(wasm|js)$/.test(new URL(entry.name).pathname) && entry.responseEnd <= performance.now())
      .map((entry) => ({
        sent: entry.encodedBodySize,
        read: entry.decodedBodySize,
        network: entry.transferSize,
        wasm: entry.name.endsWith('.wasm'),
      })),
  );
const opened = async (context, path) => {
  const page = await context.newPage();
  await page.goto(`${base}${path}`);
  await page.locator('body[data-hydrated="true"]').waitFor({ state: 'attached', timeout: 30_000 });
  return page;
};
const sum = (list, key) => list.reduce((total, file) => total + file[key], 0);
for (const path of pages) {
  const context = await browser.newContext();
  const files = await appFiles(await opened(context, path));
  const wasm = files.filter((file) => file.wasm);
  const again = (await appFiles(await opened(context, path))).filter((file) => file.network > 0);
  console.log(
    `${path.padEnd(16)} WASM ${kb(sum(wasm, 'read'))} in ${wasm.length} files (${kb(sum(wasm, 'sent'))} sent), ` +
      `scripts and WASM ${kb(sum(files, 'read'))} (${kb(sum(files, 'sent'))} sent); ` +
      `opened again: ${again.length} of them over the network (${sum(again, 'network')} bytes)`,
  );
  await context.close();
}
await browser.close();
