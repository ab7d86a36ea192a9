import { test, expect, Page, Locator } from '@playwright/test';
import {
  open, watchForErrors, seat, signIn, grandHallShowtime, expectNoSidewaysScroll, bookAFreeSeat,
  signInAsOperator, PHONE,
} from './helpers';

// A moviegoer on a phone: Chromium's emulation of a 375 × 812 touch screen.
// The whole flow by tapping, on the largest hall, and no page wider than
// the screen.
test.use(PHONE);
test.beforeEach(async ({ page }) => watchForErrors(page));

/** The box of `locator` on the screen. */
async function box(locator: Locator) {
  const found = await locator.boundingBox();
  expect(found, 'the element has a box on the screen').not.toBeNull();
  return found!;
}

/** Fails unless a tap at the middle of `locator` lands on it: on the
 *  screen, and not hidden under the row letters, the bottom bar or
 *  anything else. */
async function expectTappable(page: Page, locator: Locator) {
  const { x, y, width, height } = await box(locator);
  const viewport = page.viewportSize()!;
  expect(x >= 0 && x + width <= viewport.width && y >= 0 && y + height <= viewport.height,
    `on the screen: ${JSON.stringify({ x, y, width, height })}`).toBe(true);
  const hit = await locator.evaluate((el, [cx, cy]) => el.contains(document.elementFromPoint(cx, cy)), [x + width / 2, y + height / 2]);
  expect(hit, 'nothing covers it').toBe(true);
}

test('a moviegoer books and cancels seats in the largest hall on a phone, first and last seat of a row included', async ({ page }) => {
  const { title, showtime } = await grandHallShowtime(page);

  // Browse: the header's links on one line, the movies in one column.
  await open(page, '/');
  await expectNoSidewaysScroll(page, 'the movies');
  const links = page.getByRole('navigation', { name: 'Main' }).getByRole('link');
  await expect(links).toHaveCount(3);
  const tops = new Set<number>();
  for (const link of await links.all()) {
    const { y, height } = await box(link);
    tops.add(Math.round(y));
    expect(height, 'a link is a target of 24 px at least').toBeGreaterThanOrEqual(24);
  }
  expect(tops.size, 'the navigation is one tidy line').toBe(1);
  await page.locator('.movie-card', { hasText: title }).getByRole('link').first().tap();

  // Pick the Grand Hall showtime.
  await expect(page.getByRole('heading', { name: 'Showtimes' })).toBeVisible();
  await expectNoSidewaysScroll(page, 'a movie');
  await page.locator(`a[data-showtime="${showtime}"]`).tap();
  await expect(page).toHaveURL(new RegExp(`/showtimes/${showtime}$`));
  await expect(page.locator('body[data-hydrated="true"]')).toBeAttached({ timeout: 20_000 });
  await expect(page.getByText('Grand Hall')).toBeVisible();
  await expectNoSidewaysScroll(page, 'the seat map');

  // Every seat is a target of 24 × 24 CSS pixels at least.
  const sizes = await page.locator('[data-seat]').evaluateAll((seats) =>
    seats.map((s) => ({ seat: s.getAttribute('data-seat'), ...s.getBoundingClientRect().toJSON() })));
  expect(sizes).toHaveLength(12 * 18);
  const small = sizes.filter((s) => s.width < 24 || s.height < 24).map((s) => s.seat);
  expect(small, 'seats smaller than 24 × 24 px').toEqual([]);

  // A row whose first and last seats are both free.
  const rows = 'ABCDEFGHIJKL'.split('');
  let row = '';
  for (const r of rows) {
    if ((await seat(page, `${r}1`).getAttribute('aria-disabled')) === 'false'
      && (await seat(page, `${r}18`).getAttribute('aria-disabled')) === 'false') {
      row = r;
      break;
    }
  }
  expect(row, 'a row with seats 1 and 18 free').not.toBe('');
  const first = seat(page, `${row}1`);
  const last = seat(page, `${row}18`);
  const frame = page.getByTestId('seat-map');
  const label = page.locator('.seat-row', { has: first }).locator('.row-label');

  // The map scrolls in its own frame; both ends of the row can be brought
  // on screen and tapped, with the row's letter still in view.
  await first.scrollIntoViewIfNeeded();
  await expectTappable(page, first);
  await first.tap();
  await expect(first).toHaveAttribute('aria-pressed', 'true');
  await last.scrollIntoViewIfNeeded();
  await expectTappable(page, last);
  await last.tap();
  await expect(last).toHaveAttribute('aria-pressed', 'true');
  const frameBox = await box(frame);
  for (const letter of await label.all()) {
    const { x, width } = await box(letter);
    expect(x >= frameBox.x - 0.5 && x + width <= frameBox.x + frameBox.width + 0.5, 'the row letter stays in the frame').toBe(true);
  }
  await expectNoSidewaysScroll(page, 'the seat map, scrolled to the last seat');

  // The selection, total and booking stay on screen while the map is in
  // view: back at the top of the page, the bar is at the bottom of the screen.
  await page.evaluate(() => window.scrollTo(0, 0));
  await expect(page.getByTestId('selection')).toHaveText(`${row}1, ${row}18`);
  await expectTappable(page, page.getByTestId('selection'));
  await expectTappable(page, page.getByTestId('total'));
  const nameField = page.getByLabel('Your name, to keep your bookings together');
  await expectTappable(page, nameField);
  await signIn(page, 'Phone User');
  await page.evaluate(() => window.scrollTo(0, 0));
  const book = page.getByTestId('book');
  await expect(book).toHaveText(/^Book 2 seats for \$\d+\.\d\d$/);
  await expectTappable(page, book);
  await book.tap();

  // The booking.
  await expect(page).toHaveURL(/\/bookings\/[0-9a-f-]{36}$/);
  await expect(page.getByRole('heading', { name: 'Booking confirmed' })).toBeVisible();
  await expect(page.getByTestId('booking-seats')).toHaveText(`${row}1, ${row}18`);
  await expectNoSidewaysScroll(page, 'a booking');

  // My bookings, and cancelling.
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'My bookings' }).tap();
  await expect(page).toHaveURL(/\/bookings$/);
  const booked = page.locator('.booking-row', { hasText: `${row}1, ${row}18` }).first();
  await expect(booked).toHaveAttribute('data-status', 'confirmed');
  await expectNoSidewaysScroll(page, 'my bookings');
  await booked.getByRole('button', { name: 'Cancel' }).tap();
  await expect(booked).toHaveAttribute('data-status', 'cancelled');

  // The seats are free again.
  await open(page, `/showtimes/${showtime}`);
  await expect(first).toHaveClass(/available/);
  await expect(last).toHaveClass(/available/);
});

test('on a phone the keyboard walks the whole Grand Hall, the focused seat never hidden under the row letters or the bar', async ({ page }) => {
  const { showtime } = await grandHallShowtime(page, 4);
  await open(page, `/showtimes/${showtime}`);
  await seat(page, 'A1').focus();
  await expectTappable(page, seat(page, 'A1'));
  for (let n = 2; n <= 18; n++) {
    await page.keyboard.press('ArrowRight');
    await expect(seat(page, `A${n}`)).toBeFocused();
  }
  await expectTappable(page, seat(page, 'A18'));
  for (const row of 'BCDEFGHIJKL') {
    await page.keyboard.press('ArrowDown');
    await expect(seat(page, `${row}18`)).toBeFocused();
  }
  await expectTappable(page, seat(page, 'L18'));
  for (let n = 17; n >= 1; n--) {
    await page.keyboard.press('ArrowLeft');
  }
  await expect(seat(page, 'L1')).toBeFocused();
  await expectTappable(page, seat(page, 'L1'));
  await page.keyboard.press('Enter');
  await expect(seat(page, 'L1')).toHaveAttribute('aria-pressed', 'true');
  await expect(page.getByTestId('selection')).toHaveText('L1');
});

for (const width of [320, 375]) {
  test(`no page scrolls sideways at ${width} px`, async ({ page }) => {
    await page.setViewportSize({ width, height: 812 });
    const { movieId, showtime } = await grandHallShowtime(page, 1);
    const answer = await bookAFreeSeat(page, 5, 'Narrow Screen');
    expect(answer.status()).toBe(201);
    const booking = (await answer.json()).id;

    const pages: [string, string][] = [
      ['/', 'the movies'],
      [`/movies/${movieId}`, 'a movie'],
      [`/showtimes/${showtime}`, 'the Grand Hall seat map'],
      ['/bookings', 'my bookings'],
      [`/bookings/${booking}`, 'a booking'],
      ['/no-such-page', 'a page that does not exist'],
    ];
    for (const [path, what] of pages) {
      await open(page, path);
      await expectNoSidewaysScroll(page, what);
    }

    // The monitor, once its live panels have filled in, and with an
    // operator's controls.
    await open(page, '/monitor');
    await expect(page.getByTestId('health-summary')).toContainText(/\d of 3 nodes healthy/);
    await expect(page.getByTestId('node-clocks')).toBeVisible();
    await expect(page.getByTestId('traffic')).toBeVisible();
    await expectNoSidewaysScroll(page, 'the monitor');
    await signInAsOperator(page);
    await expect(page.getByTestId('operator-sign-out')).toBeVisible();
    await expect(page.getByTestId('fault-controls')).toBeVisible();
    await expectNoSidewaysScroll(page, 'the monitor, signed in as operator');
    await page.getByTestId('operator-sign-out').click();
  });
}
