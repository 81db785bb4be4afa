// The ops page: polls /dashboard/api/ops and shows lag, rates, counts and service states.
(function () {
  'use strict';
  const { el, api, ApiError, errorText, formatSeconds, number } = window.RA;
  const $ = (id) => document.getElementById(id);
  const POLL_MS = 2000;

  const show = (v) => (v === null || v === undefined ? '–' : number.format(v));
  const perSecond = (v) => (v === null || v === undefined ? '–' : `${number.format(v)}/s`);
  const age = (v) => (v === null || v === undefined ? '–' : `${formatSeconds(v)}`);

  function tile(label, value, attrs) {
    return el('div', { class: 'tile' }, el('dt', { text: label }), el('dd', attrs || {}, value));
  }

  function render(ops) {
    $('ops-view').hidden = false;
    $('ops-error').textContent = '';
    $('ops-group').textContent = ops.lanes.map((lane) => lane.group).join(', ');
    $('ops-topic').textContent = ops.lanes.map((lane) => lane.topic).join(', ');
    $('ops-sampled').textContent = new Date(ops.sampledAt).toLocaleTimeString();
    const banner = $('lag-banner');
    banner.hidden = !ops.lagGrowth.alert;
    banner.textContent = ops.lagGrowth.alert
      ? `Lag has been growing for ${formatSeconds(ops.lagGrowth.seconds)}: the workers are not keeping up.`
      : '';
    const names = { kafka: 'Kafka', postgres: 'PostgreSQL', redis: 'Redis' };
    $('services').replaceChildren(...Object.entries(names).map(([key, name]) => {
      const s = ops.services[key];
      return tile(name, s.up ? 'up' : 'down', {
        class: 'state', 'data-up': String(s.up), 'data-service': key, title: s.error || 'answering',
      });
    }));
    $('figures').replaceChildren(
      tile('Total lag (events)', show(ops.totals.lag), { 'data-figure': 'lag' }),
      tile('Events/s in', perSecond(ops.rates.inPerSecond), { 'data-figure': 'in' }),
      tile('Events/s out', perSecond(ops.rates.outPerSecond), { 'data-figure': 'out' }),
      tile('Freshness (oldest partition)', age(ops.freshnessSeconds), { 'data-figure': 'freshness' }),
      tile('Dead-lettered', show(ops.deadLettered), { 'data-figure': 'dead' }),
      tile('Over limit this month', show(ops.overLimitThisMonth), { 'data-figure': 'over-limit' }),
      // Each lane on its own: the overflow lane holds a hot project's events (its lag
      // there delays only that project).
      ...ops.lanes.flatMap((lane) => [
        tile(`Lag, ${lane.lane} lane`, show(lane.totals.lag), { 'data-lane-figure': `${lane.lane}-lag` }),
        tile(`Freshness, ${lane.lane} lane`, age(lane.freshnessSeconds), { 'data-lane-figure': `${lane.lane}-freshness` }),
      ]),
    );
    $('partitions').tBodies[0].replaceChildren(...ops.partitions.map((p) =>
      el('tr', { 'data-lane': p.lane, 'data-partition': p.partition },
        el('th', { scope: 'row', text: `${p.lane}` }),
        el('th', { scope: 'row', text: String(p.partition) }),
        el('td', { text: show(p.logEnd) }),
        el('td', { text: show(p.committed) }),
        el('td', { text: show(p.lag) }),
        el('td', { text: age(p.freshnessSeconds) }))));
  }

  async function poll() {
    try {
      render(await api('api/ops'));
    } catch (error) {
      if (error instanceof ApiError && error.status === 401) {
        $('ops-error').replaceChildren('Not logged in. ', el('a', { href: './', text: 'Log in on the dashboard' }), '.');
        return; // no point polling until the user logs in
      }
      if (error instanceof ApiError && error.status === 403) {
        $('ops-error').textContent = 'The ops view is for operators. Your projects\' plan and usage: realanalytics projects show <project>.';
        return; // being an operator is granted on the server, not by waiting
      }
      $('ops-error').textContent = `Could not read the ops figures: ${errorText(error)}`;
    }
    setTimeout(poll, POLL_MS);
  }

  poll();
})();
