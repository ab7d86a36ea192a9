import { test, expect } from '@playwright/test';
import { open, watchForErrors, futureShowtime } from './helpers';

test.beforeEach(async ({ page }) => watchForErrors(page));

test('every page comes with security headers, and hydrates under its content security policy', async ({ page }) => {
  for (const path of ['/', '/monitor', '/bookings']) {
    const response = await page.request.get(path);
    const headers = response.headers();
    const nonce = headers['content-security-policy']?.match(/'nonce-([\w-]+)'/)?.[1];
    expect(nonce, `${path}: ${headers['content-security-policy']}`).toBeTruthy();
    expect(headers['content-security-policy']).toContain("frame-ancestors 'none'");
    expect(headers['x-content-type-options']).toBe('nosniff');
    expect(headers['x-frame-options']).toBe('DENY');
    // Every script of the page carries the nonce the policy names.
    const html = await response.text();
    const scripts = html.match(/<script[^>]*>/g) ?? [];
    expect(scripts.length, path).toBeGreaterThan(0);
    for (const script of scripts) {
      expect(script, path).toContain(`nonce="${nonce}"`);
    }
    // And the browser app runs under it (a refusal fails the test).
    await open(page, path);
  }
  // A JSON answer is no document: it may load nothing at all.
  const api = await page.request.get('/api/movies');
  expect(api.headers()['content-security-policy']).toBe("default-src 'none'; frame-ancestors 'none'");
});

test('a form on another site cannot book: the cross-site post is refused and the seat stays free', async ({ page, baseURL }) => {
  const showtime = await futureShowtime(page, 2);
  const seatsOf = async () => (await (await page.request.get(`/api/seats?showtimeId=${showtime}`)).json());
  const free = (map: any) => map.rows.flatMap((row: any) => row.seats).filter((s: any) => s.state === 'available').length;
  const freeBefore = free(await seatsOf());
  // A page that is not MovieBook's posts a form at it, its body shaped as
  // the API's JSON (the classic cross-site request forgery).
  await page.setContent(`
    <form method="post" action="${baseURL}/api/bookings" enctype="text/plain">
      <input name='{"userId":"victim","showtimeId":${showtime},"seats":["B3"],"pad":"' value='"}'>
    </form>`);
  const [response] = await Promise.all([
    page.waitForResponse((r) => r.url().endsWith('/api/bookings')),
    page.evaluate(() => (document.forms[0] as HTMLFormElement).submit()),
  ]);
  expect(response.status()).toBe(403);
  expect(await response.text()).toContain('another site');
  expect(free(await seatsOf())).toBe(freeBefore);
});
