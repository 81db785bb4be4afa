// The ops page. Everyone logged in sees this month's usage of the projects they may read
// (/dashboard/api/ops/projects: their own, or every project for an operator); operators
// also see the pipeline (/dashboard/api/ops: lag, rates, counts and service states).
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

  function renderProjects(usage) {
    const everyone = usage.scope === 'all';
    $('ops-heading').textContent = everyone ? 'Stream lag and health' : 'Your projects';
    $('projects-heading').textContent = everyone
      ? `Every project, ${usage.month}`
      : `Usage, ${usage.month}`;
    $('projects-hint').textContent = usage.projects.length
      ? `Events counted this month (UTC) against each project's limit; overage is what was counted past it (${show(usage.overageThisMonth)} in all).`
      : (everyone ? 'No projects yet.' : 'You are not a member of any project yet.');
    $('projects').tBodies[0].replaceChildren(...usage.projects.map((p) =>
      el('tr', { 'data-project': p.slug, 'data-over': String(p.overage > 0) },
        el('th', { scope: 'row', text: p.name, title: p.slug }),
        el('td', { text: p.plan, 'data-column': 'plan' }),
        el('td', { text: show(p.used), 'data-column': 'used' }),
        el('td', { text: show(p.limit), 'data-column': 'limit' }),
        el('td', { text: show(p.remaining), 'data-column': 'remaining' }),
        el('td', { text: show(p.overage), 'data-column': 'overage' }))));
    $('projects-view').hidden = false;
  }

  // Partitions whose stored offsets contradict Kafka (its topic recreated, its data
  // wiped): the workers apply nothing there until an operator recovers them. The banner
  // is made here, above the lag one, so the page's HTML stays as it is.
  function renderHeld(held) {
    let banner = $('held-banner');
    if (!banner) {
      banner = el('div', { id: 'held-banner', class: 'banner', role: 'alert' });
      $('lag-banner').before(banner);
    }
    banner.hidden = !held.length;
    banner.textContent = held.length
      ? `${held.length} partition(s) held, inconsistent with Kafka — nothing is applied there until an operator recovers them (docs/operations.md, "Kafka was reset"). `
        + held.map((p) => `${workers(p)} ${p.partition}: ${p.inconsistency}`).join('; ')
      : '';
  }

  // A lane of the default shard is named as before; another shard's workers carry its
  // name (contracts/shards.py: each shard has consumer groups of its own).
  function workers(p) {
    return p.shard && p.shard !== 'default' ? `${p.shard} ${p.lane}` : p.lane;
  }

  function workersKey(p) {
    return p.shard && p.shard !== 'default' ? `${p.shard}-${p.lane}` : p.lane;
  }

  // Each shard's last raw-retention run (issue 17): a shard that has not run yet has no
  // row; null when PostgreSQL could not be read (the services tile says why).
  function renderRetention(runs) {
    $('retention-hint').textContent = runs === null
      ? 'Unknown: PostgreSQL could not be read.'
      : (runs.length
        ? 'Each shard\'s last run: raw-event partitions past their projects\' retention dropped whole.'
        : 'No retention run yet.');
    $('retention').tBodies[0].replaceChildren(...(runs || []).map((r) => {
      const took = (Date.parse(r.finishedAt) - Date.parse(r.startedAt)) / 1000;
      return el('tr', { 'data-shard': r.shard, 'data-failed': String(r.error !== null) },
        el('th', { scope: 'row', text: r.shard }),
        el('td', { text: new Date(r.finishedAt).toLocaleString(), title: r.finishedAt, 'data-column': 'finished' }),
        el('td', { text: age(took), 'data-column': 'took' }),
        el('td', { text: show(r.partitionsDropped), 'data-column': 'dropped' }),
        el('td', { text: show(r.strayRows), 'data-column': 'stray' }),
        el('td', { text: r.error === null ? 'ok' : `failed: ${r.error}`, 'data-column': 'outcome' }));
    }));
  }

  // Crawler events this month per project (issue 18): kept out of every chart, counted
  // in usage; null when PostgreSQL could not be read.
  function renderBots(bots) {
    $('bots-hint').textContent = bots === null
      ? 'Unknown: PostgreSQL could not be read.'
      : (bots.length ? 'Kept out of every chart; counted as events in usage.' : 'None this month.');
    $('bots').tBodies[0].replaceChildren(...(bots || []).map((b) =>
      el('tr', { 'data-project': b.project },
        el('th', { scope: 'row', text: b.slug || b.project }),
        el('td', { text: show(b.events), 'data-column': 'events' }))));
  }

  function render(ops) {
    $('ops-view').hidden = false;
    $('ops-group').textContent = ops.lanes.map((lane) => lane.group).join(', ');
    $('ops-topic').textContent = ops.lanes.map((lane) => lane.topic).join(', ');
    $('ops-sampled').textContent = new Date(ops.sampledAt).toLocaleTimeString();
    renderHeld(ops.held);
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
      tile('Overage this month', show(ops.overageThisMonth), { 'data-figure': 'overage' }),
      // Each lane on its own: the overflow lane holds a hot project's events (its lag
      // there delays only that project).
      ...ops.lanes.flatMap((lane) => [
        tile(`Lag, ${workers(lane)} lane`, show(lane.totals.lag), { 'data-lane-figure': `${workersKey(lane)}-lag` }),
        tile(`Freshness, ${workers(lane)} lane`, age(lane.freshnessSeconds), { 'data-lane-figure': `${workersKey(lane)}-freshness` }),
      ]),
    );
    $('partitions').tBodies[0].replaceChildren(...ops.partitions.map((p) =>
      el('tr', { 'data-lane': workersKey(p), 'data-partition': p.partition, 'data-held': String(!!p.inconsistency) },
        el('th', { scope: 'row', text: workers(p) }),
        el('th', p.inconsistency
          ? { scope: 'row', text: `${p.partition} held`, title: p.inconsistency }
          : { scope: 'row', text: String(p.partition) }),
        el('td', { text: show(p.logEnd) }),
        el('td', { text: show(p.committed) }),
        el('td', { text: show(p.lag) }),
        el('td', { text: age(p.freshnessSeconds) }))));
    renderRetention(ops.retention);
    renderBots(ops.botEventsThisMonth);
  }

  async function poll() {
    try {
      const usage = await api('api/ops/projects');
      $('ops-error').textContent = '';
      renderProjects(usage);
      // The pipeline is asked for only by an operator's page: a member's would be refused.
      if (usage.scope === 'all') render(await api('api/ops'));
      else $('ops-view').hidden = true;
    } catch (error) {
      if (error instanceof ApiError && error.status === 401) {
        $('ops-error').replaceChildren('Not logged in. ', el('a', { href: './', text: 'Log in on the dashboard' }), '.');
        return; // no point polling until the user logs in
      }
      $('ops-error').textContent = `Could not read the ops figures: ${errorText(error)}`;
    }
    setTimeout(poll, POLL_MS);
  }

  poll();
})();
