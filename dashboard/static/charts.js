// Shared by the dashboard and the ops page: the API helper, chart cards, the freshness
// badge and one renderer per query type. No build step: plain browser JavaScript.
(function () {
  'use strict';

  // At most this far behind still reads "up to date": the workers flush every ~0.5 s and
  // an idle partition ages the watermark (query_api/freshness.py), so some slack is honest.
  const UP_TO_DATE_SECONDS = 10;

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key === 'text') node.textContent = value;
      // Through the CSSOM: the Content-Security-Policy forbids inline style attributes.
      else if (key === 'style') node.style.cssText = value;
      else node.setAttribute(key, value === true ? '' : value);
    }
    for (const child of children) {
      if (child !== null && child !== undefined) node.append(child);
    }
    return node;
  }

  class ApiError extends Error {
    constructor(status, body) {
      super(body && body.error ? body.error : `HTTP ${status}`);
      this.status = status;
      this.body = body;
    }
  }

  // A 429 (the project's query share is busy) or 503 (the service is) with Retry-After is
  // asked again after that many seconds, a few times, before the card shows the error.
  const RETRIES = 3;
  const MAX_RETRY_SECONDS = 10;

  function retryDelay(response, attempt) {
    if (attempt >= RETRIES || (response.status !== 429 && response.status !== 503)) return null;
    const seconds = Number(response.headers.get('Retry-After'));
    if (!Number.isFinite(seconds) || seconds < 0) return null;
    return Math.min(seconds, MAX_RETRY_SECONDS) * 1000;
  }

  async function api(path, body) {
    const init = { credentials: 'same-origin', headers: { Accept: 'application/json' } };
    if (body !== undefined) {
      init.method = 'POST';
      init.headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    let response = await fetch(path, init);
    for (let attempt = 0; ; attempt += 1) {
      const delay = retryDelay(response, attempt);
      if (delay === null) break;
      await new Promise((resolve) => setTimeout(resolve, delay));
      response = await fetch(path, init);
    }
    let parsed = null;
    try {
      parsed = await response.json();
    } catch (_) {
      parsed = null;
    }
    if (!response.ok) throw new ApiError(response.status, parsed);
    return parsed;
  }

  function errorText(error) {
    if (!(error instanceof ApiError)) return String(error.message || error);
    const details = (error.body && error.body.details) || [];
    const fields = details.map((d) => `${d.field}: ${d.message}`).join('; ');
    return fields ? `${error.message} — ${fields}` : error.message;
  }

  function formatSeconds(seconds) {
    const s = Math.round(seconds);
    if (s < 120) return `${s} s`;
    if (s < 7200) return `${Math.round(s / 60)} min`;
    if (s < 172800) return `${Math.round(s / 3600)} h`;
    return `${Math.round(s / 86400)} d`;
  }

  // "up to date" or "N s behind", from the answer's meta.freshness.secondsBehind.
  function freshness(meta) {
    const behind = meta && meta.freshness ? meta.freshness.secondsBehind : null;
    if (behind === null || behind === undefined) {
      return { text: 'nothing applied yet', level: 'unknown' };
    }
    if (behind <= UP_TO_DATE_SECONDS) return { text: 'up to date', level: 'ok' };
    return { text: `${formatSeconds(behind)} behind`, level: behind > 300 ? 'stale' : 'warn' };
  }

  const UNIQUE_BY = { person: 'persons', distinctId: 'ids' };
  const number = new Intl.NumberFormat('en-US');
  const percent = new Intl.NumberFormat('en-US', { style: 'percent', maximumFractionDigits: 1 });

  let cardCount = 0;

  // A chart card: a titled region with a freshness badge, a source note and a body.
  function card(title, kind) {
    cardCount += 1;
    const titleId = `card-title-${cardCount}`;
    const badge = el('span', { class: 'badge', 'data-level': 'unknown', text: '…' });
    const source = el('span', { class: 'source' });
    const uniqueBy = el('span', { class: 'unique-by' });
    const body = el('div', { class: 'card-body' });
    const root = el(
      'section',
      { class: `card card-${kind}`, 'aria-labelledby': titleId, 'data-kind': kind },
      el('header', {}, el('h3', { id: titleId, text: title }), badge),
      body,
      el('footer', {}, source, uniqueBy),
    );
    return { root, body, badge, source, uniqueBy, plot: null, seq: 0 };
  }

  function setMeta(c, meta) {
    const f = freshness(meta);
    c.badge.textContent = f.text;
    c.badge.dataset.level = f.level;
    const fresh = meta && meta.freshness;
    c.badge.title = fresh && fresh.watermark
      ? `Every event received before ${fresh.watermark} is counted`
      : 'No event applied yet';
    const rollup = meta && meta.rollup ? ` (${meta.rollup} rollup)` : '';
    c.source.textContent = meta ? `from ${meta.source}${rollup}` : '';
    // What a unique count counts (issue 18): merged persons when read raw, ids from rollups.
    const by = meta && meta.uniqueBy ? UNIQUE_BY[meta.uniqueBy] || meta.uniqueBy : '';
    c.uniqueBy.textContent = by ? ` · unique ${by}` : '';
    if (by) c.uniqueBy.dataset.uniqueBy = meta.uniqueBy;
    else delete c.uniqueBy.dataset.uniqueBy;
    c.uniqueBy.title = meta && meta.uniqueBy === 'person'
      ? 'Ids merged by $identify count as one person'
      : by ? 'Rollups count distinct ids (an id merged later still counts apart)' : '';
  }

  function showError(c, error) {
    if (c.plot) {
      c.plot.destroy();
      c.plot = null;
    }
    c.body.replaceChildren(el('p', { class: 'error', role: 'alert', text: errorText(error) }));
    c.badge.textContent = 'error';
    c.badge.dataset.level = 'stale';
  }

  function showLoading(c) {
    c.root.setAttribute('aria-busy', 'true');
  }

  function timeLabel(t, interval) {
    // t is ISO 8601 with the requested timezone's offset: its wall-clock part is local.
    const date = t.slice(0, 10);
    const time = t.slice(11, 16);
    if (interval === 'day' || interval === 'week' || interval === 'month') return date;
    return `${date} ${time}`;
  }

  function plotWidth(host) {
    return Math.max(260, Math.floor(host.getBoundingClientRect().width) - 8);
  }

  function renderTimeseries(c, answer, seriesLabel) {
    if (c.plot) c.plot.destroy();
    const xs = answer.data.map((p) => Date.parse(p.t) / 1000);
    const ys = answer.data.map((p) => p.value);
    const host = el('div', { class: 'plot', role: 'img' });
    const total = ys.reduce((a, b) => a + b, 0);
    host.setAttribute(
      'aria-label',
      `${seriesLabel} per ${answer.interval}, ${answer.data.length} points, total ${number.format(total)}`,
    );
    const rows = answer.data.map((p) =>
      el('tr', {}, el('th', { scope: 'row' }, el('time', { datetime: p.t, text: timeLabel(p.t, answer.interval) })),
        el('td', { text: number.format(p.value) })),
    );
    const table = el('table', { class: 'data' },
      el('caption', { text: `${seriesLabel} per ${answer.interval} (${answer.timezone})` }),
      el('thead', {}, el('tr', {}, el('th', { scope: 'col', text: 'Start' }), el('th', { scope: 'col', text: 'Value' }))),
      el('tbody', {}, ...rows));
    const details = el('details', { class: 'table-toggle' },
      el('summary', { text: `Data table (${answer.data.length} points)` }), table);
    const summary = el('p', { class: 'summary' },
      `${number.format(total)} in ${answer.data.length} ${answer.interval} buckets, ${answer.timezone}`);
    c.body.replaceChildren(summary, host, details);
    const tz = answer.timezone;
    const opts = {
      width: plotWidth(c.body),
      height: 220,
      tzDate: (ts) => uPlot.tzDate(new Date(ts * 1e3), tz),
      scales: { x: { time: true }, y: { range: (u, min, max) => [0, Math.max(1, max * 1.1)] } },
      series: [
        { label: 'Time' },
        {
          label: seriesLabel,
          stroke: '#1d4ed8',
          width: 2,
          fill: 'rgba(29, 78, 216, 0.10)',
          points: { show: xs.length <= 48, size: 5 },
          value: (u, v) => (v === null ? '–' : number.format(v)),
        },
      ],
      axes: [
        { stroke: '#334155', grid: { stroke: '#e2e8f0' } },
        { stroke: '#334155', grid: { stroke: '#e2e8f0' }, size: 56 },
      ],
    };
    c.plot = new uPlot(opts, [xs, ys], host);
  }

  function renderMetric(c, answer, seriesLabel) {
    const change = answer.previous > 0 ? (answer.value - answer.previous) / answer.previous : null;
    const direction = change === null ? 'none' : change > 0 ? 'up' : change < 0 ? 'down' : 'flat';
    const changeText = change === null
      ? 'no previous data'
      : `${change > 0 ? '+' : ''}${percent.format(change)} vs previous period`;
    c.body.replaceChildren(
      el('p', { class: 'metric-value', 'data-value': answer.value, text: number.format(answer.value) }),
      el('p', { class: 'metric-label', text: seriesLabel }),
      el('p', { class: 'metric-previous', 'data-previous': answer.previous },
        `Previous period: ${number.format(answer.previous)} `,
        el('span', { class: `change change-${direction}`, text: `(${changeText})` })),
    );
  }

  function renderBreakdown(c, answer) {
    const rows = answer.data.map((d) => ({ key: d.key === null ? '(not set)' : d.key, value: d.value }));
    if (answer.other > 0) rows.push({ key: 'other', value: answer.other, other: true });
    const max = Math.max(1, ...rows.map((r) => r.value));
    if (rows.length === 0) {
      c.body.replaceChildren(el('p', { class: 'empty', text: 'No events in this range.' }));
      return;
    }
    const body = rows.map((r) =>
      el('tr', { class: r.other ? 'other' : null },
        el('th', { scope: 'row', text: r.key }),
        el('td', { class: 'num', text: number.format(r.value) }),
        el('td', { class: 'bar-cell', 'aria-hidden': 'true' },
          el('span', { class: 'bar', style: `width: ${(100 * r.value) / max}%` }))),
    );
    c.body.replaceChildren(el('table', { class: 'breakdown' },
      el('caption', { class: 'visually-hidden', text: `Top values of ${answer.breakdown}` }),
      el('thead', {}, el('tr', {},
        el('th', { scope: 'col', text: answer.breakdown }),
        el('th', { scope: 'col', class: 'num', text: 'Value' }),
        el('th', { scope: 'col', text: 'Share' }))),
      el('tbody', {}, ...body)));
  }

  function renderFunnel(c, answer) {
    const steps = answer.steps.map((s, i) =>
      el('li', { class: 'funnel-step' },
        el('div', { class: 'funnel-head' },
          el('span', { class: 'funnel-name', text: `${i + 1}. ${s.event}` }),
          el('span', { class: 'funnel-users', 'data-users': s.users, text: `${number.format(s.users)} users` })),
        el('div', { class: 'funnel-track', 'aria-hidden': 'true' },
          el('span', { class: 'bar', style: `width: ${100 * s.conversionFromFirst}%` })),
        el('p', { class: 'funnel-rates' },
          `${percent.format(s.conversionFromFirst)} of first step`,
          i > 0 ? ` · ${percent.format(s.conversionFromPrevious)} of previous` : '',
          s.medianSecondsToConvert !== null && s.medianSecondsToConvert !== undefined
            ? ` · median ${formatSeconds(s.medianSecondsToConvert)} to convert`
            : '')),
    );
    c.body.replaceChildren(el('ol', { class: 'funnel' }, ...steps));
  }

  // Renderers of further types, registered by their own files (cards_*.js).
  const renderers = {};

  function render(c, answer, seriesLabel) {
    c.root.removeAttribute('aria-busy');
    setMeta(c, answer.meta);
    if (answer.type === 'timeseries') renderTimeseries(c, answer, seriesLabel);
    else if (answer.type === 'metric') renderMetric(c, answer, seriesLabel);
    else if (answer.type === 'breakdown') renderBreakdown(c, answer);
    else if (answer.type === 'funnel') renderFunnel(c, answer);
    else if (renderers[answer.type]) renderers[answer.type](c, answer, seriesLabel);
  }

  // Runs one query for a card; a slower, older answer never overwrites a newer one.
  async function run(c, query, seriesLabel) {
    c.seq += 1;
    const mine = c.seq;
    showLoading(c);
    try {
      const answer = await api('/api/query', query);
      if (mine === c.seq) render(c, answer, seriesLabel);
    } catch (error) {
      if (mine === c.seq) {
        c.root.removeAttribute('aria-busy');
        showError(c, error);
      }
    }
  }

  function resize(cards) {
    for (const c of cards) {
      if (c.plot) c.plot.setSize({ width: plotWidth(c.body), height: 220 });
    }
  }

  window.RA = {
    el, api, ApiError, errorText, freshness, formatSeconds, card, run, resize, number, percent,
    renderers, renderBreakdown,
  };
})();
