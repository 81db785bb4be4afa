// The browser SDK's decisions, as pure functions: node --test sdks/js/test/
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const { _internal: ra } = require('../realanalytics.js');

test('backoff doubles, with jitter between half and all of it, capped', () => {
  const low = [1, 2, 3, 4].map((n) => ra.backoffDelay(n, null, () => 0));
  const high = [1, 2, 3, 4].map((n) => ra.backoffDelay(n, null, () => 1));
  assert.deepEqual(low, [500, 1000, 2000, 4000]);
  assert.deepEqual(high, [1000, 2000, 4000, 8000]);
  assert.equal(ra.backoffDelay(40, null, () => 1), 60000);
});

test('backoff is never sooner than Retry-After', () => {
  assert.equal(ra.backoffDelay(1, 5, () => 1), 5000);
  assert.equal(ra.backoffDelay(10, 1, () => 1), 60000);
});

test('Retry-After as seconds or an HTTP date', () => {
  assert.equal(ra.parseRetryAfter('3'), 3);
  assert.equal(ra.parseRetryAfter(null), null);
  assert.equal(ra.parseRetryAfter('soon'), null);
  const now = Date.UTC(2026, 1, 3, 12, 0, 0);
  assert.equal(ra.parseRetryAfter('Tue, 03 Feb 2026 12:00:10 GMT', now), 10);
});

test('answers map to actions', () => {
  assert.equal(ra.decide(200, { success: true }), 'sent');
  assert.equal(ra.decide(0, null), 'retry');
  assert.equal(ra.decide(503, { error: 'Service unavailable' }), 'retry');
  assert.equal(ra.decide(429, { error: 'Rate limit exceeded' }), 'retry');
  assert.equal(ra.decide(429, { code: 'EVENT_LIMIT_EXCEEDED' }), 'stop');
  assert.equal(ra.decide(400, { error: 'Validation failed', details: [] }), 'drop');
  assert.equal(ra.decide(401, { error: 'Invalid API key' }), 'drop');
  assert.equal(ra.decide(413, { error: 'Payload too large' }), 'split');
});

test('a session lasts while events are less than 30 minutes apart', () => {
  let n = 0;
  const newId = () => `s${++n}`;
  const t0 = Date.UTC(2026, 1, 3);
  const minute = 60 * 1000;
  let session = ra.touchSession(null, t0, undefined, newId);
  assert.equal(session.id, 's1');
  session = ra.touchSession(session, t0 + 29 * minute, undefined, newId);
  session = ra.touchSession(session, t0 + 58 * minute, undefined, newId);
  assert.equal(session.id, 's1'); // activity keeps it alive past 30 minutes in total
  session = ra.touchSession(session, t0 + 88 * minute, undefined, newId);
  assert.equal(session.id, 's2'); // exactly 30 idle minutes: a new session
  assert.equal(session.startedAt, t0 + 88 * minute);
  const clockBack = ra.touchSession(session, t0, undefined, newId);
  assert.equal(clockBack.id, 's3'); // a clock set back by more than a minute
});

test('batches hold at most 100 events; acknowledged ones leave the queue', () => {
  const queue = Array.from({ length: 250 }, (_, i) => ({ insertId: `id${i}` }));
  const batch = ra.takeBatch(queue, 100);
  assert.equal(batch.length, 100);
  assert.equal(ra.takeBatch(queue, 500).length, 100);
  assert.equal(ra.takeBatch(queue, 7).length, 7);
  const rest = ra.removeSent(queue, batch);
  assert.equal(rest.length, 150);
  assert.equal(rest[0].insertId, 'id100');
});

test('Beacon bodies are envelopes within the size limit and 100 events', () => {
  const events = Array.from({ length: 230 }, (_, i) => ({ event: 'e', insertId: `id${i}` }));
  const { bodies, count } = ra.beaconBodies('pk_test', events, 60000);
  assert.equal(count, 230);
  assert.deepEqual(bodies.map((b) => JSON.parse(b).events.length), [100, 100, 30]);
  assert.equal(JSON.parse(bodies[0]).apiKey, 'pk_test');
  const big = { event: 'e', properties: { blob: 'x'.repeat(2000) } };
  const small = ra.beaconBodies('pk_test', Array(10).fill(big), 5000);
  assert.ok(small.bodies.every((b) => Buffer.byteLength(b) <= 5000));
  assert.equal(small.count, 10);
  const huge = ra.beaconBodies('pk_test', [{ blob: 'x'.repeat(9000) }], 5000);
  assert.equal(huge.count, 0); // left in the queue for the next page load
});

test('the monthly limit pauses until the first of next month, UTC', () => {
  assert.equal(ra.nextMonthStart(Date.UTC(2026, 1, 17, 9)), Date.UTC(2026, 2, 1));
  assert.equal(ra.nextMonthStart(Date.UTC(2026, 11, 31, 23, 59)), Date.UTC(2027, 0, 1));
});

test('ids are UUIDs, with or without crypto.randomUUID', () => {
  const pattern = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
  assert.match(ra.uuid(), pattern);
  const saved = globalThis.crypto.randomUUID;
  try {
    globalThis.crypto.randomUUID = undefined;
    assert.match(ra.uuid(), pattern);
  } finally {
    globalThis.crypto.randomUUID = saved;
  }
});

test('track before init is refused without throwing', () => {
  const sdk = require('../realanalytics.js');
  const saved = console.warn;
  const warnings = [];
  console.warn = (...args) => warnings.push(args.join(' '));
  try {
    assert.equal(sdk.track('early'), false);
    assert.equal(sdk.track('early again'), false);
  } finally {
    console.warn = saved;
  }
  assert.equal(warnings.length, 1);
  assert.match(warnings[0], /before init/);
});
