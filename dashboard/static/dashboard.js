// The dashboard page: log in (control plane session), pick a project, explore with the four
// query types, or open a dashboard saved in the project's deployed config.
(function () {
  'use strict';
  const { el, api, ApiError, errorText, card, run, resize } = window.RA;
  const $ = (id) => document.getElementById(id);

  const PRESET_SECONDS = { '1h': 3600, '24h': 86400, '7d': 7 * 86400, '30d': 30 * 86400, '90d': 90 * 86400 };
  const METRIC_LABELS = { count: 'Count', unique_users: 'Unique users', sessions: 'Sessions' };
  const state = { project: null, dashboards: [], cards: [], overview: null };

  const explore = {
    timeseries: card('Over time', 'timeseries'),
    metric: card('Total, with the previous period', 'metric'),
    breakdown: card('Breakdown', 'breakdown'),
    funnel: card('Funnel', 'funnel'),
  };

  // --- time ranges -----------------------------------------------------------------------

  function presetRange(preset, now) {
    const end = now || Date.now();
    return {
      start: new Date(end - PRESET_SECONDS[preset] * 1000).toISOString(),
      end: new Date(end).toISOString(),
    };
  }

  // Milliseconds the zone is ahead of UTC at the instant utcMs.
  function zoneOffset(utcMs, zone) {
    const parts = new Intl.DateTimeFormat('en-US', {
      timeZone: zone, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit',
      hour: '2-digit', minute: '2-digit', second: '2-digit',
    }).formatToParts(new Date(utcMs));
    const v = Object.fromEntries(parts.map((p) => [p.type, p.value]));
    const wall = Date.UTC(+v.year, +v.month - 1, +v.day, +v.hour, +v.minute, +v.second);
    return wall - Math.floor(utcMs / 1000) * 1000;
  }

  // A datetime-local value ("2026-02-01T09:30") read as wall-clock time in the zone.
  function zonedToIso(local, zone) {
    const [date, time] = local.split('T');
    const [y, m, d] = date.split('-').map(Number);
    const [hh, mm] = (time || '00:00').split(':').map(Number);
    const wall = Date.UTC(y, m - 1, d, hh, mm);
    let utc = wall - zoneOffset(wall, zone);
    utc = wall - zoneOffset(utc, zone); // once more, in case the guess crossed a DST change
    return new Date(utc).toISOString();
  }

  // --- the explore form ------------------------------------------------------------------

  function filterFrom(form) {
    const key = form.filterKey.value.trim();
    if (!key) return null;
    const op = form.filterOp.value;
    const raw = form.filterValue.value.trim();
    if (op === 'is_set' || op === 'is_not_set') return { key, op };
    if (op === 'in' || op === 'not_in') {
      return { key, op, value: raw.split(',').map((s) => s.trim()).filter(Boolean) };
    }
    if (['gt', 'gte', 'lt', 'lte'].includes(op) && raw !== '' && !Number.isNaN(Number(raw))) {
      return { key, op, value: Number(raw) };
    }
    return { key, op, value: raw };
  }

  function rangeFrom(form) {
    if (form.range.value !== 'custom') return presetRange(form.range.value);
    if (!form.start.value || !form.end.value) throw new Error('Choose a start and an end for the custom range.');
    const zone = form.timezone.value;
    // The range's end is inclusive (as in the contract's "…T23:59:59.999Z"): "to midnight"
    // means up to the last millisecond before it, not midnight's own bucket.
    const end = new Date(Date.parse(zonedToIso(form.end.value, zone)) - 1).toISOString();
    return { start: zonedToIso(form.start.value, zone), end };
  }

  function exploreQueries() {
    const form = $('query-form');
    const dateRange = rangeFrom(form);
    const filter = filterFrom(form);
    const common = { projectId: state.project, dateRange };
    if (filter) common.filter = filter;
    // Crawlers' events are left out unless asked for (read raw then: rollups never hold them).
    const bots = form.includeBots.checked ? { includeBots: true } : {};
    Object.assign(common, bots);
    const event = form.event.value.trim();
    const metric = form.metric.value;
    const timeseries = { ...common, type: 'timeseries', event, metric, timezone: form.timezone.value };
    if (form.interval.value) timeseries.interval = form.interval.value;
    const [windowValue, windowUnit] = form.window.value.split(' ');
    const steps = form.steps.value.split(',').map((s) => s.trim()).filter(Boolean).map((e) => ({ event: e }));
    return {
      common,
      timeseries,
      metric: { ...common, type: 'metric', event, metric },
      breakdown: {
        ...common, type: 'breakdown', event, metric,
        breakdown: form.breakdown.value.trim(), limit: Number(form.limit.value) || 10,
      },
      funnel: {
        projectId: state.project, dateRange, ...bots, type: 'funnel', steps,
        conversionWindow: { value: Number(windowValue), unit: windowUnit },
      },
    };
  }

  function runExplore() {
    if (!state.project) return;
    $('form-error').textContent = '';
    let queries;
    try {
      queries = exploreQueries();
    } catch (error) {
      $('form-error').textContent = errorText(error);
      return;
    }
    const label = `${METRIC_LABELS[queries.metric.metric]} of ${queries.metric.event}`;
    explore.breakdown.root.querySelector('h3').textContent = `${queries.metric.event} by ${queries.breakdown.breakdown}`;
    explore.funnel.root.querySelector('h3').textContent = `Funnel: ${queries.funnel.steps.map((s) => s.event).join(' → ')}`;
    run(explore.timeseries, queries.timeseries, label);
    run(explore.metric, queries.metric, label);
    run(explore.breakdown, queries.breakdown, label);
    if (queries.funnel.steps.length >= 2) run(explore.funnel, queries.funnel, label);
    const { event, metric } = queries.metric;
    state.overview.runAll(queries.common, event, metric, queries.timeseries.timezone, label);
  }

  // --- saved dashboards (the deployed config's "dashboards") -----------------------------

  function showSaved(name) {
    const dashboard = state.dashboards.find((d) => d.name === name);
    $('explore').hidden = Boolean(dashboard);
    $('saved').hidden = !dashboard;
    if (!dashboard) {
      state.cards = [...Object.values(explore), ...state.overview.cards];
      runExplore();
      return;
    }
    $('saved-title').textContent = dashboard.name;
    const grid = $('saved-grid');
    grid.replaceChildren();
    state.cards = [];
    for (const chart of dashboard.charts) {
      const q = chart.query;
      const c = card(chart.title || `${q.type} ${q.event || ''}`.trim(), q.type);
      grid.append(c.root);
      state.cards.push(c);
      const query = { ...q, projectId: state.project, dateRange: presetRange(chart.range || '7d') };
      if ($('query-form').includeBots.checked) query.includeBots = true;
      const label = `${METRIC_LABELS[q.metric || 'count']} of ${q.event || ''}`;
      run(c, query, label);
    }
  }

  async function loadConfig(slug) {
    const view = $('view');
    view.replaceChildren(el('option', { value: '', text: 'Explore' }));
    state.dashboards = [];
    const events = new Set(['$pageview']);
    try {
      const found = await api(`/api/projects/${encodeURIComponent(slug)}/config`);
      state.dashboards = found.config.dashboards || [];
      for (const e of Object.keys((found.config.trackingPlan || {}).events || {})) events.add(e);
    } catch (error) {
      if (!(error instanceof ApiError && error.status === 404)) throw error; // 404: no deploy yet
    }
    for (const d of state.dashboards) view.append(el('option', { value: d.name, text: `Dashboard: ${d.name}` }));
    $('known-events').replaceChildren(...[...events].map((e) => el('option', { value: e })));
  }

  async function selectProject(slug) {
    state.project = slug;
    $('project-error').textContent = '';
    const wanted = new URLSearchParams(location.hash.slice(1)).get('view') || '';
    try {
      await loadConfig(slug);
    } catch (error) {
      $('project-error').textContent = `Could not read the project's config: ${errorText(error)}`;
    }
    const view = $('view');
    view.value = state.dashboards.some((d) => d.name === wanted) ? wanted : '';
    writeHash();
    showSaved(view.value);
  }

  function writeHash() {
    const params = new URLSearchParams({ project: state.project || '' });
    if ($('view').value) params.set('view', $('view').value);
    history.replaceState(null, '', `#${params}`);
  }

  // --- session ---------------------------------------------------------------------------

  async function showApp(me) {
    $('login-view').hidden = true;
    $('account').hidden = false;
    $('whoami').textContent = me.user.email;
    const { projects } = await api('/api/projects');
    const select = $('project');
    select.replaceChildren(...projects.map((p) => el('option', { value: p.slug, text: `${p.name} (${p.slug})` })));
    $('app-view').hidden = false;
    if (projects.length === 0) {
      $('project-error').textContent = 'You are not a member of any project yet.';
      return;
    }
    const wanted = new URLSearchParams(location.hash.slice(1)).get('project');
    select.value = projects.some((p) => p.slug === wanted) ? wanted : projects[0].slug;
    await selectProject(select.value);
  }

  function showLogin() {
    $('app-view').hidden = true;
    $('account').hidden = true;
    $('login-view').hidden = false;
    $('login-email').focus();
  }

  async function start() {
    const zone = Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
    const zones = ['UTC', zone, 'America/New_York', 'America/Los_Angeles', 'Europe/London', 'Europe/Berlin', 'Asia/Tokyo'];
    $('q-timezone').replaceChildren(...[...new Set(zones)].map((z) => el('option', { value: z, text: z })));
    const grid = $('explore-grid');
    for (const c of Object.values(explore)) grid.append(c.root);
    state.overview = window.RA.overview(grid);

    $('login-form').addEventListener('submit', async (event) => {
      event.preventDefault();
      $('login-error').textContent = '';
      try {
        await api('/api/auth/login', { email: $('login-email').value, password: $('login-password').value });
        $('login-password').value = '';
        await showApp(await api('/api/me'));
      } catch (error) {
        $('login-error').textContent = errorText(error);
      }
    });
    $('logout').addEventListener('click', async () => {
      try {
        await api('/api/auth/logout', {});
      } finally {
        showLogin();
      }
    });
    $('project').addEventListener('change', (event) => selectProject(event.target.value));
    $('view').addEventListener('change', (event) => {
      writeHash();
      showSaved(event.target.value);
    });
    const form = $('query-form');
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      runExplore();
    });
    // Choices in a list apply at once; typed fields wait for Run (or Enter).
    for (const name of ['metric', 'interval', 'timezone', 'window', 'includeBots']) {
      form[name].addEventListener('change', runExplore);
    }
    form.range.addEventListener('change', () => {
      const custom = form.range.value === 'custom';
      $('custom-range').hidden = !custom;
      if (!custom) runExplore();
    });
    let pending = null;
    window.addEventListener('resize', () => {
      clearTimeout(pending);
      pending = setTimeout(() => resize(state.cards), 150);
    });

    $('loading').hidden = true;
    try {
      await showApp(await api('/api/me'));
    } catch (error) {
      if (error instanceof ApiError && error.status === 401) {
        showLogin();
      } else {
        $('loading').hidden = false;
        $('loading').textContent = `The App API did not answer: ${errorText(error)}`;
      }
    }
  }

  start();
})();
