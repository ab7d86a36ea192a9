import { test, expect, Page } from '@playwright/test';
import { open, watchForErrors, signInAsOperator } from './helpers';

test.beforeEach(async ({ page }) => watchForErrors(page));

// Whatever a failed test left broken is healed before the next one (a
// passing one heals itself): the other tests expect three healthy nodes.
test.afterEach(async ({ page }, testInfo) => {
  if (testInfo.status !== testInfo.expectedStatus) {
    await page.request.post('/api/heal');
  }
  await expect
    .poll(
      async () => {
        const status = await (await page.request.get('/gateway/status')).json();
        return status.nodes.every((n: any) => n.live && (n.process ?? 'running') === 'running');
      },
      { timeout: 30_000 },
    )
    .toBe(true);
  // And the cluster settled: every node names the same leader and epoch,
  // node 3 (Bully's choice: a node back from a fault takes over when it
  // outranks the leader), still so a moment later.
  const agreement = async () => {
    const views = await Promise.all(
      [1, 2, 3].map(async (id) => {
        const answer = await page.request.get(`/api/nodes/${id}/election`);
        return answer.ok() ? answer.json() : null;
      }),
    );
    const named = new Set(views.map((v: any) => (v?.leader ? `${v.leader.id}/${v.leader.epoch}` : 'none')));
    return named.size === 1 && !named.has('none') ? [...named][0] : null;
  };
  await expect(async () => {
    const first = await agreement();
    expect(first).toMatch(/^3\//);
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    expect(await agreement()).toBe(first);
  }).toPass({ timeout: 30_000 });
});

/** Opens the monitor as the operator, once the fault controls have read the nodes. */
async function openAsOperator(page: Page) {
  await open(page, '/monitor');
  await expect(page.getByTestId('health-summary')).toContainText('3 of 3 nodes healthy', { timeout: 20_000 });
  await signInAsOperator(page);
  await expect(page.getByTestId('heal-all')).toBeVisible();
  await expect(page.getByTestId('fault-node-3')).toHaveAttribute('data-process', 'running');
}

/** The node that leads now, as the Election panel says; never `except`, when given. */
async function leaderNow(page: Page, except?: number): Promise<number> {
  // Read and parsed in one step: the panel may change between a check and a second read.
  let leader = 0;
  await expect(async () => {
    const said = /Leader: node-(\d+)/.exec((await page.getByTestId('leader').textContent()) ?? '');
    expect(said, 'the Election panel names a leader').not.toBeNull();
    expect(Number(said![1])).not.toBe(except);
    leader = Number(said![1]);
  }).toPass({ timeout: 15_000 });
  return leader;
}

/** Books a free seat of the first showtime through node `node` as a new moviegoer; the booking's id. */
async function bookThrough(page: Page, node: number): Promise<string> {
  const session = await (await page.request.post('/api/sessions', { data: { name: 'Cut Off' } })).json();
  const auth = { Authorization: `Bearer ${session.token}` };
  const movies = await (await page.request.get('/api/movies')).json();
  const movie = await (await page.request.get(`/api/movies?id=${movies[0].id}`)).json();
  const showtime = movie.showtimes[movie.showtimes.length - 1].id;
  const map = await (await page.request.get(`/api/seats?showtimeId=${showtime}`)).json();
  const seat = map.rows.flatMap((row: any) => row.seats).find((s: any) => s.state === 'available').label;
  const answer = await page.request.post(`/api/nodes/${node}/bookings`, {
    headers: auth,
    data: { showtimeId: showtime, seats: [seat] },
  });
  expect(answer.status(), await answer.text()).toBe(201);
  return (await answer.json()).id;
}

test('anyone sees the faults in force, and only an operator the controls', async ({ page }) => {
  await open(page, '/monitor');
  await expect(page.getByTestId('active-faults')).toHaveText('None', { timeout: 15_000 });
  await expect(page.getByTestId('timeline')).toBeVisible();
  await expect(page.getByTestId('timeline').getByRole('img')).toHaveAttribute('aria-label', /Timeline of the cluster/);
  await expect(page.getByTestId('heal-all')).toHaveCount(0);
  await expect(page.getByTestId('kill-3')).toHaveCount(0);
  // The API refuses the actions to anyone else all the same.
  const refused = await page.request.post('/api/nodes/3/kill');
  expect(refused.status()).toBe(401);
  expect((await refused.json()).error.code).toBe('sign_in_required');
});

test('isolating a node cuts it off, the cluster goes on, and healing brings it back', async ({ page }) => {
  await openAsOperator(page);
  const active = page.getByTestId('active-faults');
  await expect(active).toHaveText('None');
  // A node that does not lead: node 3, unless it leads (Bully elects the highest id).
  const leader = await leaderNow(page);
  const victim = leader === 3 ? 2 : 3;

  await page.getByTestId(`isolate-${victim}`).click();
  // Listed in force, and marked down in the Health table as the other nodes see it.
  const cutOff = active
    .getByTestId('active-fault')
    .filter({ hasText: new RegExp(`^node-${victim}: links to node-\\d, node-\\d cut, \\d+ s left$`) });
  await expect(cutOff).toBeVisible({ timeout: 15_000 });
  await expect(page.getByTestId(`fault-node-${victim}`)).toContainText('cut');
  await expect(async () => {
    const down = await page.locator(`tr[data-node="${victim}"][data-alive="false"]`).count();
    expect(down).toBeGreaterThan(0);
  }).toPass({ timeout: 15_000 });

  // The others go on with a leader among them.
  await expect(page.getByTestId('leader')).toContainText(new RegExp(`Leader: node-(?!${victim}\\b)\\d+`), {
    timeout: 15_000,
  });
  // The timeline shows the cut.
  await expect(page.getByTestId('timeline-summary')).toContainText(`node-${victim} cut off since`);
  // A booking made meanwhile through the leader, which the cut-off node cannot hear of yet.
  const booked = await bookThrough(page, await leaderNow(page, victim));

  await page.getByTestId('heal-all').click();
  await expect(active).toHaveText('None', { timeout: 15_000 });
  await expect(page.getByTestId(`fault-node-${victim}`)).toContainText('links healthy');
  await expect(page.getByTestId('health-summary')).toContainText('3 of 3 nodes healthy', { timeout: 15_000 });
  await expect(page.locator(`tr[data-node="${victim}"][data-alive]`)).toHaveAttribute('data-alive', 'true');
  await expect(page.getByTestId('timeline-summary')).toContainText(new RegExp(`node-${victim} cut off from \\d+ s to \\d+ s`));
  // Healed, it catches up: it holds the booking made while it was cut off.
  await expect
    .poll(async () => {
      const copy = await page.request.get(`/api/nodes/${victim}/bookings?id=${booked}`);
      return copy.ok() ? (await copy.json()).status : copy.status();
    }, { timeout: 20_000 })
    .toBe('confirmed');
});

test('killing a node stops its process, and restarting it runs it again', async ({ page }) => {
  await openAsOperator(page);
  const row = page.getByTestId('fault-node-3');

  await page.getByTestId('kill-3').click();
  await expect(row).toHaveAttribute('data-process', 'stopped', { timeout: 15_000 });
  await expect(page.getByTestId('active-faults')).toContainText('node-3: stopped');
  await expect(page.getByTestId('kill-3')).toHaveAttribute('aria-disabled', 'true');

  await page.getByTestId('restart-3').click();
  await expect(row).toHaveAttribute('data-process', 'running', { timeout: 15_000 });
  await expect(page.getByTestId('health-summary')).toContainText('3 of 3 nodes healthy', { timeout: 30_000 });
  await expect(page.getByTestId('active-faults')).toHaveText('None', { timeout: 15_000 });
});

test('an operator switches the gateway\'s balancing strategy', async ({ page }) => {
  await openAsOperator(page);
  const leastConnections = page.getByTestId('strategy-least_connections');
  const roundRobin = page.getByTestId('strategy-round_robin');
  await expect(roundRobin).toHaveAttribute('aria-pressed', 'true');

  await leastConnections.click();
  await expect(leastConnections).toHaveAttribute('aria-pressed', 'true', { timeout: 15_000 });
  const status = await (await page.request.get('/gateway/status')).json();
  expect(status.strategy).toBe('least_connections');
  // The switch is on the live feed.
  await expect(page.getByTestId('event-log').locator('li', { hasText: /gateway · strategySwitched/ }).first()).toBeVisible();

  // Back to the default, for whoever comes next.
  await roundRobin.click();
  await expect(roundRobin).toHaveAttribute('aria-pressed', 'true', { timeout: 15_000 });
});
