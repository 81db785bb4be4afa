/*! realanalytics browser SDK v0.1.0 | Apache-2.0 | no dependencies */
/*
 * One file, UMD: a <script> tag defines window.realanalytics; CommonJS/bundlers get the
 * same object from require(). The decisions (backoff, answer handling, session rotation,
 * batching, Beacon chunks) are pure functions exported as `_internal` for node --test.
 */
(function (root, factory) {
  if (typeof module === 'object' && module.exports) {
    module.exports = factory();
  } else {
    root.realanalytics = factory();
  }
})(typeof self !== 'undefined' ? self : this, function () {
  'use strict';

  var VERSION = '0.1.0';
  var MAX_BATCH = 100; // the gateway's limit per request
  var SESSION_TIMEOUT_MS = 30 * 60 * 1000;
  var BEACON_MAX_BYTES = 60000; // browsers cap queued Beacon data at 64 KiB
  var BASE_DELAY_MS = 1000;
  var MAX_DELAY_MS = 60000;

  // ------------------------------------------------------------------ pure functions

  /** Milliseconds before retry number `attempt` (1 = first): exponential, "equal jitter"
   * (half fixed, half random), capped; never sooner than the server's Retry-After. */
  function backoffDelay(attempt, retryAfterSeconds, rand, baseMs, capMs) {
    var base = baseMs || BASE_DELAY_MS;
    var cap = capMs || MAX_DELAY_MS;
    var exponential = Math.min(cap, base * Math.pow(2, Math.max(0, attempt - 1)));
    var delay = exponential / 2 + (rand ? rand() : Math.random()) * (exponential / 2);
    if (retryAfterSeconds != null) delay = Math.max(delay, retryAfterSeconds * 1000);
    return delay;
  }

  /** Retry-After as seconds: delta-seconds or an HTTP date; null if absent or invalid. */
  function parseRetryAfter(value, nowMs) {
    if (value == null || value === '') return null;
    var text = String(value).trim();
    if (/^\d+(\.\d+)?$/.test(text)) return Number(text);
    var when = Date.parse(text);
    if (isNaN(when)) return null;
    return Math.max(0, (when - (nowMs == null ? Date.now() : nowMs)) / 1000);
  }

  /** What to do with an answer: 'sent' | 'retry' | 'drop' | 'split' | 'stop'.
   * `status` 0 means no answer (network error, CORS failure, offline). */
  function decide(status, body) {
    if (status >= 200 && status < 300) return 'sent';
    if (status === 429 && body && body.code === 'EVENT_LIMIT_EXCEEDED') return 'stop';
    if (status === 413) return 'split';
    if (status === 0 || status === 408 || status === 429 || status >= 500) return 'retry';
    return 'drop';
  }

  /** The session to use for an event at `nowMs`: the same one while the previous event
   * is less than `timeoutMs` old, otherwise a new one from `newId()`. */
  function touchSession(session, nowMs, timeoutMs, newId) {
    var timeout = timeoutMs || SESSION_TIMEOUT_MS;
    if (!session || !session.id || !(nowMs - session.lastActivity < timeout) ||
        nowMs < session.lastActivity - 60000) {
      return { id: newId(), lastActivity: nowMs, startedAt: nowMs };
    }
    return { id: session.id, lastActivity: nowMs, startedAt: session.startedAt };
  }

  /** The first `max` (at most 100) events of the queue, to send as one request. */
  function takeBatch(queue, max) {
    return queue.slice(0, Math.max(1, Math.min(max || MAX_BATCH, MAX_BATCH)));
  }

  /** The queue without the events whose insertId is in `sent`. */
  function removeSent(queue, sent) {
    var ids = {};
    for (var i = 0; i < sent.length; i++) ids[sent[i].insertId] = true;
    return queue.filter(function (event) { return !ids[event.insertId]; });
  }

  /** Envelope bodies for sendBeacon: each at most `maxBytes` (UTF-8) and 100 events.
   * Returns {bodies: [json, …], count: events covered}; an event that alone exceeds the
   * limit is left out (it stays queued for the next page load). */
  function beaconBodies(apiKey, events, maxBytes) {
    var limit = maxBytes || BEACON_MAX_BYTES;
    var bodies = [];
    var current = [];
    var count = 0;
    var overhead = byteLength(JSON.stringify({ apiKey: apiKey, events: [] }));
    var size = overhead;
    for (var i = 0; i < events.length; i++) {
      var eventSize = byteLength(JSON.stringify(events[i])) + 1;
      if (overhead + eventSize > limit) break;
      if (current.length === MAX_BATCH || size + eventSize > limit) {
        bodies.push(JSON.stringify({ apiKey: apiKey, events: current }));
        current = [];
        size = overhead;
      }
      current.push(events[i]);
      size += eventSize;
      count++;
    }
    if (current.length) bodies.push(JSON.stringify({ apiKey: apiKey, events: current }));
    return { bodies: bodies, count: count };
  }

  function byteLength(text) {
    if (typeof TextEncoder !== 'undefined') return new TextEncoder().encode(text).length;
    return unescape(encodeURIComponent(text)).length;
  }

  /** The first instant (ms) of the next calendar month in UTC: when the quota resets. */
  function nextMonthStart(nowMs) {
    var now = new Date(nowMs);
    return Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1);
  }

  function uuid() {
    var c = typeof crypto !== 'undefined' ? crypto : null;
    if (c && typeof c.randomUUID === 'function') return c.randomUUID();
    var bytes = new Uint8Array(16);
    if (c && typeof c.getRandomValues === 'function') {
      c.getRandomValues(bytes);
    } else {
      for (var i = 0; i < 16; i++) bytes[i] = Math.floor(Math.random() * 256);
    }
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    var hex = [];
    for (var j = 0; j < 16; j++) hex.push((bytes[j] + 0x100).toString(16).slice(1));
    return hex.slice(0, 4).join('') + '-' + hex.slice(4, 6).join('') + '-' +
      hex.slice(6, 8).join('') + '-' + hex.slice(8, 10).join('') + '-' + hex.slice(10).join('');
  }

  // ------------------------------------------------------------------ storage

  function makeStorage(prefix) {
    var memory = {};
    var local = null;
    try {
      local = window.localStorage;
      local.setItem(prefix + 'probe', '1');
      local.removeItem(prefix + 'probe');
    } catch (e) {
      local = null; // private mode, disabled storage: keep state in memory only
    }
    return {
      get: function (key) {
        var raw = local ? local.getItem(prefix + key) : memory[key];
        if (raw == null) return null;
        try { return JSON.parse(raw); } catch (e) { return null; }
      },
      set: function (key, value) {
        var raw = JSON.stringify(value);
        if (local) {
          try { local.setItem(prefix + key, raw); return; } catch (e) { /* quota: memory */ }
        }
        memory[key] = raw;
      },
    };
  }

  // ------------------------------------------------------------------ the client

  var DEFAULTS = {
    host: 'https://ingest.realanalytics.dev',
    autocapture: true, // $pageview on load
    capturePageviewsOnHistory: true, // ... and on pushState/replaceState/popstate
    flushInterval: 3000, // ms: the time bound of a batch
    batchSize: MAX_BATCH,
    maxQueueSize: 1000, // persisted events at most; newer ones are dropped when full
    sessionTimeout: SESSION_TIMEOUT_MS,
    maxRetries: 10, // per batch, then it is dropped
    debug: false,
  };

  function Client() {
    this.initialized = false;
    this.warned = {};
  }

  Client.prototype.init = function (apiKey, options) {
    if (this.initialized) return this;
    if (!apiKey || String(apiKey).indexOf('sk_') === 0) {
      throw new Error('realanalytics: init needs the project public key (pk_…)');
    }
    var config = {};
    var key;
    for (key in DEFAULTS) config[key] = DEFAULTS[key];
    for (key in options || {}) config[key] = options[key];
    this.apiKey = apiKey;
    this.config = config;
    this.storage = makeStorage('ra_' + String(apiKey).slice(-12) + '_');
    this.distinctId = this.storage.get('distinct_id') || this._anonymousId();
    this.identified = !!this.storage.get('identified');
    this.session = this.storage.get('session');
    this.sending = false;
    this.attempt = 0;
    this.retryTimer = null;
    this.stoppedUntil = 0; // over the monthly limit: until the next month or page load
    this.batchLimit = config.batchSize;
    this.lastPath = null;
    this.initialized = true;
    this.storage.set('distinct_id', this.distinctId);

    var self = this;
    if (config.autocapture) this._pageview(document.referrer);
    if (config.autocapture && config.capturePageviewsOnHistory) this._watchHistory();
    window.addEventListener('pagehide', function () { self._flushWithBeacon(); });
    document.addEventListener('visibilitychange', function () {
      if (document.visibilityState === 'hidden') self._flushWithBeacon();
    });
    this.interval = setInterval(function () { self.flush(); }, config.flushInterval);
    this.flush(); // what a previous page load left in the queue
    return this;
  };

  Client.prototype.track = function (event, properties) {
    if (!this.initialized) {
      // Analytics must never break the page: refuse, say why once, carry on.
      this._warnOnce('not-initialized', 'track() before init(publicKey): event dropped', event);
      return false;
    }
    if (typeof event !== 'string' || event.length < 1 || event.length > 100) {
      this._warnOnce('event-name', 'event names are strings of 1 to 100 characters', event);
      return false;
    }
    var now = Date.now();
    if (this.stoppedUntil > now) return false;
    // Browser, OS, device, country and campaign are added by the workers from the
    // request (docs/analytics.md): one parser for every SDK.
    var props = { $pathname: location.pathname };
    for (var name in properties || {}) props[name] = properties[name];
    this.session = touchSession(this.session, now, this.config.sessionTimeout, uuid);
    this.storage.set('session', this.session);
    var queue = this._queue();
    if (queue.length >= this.config.maxQueueSize) {
      this._warnOnce('queue-full', 'queue full (' + queue.length + ' events): event dropped');
      return false;
    }
    queue.push({
      event: event,
      timestamp: new Date(now).toISOString(),
      distinctId: this.distinctId,
      sessionId: this.session.id,
      properties: props,
      insertId: uuid(),
    });
    this.storage.set('queue', queue);
    if (queue.length >= this.batchLimit) this.flush();
    return true;
  };

  /** The visitor is the user known as distinctId from now on. The first identify after
   * an anonymous visit sends $identify, which merges the anonymous id into the known one
   * for good (its earlier events count for the same person); switching between known ids
   * merges nothing. */
  Client.prototype.identify = function (distinctId) {
    if (!distinctId) return;
    var known = String(distinctId);
    if (known === this.distinctId) return;
    var anonymous = this.identified ? null : this.distinctId;
    this.distinctId = known;
    this.identified = true;
    this.storage.set('distinct_id', this.distinctId);
    this.storage.set('identified', true);
    if (anonymous !== null) this.track('$identify', { $anonDistinctId: anonymous });
  };

  /** Forget the user (e.g. on logout): a new anonymous id and a new session. */
  Client.prototype.reset = function () {
    this.distinctId = this._anonymousId();
    this.identified = false;
    this.session = null;
    this.storage.set('distinct_id', this.distinctId);
    this.storage.set('identified', false);
    this.storage.set('session', null);
  };

  /** Send one batch now (if none is in flight or waiting to be retried). */
  Client.prototype.flush = function () {
    if (!this.initialized || this.sending || this.retryTimer) return;
    if (this.stoppedUntil > Date.now()) return;
    var batch = takeBatch(this._queue(), this.batchLimit);
    if (!batch.length) return;
    var self = this;
    this.sending = true;
    var body = JSON.stringify({ apiKey: this.apiKey, events: batch });
    // text/plain + the envelope: a "simple" CORS request, so no preflight round trip.
    fetch(this.config.host, {
      method: 'POST',
      body: body,
      headers: { 'Content-Type': 'text/plain' },
      keepalive: body.length < BEACON_MAX_BYTES, // may finish even if the page unloads
    })
      .then(function (response) {
        return response.text().then(function (text) {
          var parsed = null;
          try { parsed = JSON.parse(text); } catch (e) { /* not JSON */ }
          self._settle(batch, response.status, parsed, response.headers.get('Retry-After'));
        });
      }, function () {
        self._settle(batch, 0, null, null);
      });
  };

  Client.prototype._settle = function (batch, status, body, retryAfter) {
    this.sending = false;
    var action = decide(status, body);
    if (action === 'retry' && this.attempt < this.config.maxRetries) {
      this.attempt++;
      var self = this;
      var delay = backoffDelay(this.attempt, parseRetryAfter(retryAfter));
      this._debug('retrying in ' + Math.round(delay) + ' ms after HTTP ' + status);
      this.retryTimer = setTimeout(function () { self.retryTimer = null; self.flush(); }, delay);
      return;
    }
    this.attempt = 0;
    if (action === 'split' && batch.length > 1) {
      this.batchLimit = Math.max(1, Math.floor(batch.length / 2));
      this.flush();
      return;
    }
    if (action === 'stop') {
      this.stoppedUntil = nextMonthStart(Date.now());
      this._warnOnce('limit', 'monthly event limit exceeded: not sending until next month', body);
      this.storage.set('queue', []);
      return;
    }
    if (action === 'drop' || action === 'split' || action === 'retry') {
      this._warnOnce('drop-' + status, 'events refused (HTTP ' + status + '), not retried', body);
    }
    var rest = removeSent(this._queue(), batch);
    this.storage.set('queue', rest);
    if (action === 'sent') this.batchLimit = this.config.batchSize;
    if (rest.length && (action === 'sent' || action === 'drop')) this.flush();
  };

  Client.prototype._flushWithBeacon = function () {
    if (!this.initialized || this.stoppedUntil > Date.now()) return;
    var queue = this._queue();
    if (!queue.length || !navigator.sendBeacon) return;
    var chunks = beaconBodies(this.apiKey, queue, BEACON_MAX_BYTES);
    var sent = 0;
    for (var i = 0; i < chunks.bodies.length; i++) {
      // A string body is sent as text/plain;charset=UTF-8, which the gateway accepts.
      if (!navigator.sendBeacon(this.config.host, chunks.bodies[i])) break;
      sent += JSON.parse(chunks.bodies[i]).events.length;
    }
    // Handed to the browser: it delivers them even after the page is gone. What it
    // refused stays queued for the next page load.
    this.storage.set('queue', queue.slice(sent));
  };

  Client.prototype._pageview = function (referrer) {
    var path = location.pathname;
    if (path === this.lastPath) return; // replaceState of the same path, hash changes
    this.lastPath = path;
    this.track('$pageview', {
      $pathname: path,
      $referrer: referrer || '',
      $url: location.href,
      $title: document.title,
    });
  };

  Client.prototype._watchHistory = function () {
    var self = this;
    var previous = location.href;
    function changed() {
      var referrer = previous;
      previous = location.href;
      self._pageview(referrer);
    }
    ['pushState', 'replaceState'].forEach(function (method) {
      var original = history[method];
      history[method] = function () {
        var result = original.apply(this, arguments);
        changed();
        return result;
      };
    });
    window.addEventListener('popstate', changed);
  };

  Client.prototype._queue = function () {
    var queue = this.storage.get('queue');
    return Array.isArray(queue) ? queue : [];
  };

  Client.prototype._anonymousId = function () {
    return 'anon-' + uuid();
  };

  Client.prototype._warnOnce = function (key, message, detail) {
    if (this.warned[key]) return;
    this.warned[key] = true;
    if (typeof console !== 'undefined') console.warn('realanalytics: ' + message, detail || '');
  };

  Client.prototype._debug = function (message) {
    if (this.config.debug && typeof console !== 'undefined') {
      console.log('realanalytics: ' + message);
    }
  };

  var client = new Client();

  return {
    VERSION: VERSION,
    init: function (apiKey, options) { return client.init(apiKey, options); },
    track: function (event, properties) { return client.track(event, properties); },
    identify: function (distinctId) { return client.identify(distinctId); },
    reset: function () { return client.reset(); },
    flush: function () { return client.flush(); },
    get distinctId() { return client.distinctId; },
    get sessionId() { return client.session ? client.session.id : null; },
    _client: client,
    _internal: {
      backoffDelay: backoffDelay,
      parseRetryAfter: parseRetryAfter,
      decide: decide,
      touchSession: touchSession,
      takeBatch: takeBatch,
      removeSent: removeSent,
      beaconBodies: beaconBodies,
      nextMonthStart: nextMonthStart,
      uuid: uuid,
    },
  };
});
