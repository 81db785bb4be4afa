// The retention card: the classic triangle, one row per cohort (the period of a person's
// first start event), one column per period after it, the share that came back.
(function () {
  'use strict';
  const { el, number, percent, renderers } = window.RA;

  // "2026-11-02T00:00:00-05:00" → "2026-11-02" (periods are days, weeks or months).
  const dateOf = (t) => t.slice(0, 10);

  function cell(returned, size, k) {
    const share = size > 0 ? returned / size : 0;
    return el('td', {
      class: 'num retention-cell',
      'data-period': k + 1,
      'data-count': returned,
      title: `${number.format(returned)} of ${number.format(size)} persons came back`,
      // Shade by share, as PostHog's table does; set through the CSSOM (the page's CSP).
      style: `background-color: rgba(29, 78, 216, ${(0.08 + 0.6 * share).toFixed(3)})`,
      text: size > 0 ? percent.format(share) : '–',
    });
  }

  function renderRetention(c, answer) {
    const cohorts = answer.cohorts || [];
    if (cohorts.length === 0 || cohorts.every((row) => row.size === 0)) {
      c.body.replaceChildren(el('p', { class: 'empty', text: 'No one did the start event in this range.' }));
      return;
    }
    const periods = Math.max(0, ...cohorts.map((row) => row.returned.length));
    const heads = [];
    for (let k = 1; k <= periods; k += 1) {
      heads.push(el('th', { scope: 'col', class: 'num', text: `${answer.interval} ${k}` }));
    }
    const rows = cohorts.map((row) => {
      const cells = row.returned.map((n, k) => cell(n, row.size, k));
      while (cells.length < periods) cells.push(el('td', { class: 'retention-none', 'aria-hidden': 'true' }));
      return el('tr', { 'data-start': row.start, 'data-size': row.size },
        el('th', { scope: 'row' }, el('time', { datetime: row.start, text: dateOf(row.start) })),
        el('td', { class: 'num retention-size', text: number.format(row.size) }),
        ...cells);
    });
    const total = cohorts.reduce((sum, row) => sum + row.size, 0);
    c.body.replaceChildren(
      el('p', { class: 'summary' },
        `${number.format(total)} persons in ${cohorts.length} cohorts by ${answer.interval}, ${answer.timezone}`),
      el('div', { class: 'scroll' },
        el('table', { class: 'retention' },
          el('caption', { class: 'visually-hidden', text: 'Share of each cohort coming back, per period after its first' }),
          el('thead', {}, el('tr', {},
            el('th', { scope: 'col', text: 'Cohort' }),
            el('th', { scope: 'col', class: 'num', text: 'Persons' }),
            ...heads)),
          el('tbody', {}, ...rows))),
    );
  }

  renderers.retention = renderRetention;
})();
