// Given checks that answer, fail or hang, runChecks reports each by name and is ready exactly
// when every required one answered.
import { runChecks, type ReadinessCheck } from './readiness';

const up = (name: string, required?: boolean): ReadinessCheck => ({
  name,
  required,
  check: () => Promise.resolve(),
});
const down = (name: string, required?: boolean): ReadinessCheck => ({
  name,
  required,
  check: () => Promise.reject(new Error(`${name} refused`)),
});
const hangs = (name: string): ReadinessCheck => ({
  name,
  check: () => new Promise<void>(() => undefined),
});

describe('readiness', () => {
  it('is ready when every check answers', async () => {
    const report = await runChecks([up('postgres'), up('kafka', false)], 100);
    expect(report.ready).toBe(true);
    expect(report.checks['postgres']).toMatchObject({ status: 'up', required: true });
    expect(report.checks['kafka']).toMatchObject({ status: 'up', required: false });
  });

  it('stays ready with a dependency down that it does not require, and says it is down', async () => {
    const report = await runChecks([up('postgres'), down('kafka', false)], 100);
    expect(report.ready).toBe(true);
    expect(report.checks['kafka']).toMatchObject({
      status: 'down',
      required: false,
      error: 'kafka refused',
    });
  });

  it('is not ready when a required dependency fails or does not answer in time', async () => {
    expect((await runChecks([down('postgres'), up('kafka', false)], 100)).ready).toBe(false);
    const hanging = await runChecks([hangs('mongodb')], 50);
    expect(hanging.ready).toBe(false);
    expect(hanging.checks['mongodb']).toMatchObject({
      status: 'down',
      required: true,
      error: 'no answer within 50 ms',
    });
  });
});
