import { test, expect } from '@playwright/test';
import { open, watchForErrors } from './helpers';

test.beforeEach(async ({ page }) => watchForErrors(page));

test('the system monitor shows the cluster live and starts a Ring election', async ({ page }) => {
  await open(page, '/monitor');
  await expect(page.getByTestId('health-summary')).toContainText('nodes healthy');
  await expect(page.getByTestId('leader')).toContainText(/Leader: node-\d+, epoch \d+/);

  // Sampled heartbeats arrive over the WebSocket feed once a second.
  await expect(page.getByTestId('event-log').locator('li').first()).toContainText('heartbeat', { timeout: 15_000 });

  await page.getByTestId('ring-election').click();
  await expect(page.getByTestId('leader')).toContainText('algorithm ring');
  await expect(page.getByTestId('last-election')).toContainText('Last election: ring');
});
