import t from 'tap';
import { nextRunAfter, validateCadence } from '../../src/service/schedule-time.ts';

t.test('intervals: next run is the interval after; too short or fractional is refused', async (t) => {
  const at = new Date('2026-01-01T00:00:00Z');
  t.equal(nextRunAfter({ intervalSeconds: 900 }, at)?.toISOString(), '2026-01-01T00:15:00.000Z');
  t.throws(() => validateCadence({ intervalSeconds: 30 }), /at least 60/);
  t.throws(() => validateCadence({ intervalSeconds: 90.5 }), /whole number of seconds/);
  t.doesNotThrow(() => validateCadence({ intervalSeconds: 3600 }));
});

t.test('cron: next occurrence after a time, in the schedule time zone', async (t) => {
  const at = new Date('2026-03-02T05:59:00Z'); // a Monday
  t.equal(nextRunAfter({ cron: '0 6 * * 1-5' }, at)?.toISOString(), '2026-03-02T06:00:00.000Z');
  t.equal(nextRunAfter({ cron: '0 6 * * 1-5', timezone: 'Europe/Berlin' }, at)?.toISOString(), '2026-03-03T05:00:00.000Z', '06:00 in Berlin is 05:00 UTC, and 06:00 Berlin on the 2nd has passed');
  t.equal(nextRunAfter({ cron: '0 6 * * 1-5' }, new Date('2026-03-06T07:00:00Z'))?.toISOString(), '2026-03-09T06:00:00.000Z', 'skips the weekend');
});

t.test('cron: bad expressions and too-frequent ones are refused with a message that teaches', async (t) => {
  t.throws(() => validateCadence({ cron: 'every monday' }), /is not valid.*five fields/);
  t.throws(() => validateCadence({ cron: '0 6 * * *', timezone: 'Mars/Olympus' }), /not an IANA time zone/);
  t.throws(() => validateCadence({ cron: '* * * * * *' }), /more often than every 60 seconds/);
  t.doesNotThrow(() => validateCadence({ cron: '*/5 * * * *' }));
});
