import { expect, Page, Browser, BrowserContext, APIResponse } from '@playwright/test';

/** Opens a page and waits until the browser app has hydrated it. */
export async function open(page: Page, path: string) {
  await page.goto(path);
  await expect(page.locator('body[data-hydrated="true"]')).toBeAttached({ timeout: 20_000 });
}

/** A fresh browser context (its own cookies), as a second moviegoer. */
export async function newMoviegoer(browser: Browser): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext();
  const page = await context.newPage();
  watchForErrors(page);
  return { context, page };
}

/** Fails the test on any uncaught error in the page, and on anything the
 *  page's content security policy refused. */
export function watchForErrors(page: Page) {
  page.on('pageerror', (e) => {
    throw new Error(`page error: ${e.message}`);
  });
  page.on('console', (message) => {
    if (/Content Security Policy/i.test(message.text())) {
      throw new Error(`refused by the content security policy: ${message.text()}`);
    }
  });
}

/** The id of a showtime on the last scheduled day, far from "already started". */
export async function futureShowtime(page: Page, pick = 0): Promise<string> {
  const response = await page.request.get('/api/movies');
  const movies = await response.json();
  const details = await (await page.request.get(`/api/movies?id=${movies[pick % movies.length].id}`)).json();
  const shows = details.showtimes;
  expect(shows.length).toBeGreaterThan(0);
  return String(shows[shows.length - 1].id);
}

/** Asks the API for a moviegoer's session, as an API client would: the
 *  page's requests carry it from then on (its cookie). The user id the
 *  server chose. */
export async function startSession(page: Page, name: string): Promise<string> {
  const response = await page.request.post('/api/sessions', { data: { name } });
  expect(response.status()).toBe(201);
  return (await response.json()).userId;
}

/** Books a free seat of an upcoming showtime of movie number `pick` as a
 *  moviegoer named `name`, through the REST API; the API's answer. */
export async function bookAFreeSeat(page: Page, pick: number, name: string): Promise<APIResponse> {
  await startSession(page, name);
  const showtime = await futureShowtime(page, pick);
  const map = await (await page.request.get(`/api/seats?showtimeId=${showtime}`)).json();
  const free = map.rows.flatMap((row: any) => row.seats).find((s: any) => s.state === 'available').label;
  return page.request.post('/api/bookings', {
    data: { showtimeId: Number(showtime), seats: [free] },
  });
}

/** The operator the first `moviebook up` creates, with the password the
 *  Playwright config gives it (OPERATOR_PASSWORD). */
export const OPERATOR = {
  name: 'admin',
  password: process.env.E2E_OPERATOR_PASSWORD ?? 'an operator password for the e2e tests',
};

/** Signs in as the operator on the monitor, which must be open. */
export async function signInAsOperator(page: Page, password = OPERATOR.password) {
  const panel = page.getByTestId('operator');
  await panel.getByLabel('Operator name').fill(OPERATOR.name);
  await panel.getByLabel('Password').fill(password);
  await panel.getByTestId('operator-sign-in').click();
}

/** Enters a name in the booking panel, if the app asks for one. */
export async function signIn(page: Page, name: string) {
  const field = page.getByLabel('Your name, to keep your bookings together');
  await field.fill(name);
  await page.getByRole('button', { name: 'Continue' }).click();
  await expect(page.getByText(`Booking as ${name}`)).toBeVisible();
}

/** The labels of the first `count` free seats on the seat map. */
export async function freeSeats(page: Page, count: number): Promise<string[]> {
  const seats = page.locator('[data-seat][aria-disabled="false"]');
  await expect(seats.first()).toBeVisible();
  const labels: string[] = [];
  for (let i = 0; labels.length < count; i++) {
    labels.push((await seats.nth(i).getAttribute('data-seat'))!);
  }
  return labels;
}

export function seat(page: Page, label: string) {
  return page.locator(`[data-seat="${label}"]`);
}

/** Seat labels the way the app lists them: by row, then by number. */
export function inSeatOrder(labels: string[]): string[] {
  return [...labels].sort((x, y) => x[0].localeCompare(y[0]) || Number(x.slice(1)) - Number(y.slice(1)));
}

/** The largest hall's last showtime of movie number `pick` counted from
 *  the end of the list (the other tests book the first movies' showtimes):
 *  its movie and its id. */
export async function grandHallShowtime(page: Page, pick = 0): Promise<{ movieId: number; title: string; showtime: string }> {
  const movies = await (await page.request.get('/api/movies')).json();
  for (let i = movies.length - 1 - pick; i >= 0; i--) {
    const details = await (await page.request.get(`/api/movies?id=${movies[i].id}`)).json();
    const halls = details.showtimes.filter((s: any) => s.auditoriumName === 'Grand Hall');
    if (halls.length > 0) {
      return { movieId: movies[i].id, title: movies[i].title, showtime: String(halls[halls.length - 1].id) };
    }
  }
  throw new Error('no showtime in the Grand Hall');
}

/** Fails unless the page is exactly as wide as the window: nothing makes
 *  it scroll sideways, and (with a phone's emulation, where the browser
 *  would widen the page to fit) the layout keeps the screen's width. The
 *  failure names what sticks out (a frame that scrolls by itself may). */
export async function expectNoSidewaysScroll(page: Page, what: string) {
  const width = page.viewportSize()!.width;
  const found = await page.evaluate((limit) => {
    const scrollsInFrame = (e: Element) => {
      for (let p = e.parentElement; p; p = p.parentElement) {
        if (p === document.body) return false;
        if (/(auto|scroll|hidden)/.test(getComputedStyle(p).overflowX)) return true;
      }
      return false;
    };
    const wide = [...document.body.querySelectorAll('*')]
      .filter((e) => e.getBoundingClientRect().right > limit + 0.5 && !scrollsInFrame(e))
      .slice(0, 5)
      .map((e) => `${e.tagName.toLowerCase()}${e.className && typeof e.className === 'string' ? '.' + e.className.trim().split(/\s+/).join('.') : ''} (to ${Math.round(e.getBoundingClientRect().right)} px)`);
    return { scrollWidth: document.documentElement.scrollWidth, innerWidth: window.innerWidth, wide };
  }, width);
  const sticksOut = `${what} at ${width} px: ${found.wide.join(', ') || 'nothing found'}`;
  expect(found.innerWidth, sticksOut).toBe(width);
  expect(found.scrollWidth, sticksOut).toBeLessThanOrEqual(width);
}

/** The phone the moviegoer's flow is tried on: a 375 × 812 window, with
 *  Chromium's emulation of a touch screen and a mobile viewport. */
export const PHONE = { viewport: { width: 375, height: 812 }, isMobile: true, hasTouch: true, deviceScaleFactor: 3 };
