import { test, expect } from '@playwright/test';
import { open, watchForErrors, futureShowtime, bookAFreeSeat, newMoviegoer, startSession } from './helpers';

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

test('a moviegoer is who the server says: another moviegoer\'s booking can be neither read nor cancelled', async ({ page, browser, baseURL }) => {
  const booked = await bookAFreeSeat(page, 3, 'Owner');
  expect(booked.status()).toBe(201);
  const booking = await booked.json();
  expect(booking.userId).toMatch(/^u-[0-9a-f]{32}$/);

  // Another moviegoer, with a session of their own.
  const other = await newMoviegoer(browser);
  await startSession(other.page, 'Someone Else');
  for (const request of [
    other.page.request.get(`/api/bookings?id=${booking.id}`),
    other.page.request.get(`/api/bookings?userId=${booking.userId}`),
    other.page.request.delete(`/api/bookings?id=${booking.id}`),
  ]) {
    const response = await request;
    expect(response.status()).toBe(403);
    expect((await response.json()).error.code).toBe('forbidden');
  }
  // Setting the owner's user id as a cookie by hand makes no one its owner.
  const posing = await browser.newContext();
  await posing.addCookies([{ name: 'mb_user', value: booking.userId, url: baseURL! }]);
  const posed = await posing.request.delete(`/api/bookings?id=${booking.id}`);
  expect(posed.status()).toBe(401);
  await other.context.close();
  await posing.close();

  // The owner still reads it, confirmed, and may cancel it.
  expect((await (await page.request.get(`/api/bookings?id=${booking.id}`)).json()).status).toBe('confirmed');
  expect((await page.request.delete(`/api/bookings?id=${booking.id}`)).status()).toBe(200);
});
