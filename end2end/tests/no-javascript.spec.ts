import { test, expect } from '@playwright/test';

// Pages are rendered whole on the server: with JavaScript off, every page
// that shows data shows it, links work, and the seat map says which seats
// are free (booking itself says it needs JavaScript).
test.describe('with JavaScript off', () => {
  test.use({ javaScriptEnabled: false });

  test('a moviegoer browses from the movies to a showtime and sees its free seats', async ({ page }) => {
    await page.goto('/');
    await expect(page.getByRole('heading', { name: 'Now showing' })).toBeVisible();
    await page.getByRole('link', { name: /The Last Lighthouse/ }).first().click();
    await expect(page).toHaveURL(/\/movies\/\d+$/);
    await expect(page.getByRole('heading', { level: 1 })).toContainText('The Last Lighthouse');
    await page.locator('a[href^="/showtimes/"]').first().click();
    await expect(page).toHaveURL(/\/showtimes\/\d+$/);
    const seats = page.locator('[data-testid="seat-map"] [data-seat]');
    expect(await seats.count()).toBeGreaterThan(20);
    await expect(page.locator('[data-testid="seat-map"] [data-seat][aria-label*="available"]').first()).toBeVisible();
    await expect(page.getByTestId('needs-javascript')).toBeVisible();
  });

  test('the monitor shows the cluster', async ({ page }) => {
    await page.goto('/monitor');
    await expect(page.getByTestId('health-summary')).toContainText(/\d of 3 nodes healthy/);
  });
});

test('pages answer the status of what they show', async ({ request }) => {
  for (const path of ['/movies/999999', '/movies/nonsense', '/showtimes/999999']) {
    const answer = await request.get(path);
    expect(answer.status(), path).toBe(404);
    expect(await answer.text(), path).toContain('Sorry.');
  }
  // An unknown booking, asked for with a session or without.
  const unknownBooking = '/bookings/00000000-0000-4000-8000-000000000000';
  expect((await request.get(unknownBooking)).status()).toBe(404);
  const session = await request.post('/api/sessions', { data: { name: 'Status Check' } });
  expect(session.status()).toBe(201);
  expect((await request.get(unknownBooking)).status()).toBe(404);
  expect((await request.get('/')).status()).toBe(200);
});

test('the app and its pages travel compressed, with cache headers; the API does not', async ({ request }) => {
  // Pages link the bundle under a path that names its build, kept for good.
  const home = await (await request.get('/')).text();
  const linked = home.match(/href="(\/build\/[0-9a-f]{16})\/pkg\/moviebook\.wasm"/);
  expect(linked, 'the home page links the WebAssembly under its build').not.toBeNull();
  const build = linked![1];
  expect(home).toContain(`href="${build}/pkg/moviebook.css"`);
  for (const encoding of ['br', 'gzip']) {
    const wasm = await request.get(`${build}/pkg/moviebook.wasm`, { headers: { 'Accept-Encoding': encoding } });
    expect(wasm.status()).toBe(200);
    expect(wasm.headers()['content-encoding'], encoding).toBe(encoding);
    expect(wasm.headers()['cache-control']).toBe('public, max-age=31536000, immutable');
  }
  // The same files where their names do not change: checked again on use.
  const unversioned = await request.get('/pkg/moviebook.wasm');
  expect(unversioned.status()).toBe(200);
  expect(unversioned.headers()['cache-control']).toBe('no-cache');
  // Another build's path is not this build's files.
  const otherBuild = await request.get('/build/0000000000000000/pkg/moviebook.wasm');
  expect(otherBuild.status()).toBe(404);
  expect(otherBuild.headers()['cache-control']).toBeUndefined();
  const page = await request.get('/', { headers: { 'Accept-Encoding': 'br' } });
  expect(page.headers()['content-encoding']).toBe('br');
  const poster = await request.get('/favicon.svg', { headers: { 'Accept-Encoding': 'gzip' } });
  expect(poster.headers()['cache-control']).toBe('public, max-age=86400');
  const api = await request.get('/api/movies', { headers: { 'Accept-Encoding': 'br, gzip' } });
  expect(api.headers()['content-encoding']).toBeUndefined();
});
