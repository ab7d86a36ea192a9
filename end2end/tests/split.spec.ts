import { test, expect, Page } from '@playwright/test';
import { futureShowtime, open, seat } from './helpers';

// The browser app is split: the home page loads only the first chunk, and
// a page's own chunk arrives when the page is first shown, whether by a
// click (client-side navigation) or as the first page a browser opens.

/** The names of the WebAssembly files the page has requested so far, each
 * from the bundle's path for its build (or named with its whole path). */
function wasmRequests(page: Page): string[] {
  const names: string[] = [];
  page.on('request', (request) => {
    const path = new URL(request.url()).pathname;
    if (!path.endsWith('.wasm')) return;
    const fromBuild = /^\/build\/[0-9a-f]{16}\/pkg\/[^/]+$/.test(path);
    names.push(fromBuild ? path.split('/').pop()! : path);
  });
  return names;
}

const routeChunk = (names: string[], page: string) =>
  names.filter((name) => name.startsWith(`split___${page}_route_view_`));

test('the home page loads the first chunk only; other pages fetch theirs when first shown', async ({ page }) => {
  const requested = wasmRequests(page);
  await open(page, '/');
  await expect(page.getByTestId('movie-list')).toBeVisible();
  expect(requested).toEqual(['moviebook.wasm']);

  // A click on a movie: the movie page's chunk, then its page, working.
  await page.getByTestId('movie-list').getByRole('link').nth(1).click();
  await expect(page.getByRole('heading', { name: 'Showtimes' })).toBeVisible();
  expect(routeChunk(requested, 'movie')).toHaveLength(1);
  expect(routeChunk(requested, 'monitor')).toHaveLength(0);

  // The monitor's chunk only now.
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'System monitor' }).click();
  await expect(page.getByRole('heading', { name: 'System monitor' })).toBeVisible();
  expect(routeChunk(requested, 'monitor')).toHaveLength(1);

  // Back home: its movies fetched in the browser, through a lazy call.
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Movies' }).click();
  await expect(page.getByTestId('movie-list').getByRole('listitem').first()).toBeVisible();
  expect(requested.filter((name) => name.startsWith('split_movies_'))).toHaveLength(1);
});

test('a seat map opened first loads its chunk before it answers clicks', async ({ page }) => {
  const showtime = await futureShowtime(page, 1);
  const requested = wasmRequests(page);
  await open(page, `/showtimes/${showtime}`);
  expect(routeChunk(requested, 'seats')).toHaveLength(1);
  expect(routeChunk(requested, 'monitor')).toHaveLength(0);
  const label = await page.locator('[data-testid="seat-map"] button.seat.available').first().getAttribute('data-seat');
  const free = seat(page, label!);
  await free.click();
  await expect(free).toHaveAttribute('aria-pressed', 'true');
});
