// The accountability report in real headless Chromium: `node report.mjs FILE.html SHOT.png`.
// Opens the file, checks its sections, that the map figure is drawn (one path per sector, the
// figure rasterised to a canvas has painted pixels in several colours), and reads every table
// back from the rendered page (the text shown must equal the value it stands for). Prints a
// JSON summary; exits non-zero on the first failure or on any console error.
import { chromium } from 'playwright-core';
import { pathToFileURL } from 'node:url';

const [file, shot] = process.argv.slice(2);
if (!file || !shot) {
  console.error('usage: node report.mjs REPORT.html SCREENSHOT.png');
  process.exit(2);
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
});
const errors = [];
const fail = async (message, summary) => {
  console.error(`FAIL: ${message}`);
  console.error(JSON.stringify({ summary, errors }, null, 2));
  await browser.close();
  process.exit(1);
};

const page = await browser.newPage({ viewport: { width: 900, height: 1200 } });
page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
page.on('pageerror', (e) => errors.push(String(e)));
page.on('requestfailed', (r) => errors.push(`request failed: ${r.url()}`));
await page.goto(pathToFileURL(file).href);

const summary = await page.evaluate(async () => {
  const out = { sections: {}, tables: {} };
  for (const s of document.querySelectorAll('section')) {
    const h2 = s.querySelector('h2');
    out.sections[s.id] = { title: h2 ? h2.textContent : null, visible: s.getBoundingClientRect().height > 0 };
  }
  out.title = document.title;
  out.period = document.querySelector('#periodo')?.textContent;
  // the map: its paths, and its pixels once rasterised
  const svg = document.querySelector('#mapa svg');
  const box = svg ? svg.getBoundingClientRect() : { width: 0, height: 0 };
  out.map = { width: box.width, height: box.height, paths: svg ? svg.querySelectorAll('path[data-sector-id]').length : 0 };
  out.map.fills = svg ? [...new Set([...svg.querySelectorAll('path')].map((p) => p.getAttribute('fill')))] : [];
  out.map.markers = svg ? svg.querySelectorAll('g.marca').length : 0;
  out.map.names = svg ? [...svg.querySelectorAll('text.nombre')].map((t) => t.textContent) : [];
  out.map.fill_of = svg ? Object.fromEntries([...svg.querySelectorAll('path[data-sector-id]')].map((p) => [p.dataset.sectorId, p.getAttribute('fill')])) : {};
  // the legend as the reader sees it: each swatch's colour and its text
  out.map.legend = [...document.querySelectorAll('.leyenda li')].map((li) => [
    (li.querySelector('.muestra')?.getAttribute('style') || '').replace(/^background:\s*/, '').replace(/;$/, ''),
    li.textContent.trim(),
  ]);
  if (svg) {
    const img = new Image();
    const src = 'data:image/svg+xml;charset=utf-8,' + encodeURIComponent(new XMLSerializer().serializeToString(svg));
    await new Promise((resolve, reject) => { img.onload = resolve; img.onerror = () => reject(new Error('the SVG does not rasterise')); img.src = src; });
    const canvas = document.createElement('canvas');
    canvas.width = Math.round(box.width);
    canvas.height = Math.round(box.height);
    const ctx = canvas.getContext('2d');
    ctx.drawImage(img, 0, 0, canvas.width, canvas.height);
    const px = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
    let painted = 0;
    const colours = new Set();
    for (let i = 0; i < px.length; i += 4) {
      if (px[i + 3] > 0) painted += 1;
      colours.add((px[i] << 16) | (px[i + 1] << 8) | px[i + 2]);
    }
    out.map.painted = painted / (px.length / 4);
    out.map.colours = colours.size;
  }
  // tables: per row, each field's value and whether the text shown says the same
  const number = (t) => Number(t.replace(/[\s\u2009\u00a0]/g, '').replace(',', '.').replace('%', ''));
  for (const t of document.querySelectorAll('table')) {
    const rows = [];
    for (const tr of t.querySelectorAll('tr[data-id]')) {
      const row = { id: tr.dataset.id, name: tr.cells[tr.cells.length - 7]?.textContent };
      for (const td of tr.querySelectorAll('td[data-field]')) {
        const v = td.dataset.value;
        const shown = td.textContent.trim();
        if (td.dataset.field === 'compliance') {
          row.compliance = v === '' ? null : Number(v);
          row.compliance_shown_ok = v === '' ? shown === '—' : Math.abs(number(shown) - 100 * Number(v)) <= 0.05 + 1e-9;
        } else {
          row[td.dataset.field] = Number(v);
          row[`${td.dataset.field}_shown_ok`] = number(shown) === Number(v);
        }
      }
      rows.push(row);
    }
    out.tables[t.id] = rows;
  }
  out.kpis = Object.fromEntries([...document.querySelectorAll('.kpi')].map((k) => [k.dataset.field, k.querySelector('.v').textContent]));
  return out;
});

await page.screenshot({ path: shot, fullPage: true });
await browser.close();

const expected = ['resumen', 'mapa', 'peores', 'departamentos', 'sectores', 'metodo'];
for (const id of expected) {
  if (!summary.sections[id]?.visible || !summary.sections[id].title) await fail(`section ${id} missing or empty`, summary);
}
if (!(summary.map.width > 200 && summary.map.height > 100)) await fail('the map figure has no size', summary);
if (!(summary.map.painted > 0.5 && summary.map.colours >= 3)) await fail('the map figure is not painted', summary);
for (const [id, rows] of Object.entries(summary.tables)) {
  for (const r of rows) {
    for (const [k, v] of Object.entries(r)) {
      if (k.endsWith('_shown_ok') && v !== true) await fail(`table ${id}, row ${r.id}: ${k}`, summary);
    }
  }
}
if (errors.length) await fail('console errors', summary);
console.log(JSON.stringify(summary));
