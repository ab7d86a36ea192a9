import { test, expect, Page } from '@playwright/test';
import AxeBuilder from '@axe-core/playwright';
import {
  open, watchForErrors, seat, signIn, grandHallShowtime, bookAFreeSeat, signInAsOperator, PHONE,
} from './helpers';

// Every page, checked by axe-core against the WCAG 2.0, 2.1 and 2.2 rules
// of levels A and AA, on a desktop window and on a phone. A failure lists
// each broken rule with the elements that break it.

const WCAG_A_AND_AA = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22a', 'wcag22aa'];

/** Fails with one line per rule broken: its id, what it asks, and the
 *  CSS selectors of the elements that break it. */
async function expectNoViolations(page: Page, what: string) {
  const { violations } = await new AxeBuilder({ page }).withTags(WCAG_A_AND_AA).analyze();
  const found = violations.map((v) =>
    `${v.id} (${v.impact}: ${v.help}) on ${v.nodes.map((n) => n.target.join(' ')).join(' | ')}`);
  expect(found, `accessibility of ${what}`).toEqual([]);
}

const windows = {
  desktop: { viewport: { width: 1280, height: 800 } },
  phone: PHONE,
};

for (const [name, window] of Object.entries(windows)) {
  test.describe(`on a ${name}`, () => {
    test.use(window);
    test.beforeEach(async ({ page }) => watchForErrors(page));

    test('the moviegoer\'s pages have no accessibility violations', async ({ page }) => {
      const { movieId, showtime } = await grandHallShowtime(page, name === 'phone' ? 3 : 2);

      await open(page, '/');
      await expectNoViolations(page, 'the movies');
      await open(page, `/movies/${movieId}`);
      await expectNoViolations(page, 'a movie');
      await open(page, '/bookings');
      await expectNoViolations(page, 'my bookings, before signing in');

      // The seat map asks a newcomer's name, then takes seats.
      await open(page, `/showtimes/${showtime}`);
      await expectNoViolations(page, 'the seat map, asking for a name');
      await signIn(page, `Axe on a ${name}`);
      const free = page.locator('[data-seat][aria-disabled="false"]');
      await free.first().click();
      await free.last().click();
      await expect(page.getByTestId('book')).toBeEnabled();
      await expectNoViolations(page, 'the seat map, with seats chosen');

      // Booked: the booking's page, its seats shown as yours, my bookings.
      const chosen = (await page.getByTestId('selection').textContent())!.split(', ');
      await page.getByTestId('book').click();
      await expect(page.getByRole('heading', { name: 'Booking confirmed' })).toBeVisible();
      await expectNoViolations(page, 'a booking');
      await open(page, `/showtimes/${showtime}`);
      await expect(seat(page, chosen[0])).toHaveClass(/yours/);
      await expectNoViolations(page, 'the seat map, with seats taken and yours');
      await open(page, '/bookings');
      await expect(page.getByTestId('my-bookings')).toBeVisible();
      await expectNoViolations(page, 'my bookings');
      // A cancelled booking shows differently.
      await page.locator('.booking-row[data-status="confirmed"]').first().getByRole('button', { name: 'Cancel' }).click();
      await expect(page.locator('.booking-row[data-status="cancelled"]').first()).toBeVisible();
      await expectNoViolations(page, 'my bookings, with one cancelled');

      await open(page, '/no-such-page');
      await expectNoViolations(page, 'a page that does not exist');
      await open(page, '/movies/999999');
      await expectNoViolations(page, 'an unknown movie');
    });

    test('the monitor has no accessibility violations, signed out and as an operator', async ({ page }) => {
      // Some traffic for the monitor's panels to show.
      expect((await bookAFreeSeat(page, 6, `Monitor on a ${name}`)).status()).toBe(201);
      await open(page, '/monitor');
      await expect(page.getByTestId('health-summary')).toContainText(/\d of 3 nodes healthy/);
      await expect(page.getByTestId('node-clocks')).toBeVisible();
      await expect(page.getByTestId('traffic')).toBeVisible();
      await expectNoViolations(page, 'the monitor');

      await signInAsOperator(page);
      await expect(page.getByTestId('operator-sign-out')).toBeVisible();
      await expect(page.getByTestId('fault-controls')).toBeVisible();
      await expect(page.getByTestId('switch-mode')).toBeVisible();
      await expectNoViolations(page, 'the monitor, signed in as operator');
      await page.getByTestId('operator-sign-out').click();
    });
  });
}
