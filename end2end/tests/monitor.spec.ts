import { test, expect } from '@playwright/test';
import * as path from 'path';
import { open, watchForErrors, bookAFreeSeat, signInAsOperator, OPERATOR } from './helpers';

test.beforeEach(async ({ page }) => watchForErrors(page));

test('the system monitor shows the three-node cluster live and starts a Ring election', async ({ page }) => {
  await open(page, '/monitor');
  // `moviebook up` runs three node processes behind the gateway.
  await expect(page.getByTestId('health-summary')).toContainText('3 of 3 nodes healthy');
  await expect(page.getByTestId('leader')).toContainText(/Leader: node-\d+, epoch \d+/);

  // Sampled heartbeats of every node arrive over the gateway's merged feed.
  const log = page.getByTestId('event-log');
  for (const node of ['node-1', 'node-2', 'node-3']) {
    await expect(log.locator('li', { hasText: `${node} · heartbeat` }).first()).toBeVisible({ timeout: 15_000 });
  }

  // Every node's clocks, from its heartbeats: Lamport time, vector clock, offset.
  const clocks = page.getByTestId('node-clocks');
  await expect(clocks.locator('tbody tr')).toHaveCount(3);
  await expect(clocks.locator('tr[data-node="2"]')).toContainText(/node-2: \d+/);
  await expect(clocks.locator('tr[data-node="2"]')).toContainText(/[+-]\d+\.\d ms/);
  // The three-node cluster, live: the picture in README.md and docs/.
  // Taken only when asked (SCREENSHOTS=1), so a test run leaves the checkout as it found it.
  if (process.env.SCREENSHOTS) {
    await page.screenshot({ path: path.join(__dirname, '../../docs/images/monitor.png'), fullPage: true });
  }

  // A booking made meanwhile (here through the REST API) reaches the other
  // nodes as copies pushed by the leader, counted live from the feed.
  const booked = await bookAFreeSeat(page, 5, 'monitor-watcher');
  expect(booked.status()).toBe(201);
  const traffic = page.getByTestId('traffic');
  await expect(traffic.locator('tbody tr').first()).toContainText(/node-\d/);
  await expect(traffic.locator('tbody td:nth-child(3)').filter({ hasNotText: /^0$/ }).first()).toBeVisible();

  await signInAsOperator(page);
  await page.getByTestId('ring-election').click();
  await expect(page.getByTestId('leader')).toContainText('algorithm ring');
  await expect(page.getByTestId('last-election')).toContainText('Last election: ring');
  // The election's request went through the gateway, which reports its choice.
  await expect(log.locator('li', { hasText: /gateway · POST \/sfn\S* → node-\d/ }).first()).toBeVisible();
});

test('the monitor shows every replica and switches the replication mode of the whole cluster', async ({ page }) => {
  await open(page, '/monitor');
  const panel = page.getByTestId('replication');
  const replicas = panel.getByTestId('replicas');
  await expect(replicas.locator('tbody tr')).toHaveCount(3);
  for (const node of ['1', '2', '3']) {
    await expect(replicas.locator(`tr[data-node="${node}"]`)).not.toContainText('unreachable');
  }
  await expect(panel.getByTestId('replication-mode')).toContainText('master-slave / strong');
  await signInAsOperator(page);

  // A combination that makes no sense is refused, with the reason.
  await panel.getByTestId('strategy').selectOption('gossip');
  await panel.getByTestId('consistency').selectOption('strong');
  await panel.getByTestId('switch-mode').click();
  await expect(panel.getByRole('alert')).toContainText('Gossip cannot be strong');
  await expect(panel.getByTestId('replication-mode')).toContainText('master-slave / strong');

  // Gossip with causal consistency: every node switches, and a booking made
  // now records the mode and reaches every replica.
  await panel.getByTestId('consistency').selectOption('causal');
  await panel.getByTestId('switch-mode').click();
  await expect(panel.getByTestId('replication-mode')).toContainText('gossip / causal');
  for (const node of [1, 2, 3]) {
    const mode = await (await page.request.get('/api/replication')).json();
    expect(`${mode.strategy}/${mode.consistency}`, `answer ${node}`).toBe('gossip/causal');
  }
  let confirmedBefore: number[] = [];
  await expect(async () => {
    const view = await (await page.request.get('/api/replicas')).json();
    expect(view.replicas.map((r: any) => r.behind)).toEqual([0, 0, 0]);
    confirmedBefore = view.replicas.map((r: any) => r.confirmed);
  }).toPass({ timeout: 15_000 });
  const booked = await bookAFreeSeat(page, 7, 'replica-watcher');
  expect(booked.status()).toBe(201);
  expect((await booked.json()).mode).toBe('gossip/causal');
  // The rows follow the reports every node puts on the feed each second:
  // the booking is counted on all three without reloading the page.
  for (const [i, node] of ['1', '2', '3'].entries()) {
    await expect(replicas.locator(`tr[data-node="${node}"] td:nth-child(4)`))
      .toHaveText(String(confirmedBefore[i] + 1), { timeout: 15_000 });
  }
  await expect(async () => {
    const view = await (await page.request.get('/api/replicas')).json();
    expect(view.replicas.map((r: any) => r.behind)).toEqual([0, 0, 0]);
  }).toPass({ timeout: 15_000 });
  // The other replicas list it among the changes they took, with how it
  // came and how long it took to arrive.
  const bookingId: string = (await booked.json()).id;
  const taken = panel.getByTestId('taken-changes');
  await expect(taken).toContainText(new RegExp(`${bookingId.slice(0, 8)}\\S* confirmed from node-\\d by (gossip|pull|push), \\d+ ms`), { timeout: 15_000 });
  await expect(replicas).toContainText(/\d+ \/ \d+ ms/);
  // Every replica's lag drawn over time, report after report.
  const chart = panel.getByTestId('lag-chart');
  await expect(chart.locator('li polyline')).toHaveCount(3);
  await expect(chart.locator('li').first()).toContainText(/node-\d: \d+ ms now, up to \d+ ms/);

  // And back to the default, for whoever comes next.
  await panel.getByTestId('strategy').selectOption('master-slave');
  await panel.getByTestId('consistency').selectOption('strong');
  await panel.getByTestId('switch-mode').click();
  await expect(panel.getByTestId('replication-mode')).toContainText('master-slave / strong');
});

test('anyone may watch the monitor, and only a signed-in operator sees and uses its controls', async ({ page }) => {
  await open(page, '/monitor');
  await expect(page.getByTestId('health-summary')).toContainText('3 of 3 nodes healthy');
  await expect(page.getByTestId('operator')).toContainText('Everyone may watch the cluster here');
  await expect(page.getByTestId('bully-election')).toHaveCount(0);
  await expect(page.getByTestId('switch-mode')).toHaveCount(0);
  // The API refuses an operator's action to anyone else.
  const anonymous = await page.request.post('/api/election', { data: { algorithm: 'bully' } });
  expect(anonymous.status()).toBe(401);
  expect((await anonymous.json()).error.code).toBe('sign_in_required');

  // A wrong password is refused, and says so without saying which part was wrong.
  await signInAsOperator(page, 'not the password');
  await expect(page.getByTestId('operator').getByRole('alert')).toHaveText('Wrong operator name or password.');
  await expect(page.getByTestId('bully-election')).toHaveCount(0);

  await signInAsOperator(page);
  await expect(page.getByTestId('signed-in-operator')).toContainText(`Signed in as ${OPERATOR.name}`);
  await expect(page.getByTestId('bully-election')).toBeVisible();
  await expect(page.getByTestId('switch-mode')).toBeVisible();
  // The session is an HttpOnly cookie: the page's scripts cannot read it.
  expect(await page.evaluate(() => document.cookie)).not.toContain('mb_operator');
  const cookie = (await page.context().cookies()).find((c) => c.name === 'mb_operator');
  expect(cookie?.httpOnly).toBe(true);
  expect(cookie?.sameSite).toBe('Strict');
  // Signed in, the same request goes through, on whichever node the gateway picks.
  const started = await page.request.post('/api/election', { data: { algorithm: 'bully' } });
  expect(started.status()).toBe(202);
  // It survives a reload.
  await open(page, '/monitor');
  await expect(page.getByTestId('bully-election')).toBeVisible();

  await page.getByTestId('operator-sign-out').click();
  await expect(page.getByTestId('operator')).toContainText('Everyone may watch the cluster here');
  await expect(page.getByTestId('bully-election')).toHaveCount(0);
  const after = await page.request.post('/api/election', { data: { algorithm: 'bully' } });
  expect(after.status()).toBe(401);
});
