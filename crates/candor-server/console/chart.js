// Small SVG charts drawn here, from numbers the page already has (no chart library, nothing
// from another server). Each chart has a title and a text alternative.

const NS = 'http://www.w3.org/2000/svg';

function el(name, attrs, text) {
  const e = document.createElementNS(NS, name);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
}

// Horizontal bars, one per [label, value], scaled to the largest value.
export function barChart(title, pairs) {
  const rowH = 22;
  const labelW = 190;
  const width = 460;
  const barMax = width - labelW - 50;
  const height = 28 + Math.max(1, pairs.length) * rowH;
  const svg = el('svg', {
    viewBox: `0 0 ${width} ${height}`,
    role: 'img',
    class: 'chart',
    'aria-label': title + ': ' + (pairs.length ? pairs.map(([k, v]) => `${k} ${v}`).join(', ') : 'none yet'),
  });
  svg.appendChild(el('title', {}, title));
  svg.appendChild(el('text', { x: 0, y: 16, class: 'chart-title' }, title));
  const max = Math.max(1, ...pairs.map(([, v]) => v));
  if (pairs.length === 0) {
    svg.appendChild(el('text', { x: 0, y: 42, class: 'chart-label' }, 'none yet'));
  }
  pairs.forEach(([label, value], i) => {
    const y = 28 + i * rowH;
    const shown = label.length > 28 ? label.slice(0, 27) + '…' : label;
    svg.appendChild(el('text', { x: labelW - 6, y: y + 15, 'text-anchor': 'end', class: 'chart-label' }, shown));
    const w = Math.max(value > 0 ? 2 : 0, Math.round((value / max) * barMax));
    svg.appendChild(el('rect', { x: labelW, y: y + 3, width: w, height: rowH - 8, class: 'chart-bar' }));
    svg.appendChild(el('text', { x: labelW + w + 6, y: y + 15, class: 'chart-value' }, String(value)));
  });
  return svg;
}

export function pairsOf(obj) {
  return Object.entries(obj || {}).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
}

// Vertical bars per period (e.g. a day), each stacked by key; a legend names the keys.
// `periods` is [[label, {key: count}]] in time order.
export function stackedChart(title, periods) {
  const keys = [...new Set(periods.flatMap(([, o]) => Object.keys(o)))].sort();
  const width = 460;
  const plotH = 140;
  const legendH = 18 * Math.max(1, keys.length);
  const height = 28 + plotH + 20 + legendH;
  const total = (o) => Object.values(o).reduce((a, b) => a + b, 0);
  const max = Math.max(1, ...periods.map(([, o]) => total(o)));
  const svg = el('svg', {
    viewBox: `0 0 ${width} ${height}`,
    role: 'img',
    class: 'chart',
    'aria-label': title + ': ' + (periods.length ? periods.map(([p, o]) => `${p}: ` + Object.entries(o).map(([k, v]) => `${k} ${v}`).join(', ')).join('; ') : 'none yet'),
  });
  svg.appendChild(el('title', {}, title));
  svg.appendChild(el('text', { x: 0, y: 16, class: 'chart-title' }, title));
  if (!periods.length) svg.appendChild(el('text', { x: 0, y: 42, class: 'chart-label' }, 'none yet'));
  const slot = Math.min(60, (width - 10) / Math.max(1, periods.length));
  periods.forEach(([label, o], i) => {
    let y = 28 + plotH;
    const x = 5 + i * slot;
    keys.forEach((k, ki) => {
      const v = o[k] || 0;
      if (!v) return;
      const hgt = Math.max(1, Math.round((v / max) * plotH));
      y -= hgt;
      svg.appendChild(el('rect', { x, y, width: slot * 0.8, height: hgt, class: `chart-bar series-${ki % 6}` }));
    });
    svg.appendChild(el('text', { x: x + slot * 0.4, y: 28 + plotH - (total(o) / max) * plotH - 3, 'text-anchor': 'middle', class: 'chart-value' }, String(total(o))));
    svg.appendChild(el('text', { x: x + slot * 0.4, y: 28 + plotH + 14, 'text-anchor': 'middle', class: 'chart-label' }, label.slice(5)));
  });
  keys.forEach((k, ki) => {
    const y = 28 + plotH + 24 + ki * 18;
    svg.appendChild(el('rect', { x: 0, y, width: 12, height: 12, class: `chart-bar series-${ki % 6}` }));
    svg.appendChild(el('text', { x: 18, y: y + 11, class: 'chart-label' }, k));
  });
  return svg;
}
