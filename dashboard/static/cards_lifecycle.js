// The lifecycle card: per period, persons new, returning and resurrecting stacked above
// the axis and dormant ones below it, as PostHog draws lifecycle (SVG, no library).
(function () {
  'use strict';
  const { el, number, renderers } = window.RA;
  const NS = 'http://www.w3.org/2000/svg';
  const WIDTH = 760; // when the card is not laid out yet (hidden)
  const HEIGHT = 240;
  const PAD = 24;
  const ABOVE = ['new', 'returning', 'resurrecting'];
  const KINDS = [...ABOVE, 'dormant'];

  function svg(tag, attrs, ...children) {
    const node = document.createElementNS(NS, tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (key === 'text') node.textContent = value;
      else node.setAttribute(key, value);
    }
    for (const child of children) node.append(child);
    return node;
  }

  const dateOf = (t) => t.slice(0, 10);

  // Drawn at the card's own width, so labels keep their size at any width.
  function drawing(answer, width) {
    const data = answer.data;
    const up = Math.max(1, ...data.map((d) => ABOVE.reduce((sum, k) => sum + d[k], 0)));
    const down = Math.max(0, ...data.map((d) => d.dormant));
    const scale = (HEIGHT - 2 * PAD) / (up + down || 1);
    const zero = PAD + up * scale;
    const slot = (width - 2 * PAD) / data.length;
    const barWidth = Math.max(2, slot * 0.7);
    const bars = data.map((d, i) => {
      const x = PAD + i * slot + (slot - barWidth) / 2;
      let top = zero;
      const parts = ABOVE.map((kind) => {
        const height = d[kind] * scale;
        top -= height;
        return svg('rect', { class: `life-${kind}`, x, y: top.toFixed(2), width: barWidth, height: height.toFixed(2) },
          svg('title', { text: `${dateOf(d.t)}: ${number.format(d[kind])} ${kind}` }));
      });
      parts.push(svg('rect', { class: 'life-dormant', x, y: zero, width: barWidth, height: (d.dormant * scale).toFixed(2) },
        svg('title', { text: `${dateOf(d.t)}: ${number.format(d.dormant)} dormant` })));
      return svg('g', { class: 'life-bar', 'data-t': d.t }, ...parts);
    });
    const axis = svg('line', { class: 'life-axis', x1: PAD, x2: width - PAD, y1: zero, y2: zero });
    const first = svg('text', { class: 'life-tick', x: PAD, y: HEIGHT - 4, text: data.length ? dateOf(data[0].t) : '' });
    const last = svg('text', {
      class: 'life-tick', x: width - PAD, y: HEIGHT - 4, 'text-anchor': 'end',
      text: data.length ? dateOf(data[data.length - 1].t) : '',
    });
    return svg('svg', {
      class: 'lifecycle-chart', viewBox: `0 0 ${width} ${HEIGHT}`, width, height: HEIGHT, role: 'img',
      'aria-label': `Lifecycle of ${answer.event} per ${answer.interval}, ${data.length} periods`,
    }, ...bars, axis, first, last);
  }

  function legend() {
    return el('ul', { class: 'legend' }, ...KINDS.map((kind) =>
      el('li', {}, el('span', { class: `swatch life-${kind}`, 'aria-hidden': 'true' }), kind)));
  }

  function table(answer) {
    const rows = answer.data.map((d) => el('tr', { 'data-t': d.t },
      el('th', { scope: 'row' }, el('time', { datetime: d.t, text: dateOf(d.t) })),
      ...KINDS.map((kind) => el('td', { class: 'num', 'data-kind': kind, text: number.format(d[kind]) }))));
    return el('details', { class: 'table-toggle' },
      el('summary', { text: `Data table (${answer.data.length} periods)` }),
      el('table', { class: 'data' },
        el('thead', {}, el('tr', {}, el('th', { scope: 'col', text: 'Start' }),
          ...KINDS.map((kind) => el('th', { scope: 'col', class: 'num', text: kind })))),
        el('tbody', {}, ...rows)));
  }

  function renderLifecycle(c, answer) {
    if (!answer.data || answer.data.length === 0) {
      c.body.replaceChildren(el('p', { class: 'empty', text: 'No periods in this range.' }));
      return;
    }
    c.body.replaceChildren(
      el('p', { class: 'summary' }, `Persons doing ${answer.event} per ${answer.interval}, ${answer.timezone}`),
      drawing(answer, Math.floor(c.body.getBoundingClientRect().width) || WIDTH), legend(), table(answer));
  }

  renderers.lifecycle = renderLifecycle;
})();
