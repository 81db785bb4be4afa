// The project overview's cards under the explore form (issue 18): top browsers, countries
// and channels (breakdowns of the workers' enrichment, from rollups), retention, paths
// and lifecycle (persons, from raw events), each with its own small form.
(function () {
  'use strict';
  const { el, card, run } = window.RA;
  const TOP_LIMIT = 8;
  const TOP = [
    { key: '$browser', title: 'Top browsers' },
    { key: '$country', title: 'Top countries' },
    { key: '$channel', title: 'Top channels' },
  ];
  const PERIODS = ['day', 'week', 'month'];

  function field(label, id, control) {
    control.id = id;
    return [el('label', { for: id, text: label }), control];
  }

  function select(name, values, chosen) {
    return el('select', { name }, ...values.map((v) => el('option', { value: v, text: v, selected: v === chosen })));
  }

  function input(name, value, size) {
    return el('input', { name, value, size: size || 12, required: true });
  }

  // A card with a form above its body: lists apply at once, typed fields on Apply/Enter.
  function withForm(title, kind, label, fields, onApply) {
    const c = card(title, kind);
    const form = el('form', { class: 'card-form', 'aria-label': label }, ...fields,
      el('button', { type: 'submit', text: 'Apply' }));
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      onApply();
    });
    for (const s of form.querySelectorAll('select')) s.addEventListener('change', onApply);
    c.root.insertBefore(form, c.body);
    return { c, form };
  }

  function overview(grid) {
    let last = null; // the explore form's common part and event, for a card's own re-run
    const top = TOP.map((t) => {
      const c = card(t.title, 'top');
      c.root.dataset.breakdown = t.key;
      return { ...t, c };
    });

    const retention = withForm('Retention', 'retention', 'Retention', [
      ...field('Start event', 'r-start', input('startEvent', '$pageview')),
      ...field('Return event', 'r-return', input('returnEvent', '$pageview')),
      ...field('Retention period', 'r-interval', select('interval', PERIODS, 'day')),
    ], () => last && runRetention());
    const paths = withForm('Paths', 'paths', 'Paths', [
      ...field('Paths from', 'p-start', input('startEvent', '$pageview')),
      ...field('Direction', 'p-direction', select('direction', ['next', 'previous'], 'next')),
      ...field('Steps', 'p-steps', select('steps', ['1', '2', '3', '4', '5'], '3')),
      ...field('Events per step', 'p-limit', select('limit', ['2', '3', '5', '10', '20'], '5')),
    ], () => last && runPaths());
    const lifecycle = withForm('Lifecycle', 'lifecycle', 'Lifecycle', [
      ...field('Lifecycle period', 'l-interval', select('interval', PERIODS, 'day')),
    ], () => last && runLifecycle());

    function runRetention() {
      const f = retention.form;
      run(retention.c, {
        ...last.common, type: 'retention', timezone: last.timezone, interval: f.interval.value,
        startEvent: f.startEvent.value.trim(), returnEvent: f.returnEvent.value.trim(),
      });
    }

    function runPaths() {
      const f = paths.form;
      run(paths.c, {
        ...last.common, type: 'paths', timezone: last.timezone, startEvent: f.startEvent.value.trim(),
        direction: f.direction.value, steps: Number(f.steps.value), limit: Number(f.limit.value),
      });
    }

    function runLifecycle() {
      lifecycle.c.root.querySelector('h3').textContent = `Lifecycle of ${last.event}`;
      run(lifecycle.c, {
        ...last.common, type: 'lifecycle', event: last.event, timezone: last.timezone,
        interval: lifecycle.form.interval.value,
      });
    }

    // common: projectId, dateRange, filter and includeBots as the explore form says.
    function runAll(common, event, metric, timezone, label) {
      last = { common, event, timezone };
      for (const t of top) {
        run(t.c, { ...common, type: 'breakdown', event, metric, breakdown: t.key, limit: TOP_LIMIT }, label);
      }
      runRetention();
      runPaths();
      runLifecycle();
    }

    const cards = [...top.map((t) => t.c), retention.c, paths.c, lifecycle.c];
    for (const c of cards) grid.append(c.root);
    return { cards, runAll };
  }

  window.RA.overview = overview;
})();
