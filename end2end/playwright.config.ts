import { defineConfig } from '@playwright/test';
import { OPERATOR } from './tests/helpers';

// The tests drive Debian's Chromium (never a downloaded browser) against a
// real `moviebook up` started on its own port with the test database.
const port = Number(process.env.E2E_PORT ?? 3100);

export default defineConfig({
  testDir: './tests',
  timeout: 60_000,
  expect: { timeout: 10_000 },
  retries: 0,
  workers: 1,
  reporter: 'list',
  use: {
    baseURL: `http://127.0.0.1:${port}`,
    browserName: 'chromium',
    trace: 'retain-on-failure',
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
      ],
    },
  },
  webServer: {
    command: `target/release/moviebook up --port ${port} --data-dir target/e2e-data`,
    cwd: '..',
    url: `http://127.0.0.1:${port}/api/movies`,
    // The first run creates the operator the monitor tests sign in as.
    // Operator actions come faster than a person's clicks, from one address
    // for every test; the limits have tests of their own (gateway.rs).
    env: { ...process.env, OPERATOR_PASSWORD: OPERATOR.password, SENSITIVE_RATE_PER_MINUTE: '600' } as Record<string, string>,
    reuseExistingServer: !process.env.CI,
    timeout: 120_000,
    stdout: 'pipe',
    stderr: 'pipe',
  },
});
