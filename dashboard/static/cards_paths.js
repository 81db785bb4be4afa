// The paths card: a Sankey chart in SVG (no library, no build step). Columns are steps
// from the start event, nodes the events most persons reached there ("Other" last), links
// bands as wide as the persons who went from one node to the next.
(function () {
  'use strict';
  const { el, number, renderers } = window.RA;
  const NS = 'http://www.w3.org/2000/svg';
  const WIDTH = 760; // when the card is not laid out yet (hidden)
  const HEIGHT = 320;
  const PAD = 8;
  const NODE = 12;
  const GAP = 10;
  const LABEL = 150; // room right of the last column for its labels

  function svg(tag, attrs, ...children) {
    const node = document.createElementNS(NS, tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (key === 'text') node.textContent = value;
      else node.setAttribute(key, value);
    }
    for (const child of children) node.append(child);
    return node;
  }

  const widthOf = (body) => Math.floor(body.getBoundingClientRect().width) || WIDTH;
  const nameOf = (node) => (node.other ? 'Other' : node.event);

  // Positions every node: x by step, stacked down its column in the answer's order.
  function layout(nodes, width) {
    const columns = [];
    for (const [i, node] of nodes.entries()) {
      (columns[node.step] = columns[node.step] || []).push(i);
    }
    const steps = columns.length;
    const room = (column) => HEIGHT - 2 * PAD - (column.length - 1) * GAP;
    const total = (column) => column.reduce((sum, i) => sum + nodes[i].persons, 0);
    const scale = Math.min(...columns.map((column) => room(column) / Math.max(1, total(column))));
    const stride = steps > 1 ? (width - LABEL - NODE - 2 * PAD) / (steps - 1) : 0;
    const boxes = nodes.map(() => null);
    for (const [step, column] of columns.entries()) {
      let y = PAD;
      for (const i of column) {
        const height = Math.max(1, nodes[i].persons * scale);
        boxes[i] = { x: PAD + step * stride, y, height, out: 0, in: 0 };
        y += height + GAP;
      }
    }
    return { boxes, scale };
  }

  function band(link, boxes, scale, nodes) {
    const from = boxes[link.source];
    const to = boxes[link.target];
    const width = Math.max(1, link.persons * scale);
    const y0 = from.y + from.out + width / 2;
    const y1 = to.y + to.in + width / 2;
    from.out += width;
    to.in += width;
    const x0 = from.x + NODE;
    const x1 = to.x;
    const mid = (x0 + x1) / 2;
    const label = `${nameOf(nodes[link.source])} → ${nameOf(nodes[link.target])}: ${number.format(link.persons)} persons`;
    return svg('path', {
      class: 'path-link',
      d: `M${x0},${y0} C${mid},${y0} ${mid},${y1} ${x1},${y1}`,
      'stroke-width': width.toFixed(2),
      'data-source': link.source,
      'data-target': link.target,
      'data-persons': link.persons,
    }, svg('title', { text: label }));
  }

  // Drawn at the card's own width, so labels keep their size at any width.
  function drawing(answer, width) {
    const { nodes, links } = answer;
    const { boxes, scale } = layout(nodes, width);
    const steps = Math.max(...nodes.map((n) => n.step)) + 1;
    // Links leave and enter each node in the order of the nodes at their other end.
    const ordered = [...links].sort((a, b) => a.source - b.source || a.target - b.target);
    const bands = ordered.map((link) => band(link, boxes, scale, nodes));
    const marks = nodes.map((node, i) => {
      const box = boxes[i];
      return svg('g', {
        class: node.other ? 'path-node other' : 'path-node',
        'data-step': node.step,
        'data-event': node.other ? '' : node.event,
        'data-other': node.other ? 'true' : 'false',
        'data-persons': node.persons,
      },
      svg('title', { text: `Step ${node.step}: ${nameOf(node)}, ${number.format(node.persons)} persons` }),
      svg('rect', { x: box.x, y: box.y, width: NODE, height: box.height.toFixed(2), rx: 2 }),
      svg('text', {
        x: box.x + NODE + 4,
        y: box.y + box.height / 2,
        'dominant-baseline': 'middle',
        text: `${nameOf(node)} (${number.format(node.persons)})`,
      }));
    });
    return svg('svg', {
      class: 'sankey',
      viewBox: `0 0 ${width} ${HEIGHT}`,
      width,
      height: HEIGHT,
      role: 'img',
      'aria-label': `Paths ${answer.direction} from ${answer.startEvent}, ${steps - 1} steps`,
    }, svg('g', { class: 'path-links' }, ...bands), svg('g', { class: 'path-nodes' }, ...marks));
  }

  function table(answer) {
    const rows = answer.nodes.map((node) => el('tr', { class: node.other ? 'other' : null },
      el('td', { class: 'num', text: String(node.step) }),
      el('th', { scope: 'row', text: nameOf(node) }),
      el('td', { class: 'num', text: number.format(node.persons) })));
    return el('details', { class: 'table-toggle' },
      el('summary', { text: `Data table (${answer.nodes.length} nodes)` }),
      el('table', { class: 'data' },
        el('thead', {}, el('tr', {},
          el('th', { scope: 'col', class: 'num', text: 'Step' }),
          el('th', { scope: 'col', text: 'Event' }),
          el('th', { scope: 'col', class: 'num', text: 'Persons' }))),
        el('tbody', {}, ...rows)));
  }

  function renderPaths(c, answer) {
    if (!answer.nodes || answer.nodes.length === 0) {
      c.body.replaceChildren(el('p', { class: 'empty', text: `No one did ${answer.startEvent} in this range.` }));
      return;
    }
    const word = answer.direction === 'previous' ? 'before' : 'after';
    c.body.replaceChildren(
      el('p', { class: 'summary' },
        `${number.format(answer.nodes[0].persons)} persons did ${answer.startEvent}; what they did ${word}`),
      drawing(answer, widthOf(c.body)),
      table(answer),
    );
  }

  renderers.paths = renderPaths;
})();
