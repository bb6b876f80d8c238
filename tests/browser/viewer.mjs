// The viewer in real headless Chromium: `node viewer.mjs http://127.0.0.1:PORT/ shot.png
// [reports-only|static]`. Loads the page, waits for the map to be idle, checks that sector, heat and
// parcel features are rendered, switches index and window, and saves a screenshot whose pixels
// it checks are not blank. With `reports-only` (a catalog of reports without a cadastre): checks
// that the viewer opens on the heat layer over the reports' extent, with cells drawn and the
// pickers filled. With `static` (a site of `predio publish` on a plain web server): sectors with
// their labels and heat cells are drawn from the PMTiles archives, another window switches the
// archives, and a click on a sector opens its popup. Prints a JSON summary; exits non-zero on
// the first failure.
import { chromium } from 'playwright-core';

const [url, shot, mode] = process.argv.slice(2);
const reportsOnly = mode === 'reports-only';
const staticSite = mode === 'static';
if (!url || !shot || (mode && !reportsOnly && !staticSite)) {
  console.error('usage: node viewer.mjs URL SCREENSHOT.png [reports-only|static]');
  process.exit(2);
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: [
    '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
    // Software WebGL (SwiftShader) for MapLibre on a machine without a GPU.
    '--use-angle=swiftshader', '--enable-unsafe-swiftshader',
  ],
});
const summary = {};
const errors = [];
const fail = async (message) => {
  console.error(`FAIL: ${message}`);
  console.error(JSON.stringify({ summary, errors }, null, 2));
  await browser.close();
  process.exit(1);
};

try {
  const page = await browser.newPage({ viewport: { width: 1024, height: 768 } });
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(url);
  await page.waitForFunction(() => window.predioMap && window.predioState, null, { timeout: 60000 });

  // Idle: two frames drawn (so a change has requested its tiles), then every source loaded and
  // nothing moving, polled (an 'idle' event can fire before a listener is added, and a busy
  // machine makes that race likely).
  const idle = async () => {
    await page.evaluate(() => new Promise((resolve) => {
      window.predioMap.triggerRepaint();
      requestAnimationFrame(() => requestAnimationFrame(resolve));
    }));
    await page.waitForFunction(() => {
      const m = window.predioMap;
      return m.loaded() && m.areTilesLoaded() && !m.isMoving();
    }, null, { timeout: 60000, polling: 100 }).catch(() => { throw new Error('map never idle'); });
  };
  const rendered = (layer) => page.evaluate(
    (l) => window.predioMap.queryRenderedFeatures({ layers: [l] }).length, layer);
  const choose = async (select, value, check) => {
    await page.selectOption(select, value);
    await page.waitForFunction(check, value, { timeout: 30000 });
    await idle();
  };

  await idle();
  if (reportsOnly) {
    await reportsOnlyChecks();
  } else if (staticSite) {
    await staticChecks();
  } else {
    await everyLayerChecks();
  }
  await page.screenshot({ path: shot });
  // Not blank: the map canvas holds many colours and enough non-background pixels.
  summary.pixels = await paintedOf(page);
  // heat cells alone cover less of a city than its sectors do
  const least = reportsOnly ? 0.002 : 0.05;
  if (summary.pixels.colours < 8 || summary.pixels.painted < least) {
    await fail(`the map looks blank: ${JSON.stringify(summary.pixels)}`);
  }
  for (const [step, p] of Object.entries(summary.steps ?? {})) {
    if (p.colours < 8 || p.painted < 0.05) await fail(`the ${step} screenshot looks blank: ${JSON.stringify(p)}`);
  }
  const serious = errors.filter((e) => !e.includes('favicon'));
  if (serious.length) await fail(`console errors: ${serious.join(' | ')}`);
  console.log(JSON.stringify(summary));

  // The map canvas's colours and its share of non-background pixels.
  async function paintedOf(p) {
    return p.evaluate(() => {
    const src = window.predioMap.getCanvas();
    const c = document.createElement('canvas');
    c.width = src.width;
    c.height = src.height;
    const g = c.getContext('2d');
    g.drawImage(src, 0, 0);
    const d = g.getImageData(0, 0, c.width, c.height).data;
    const colours = new Set();
    let painted = 0;
    for (let i = 0; i < d.length; i += 4 * 7) {
      colours.add((d[i] << 16) | (d[i + 1] << 8) | d[i + 2]);
      // The background is #f4f1ea.
      if (Math.abs(d[i] - 0xf4) + Math.abs(d[i + 1] - 0xf1) + Math.abs(d[i + 2] - 0xea) > 24) painted += 1;
    }
    return { colours: colours.size, painted: painted / (d.length / 28) };
    });
  }

  // A published site: sectors, labels and heat from the archives; a window switches them; a
  // click opens a sector's popup.
  async function staticChecks() {
    summary.sectors = await rendered('sectors-fill');
    if (!(summary.sectors > 0)) await fail('no sector rendered from the archive');
    summary.sources = await page.evaluate(() => window.predioMap.getSource('sectors').url);
    if (!summary.sources.startsWith('pmtiles://')) await fail(`sectors not from PMTiles: ${summary.sources}`);
    summary.labels = await page.evaluate(() => [...new Set(window.predioMap
      .queryRenderedFeatures({ layers: ['sectors-labels'] }).map((f) => f.properties.name))].sort());
    if (!summary.labels.length) await fail('no sector label rendered');
    summary.legend = await page.textContent('#legend');
    if (!summary.legend.includes('–')) await fail(`no legend: ${summary.legend}`);
    summary.searchHidden = await page.evaluate(() => document.getElementById('search').hidden);
    if (!summary.searchHidden) await fail('the search box is shown without a server');
    const target = await page.evaluate(() => {
      const m = window.predioMap;
      for (const f of m.queryRenderedFeatures({ layers: ['sectors-fill'] })) {
        for (let dx = 330; dx < 900; dx += 37) {
          for (let dy = 90; dy < 700; dy += 41) {
            const hit = m.queryRenderedFeatures([dx, dy], { layers: ['sectors-fill'] })[0];
            if (hit && hit.properties.sector_id === f.properties.sector_id) {
              return { x: dx, y: dy, id: f.properties.sector_id };
            }
          }
        }
      }
      return null;
    });
    if (!target) await fail('no sector to click');
    await page.mouse.click(target.x, target.y);
    await page.waitForSelector('.maplibregl-popup tr[data-field="sector_id"]', { timeout: 10000 });
    summary.popup = await page.evaluate(() => Object.fromEntries([...document
      .querySelectorAll('.maplibregl-popup tr')].map((tr) => [tr.dataset.field, tr.cells[1].textContent])));
    if (summary.popup.sector_id !== target.id) await fail(`popup of ${summary.popup.sector_id}, clicked ${target.id}`);
    await page.evaluate(() => document.querySelectorAll('.maplibregl-popup').forEach((p) => p.remove()));
    await choose('#view', 'heat', (v) => window.predioState.view === v);
    summary.heat = await rendered('heat-fill');
    if (!(summary.heat > 0)) await fail('no heat cell rendered from the archive');
    const [current, windows] = await page.evaluate(() => [document.getElementById('window').value,
      [...document.getElementById('window').options].map((o) => o.value)]);
    const other = windows.find((w) => w !== current);
    const before = await page.evaluate(() => window.predioMap.getSource('heat').url);
    await choose('#window', other, (v) => window.predioState.query.includes(`window=${v}`));
    summary.heatOther = await rendered('heat-fill');
    summary.heatUrls = [before, await page.evaluate(() => window.predioMap.getSource('heat').url)];
    if (summary.heatUrls[0] === summary.heatUrls[1]) await fail(`window ${other} kept the archive ${before}`);
    if (!(summary.heatOther > 0)) await fail(`no heat cell for window ${other}`);
    await choose('#view', 'sectors', (v) => window.predioState.view === v);
  }

  // Reports without a cadastre: heat first, over the reports, pickers filled.
  async function reportsOnlyChecks() {
    summary.view = await page.evaluate(() => window.predioState.view);
    if (summary.view !== 'heat') await fail(`opened on ${summary.view}, not heat`);
    summary.heat = await rendered('heat-fill');
    if (!(summary.heat > 0)) await fail('no heat cell rendered');
    summary.pickers = await page.evaluate(() => Object.fromEntries(['view', 'window', 'category', 'department']
      .map((id) => [id, [...document.getElementById(id).options].filter((o) => !o.disabled).map((o) => o.value)])));
    const meta = await page.evaluate(async () => (await fetch('meta.json')).json());
    const b = meta.bounds;
    summary.centre = await page.evaluate(() => window.predioMap.getCenter().toArray());
    const [x, y] = summary.centre;
    if (!(b && x > b[0] && x < b[2] && y > b[1] && y < b[3])) {
      await fail(`the map opened at ${summary.centre}, outside the reports' ${JSON.stringify(b)}`);
    }
    await choose('#window', meta.windows[meta.windows.length - 1], (v) => window.predioState.query.includes(`window=${v}`));
    summary.heatLastWindow = await rendered('heat-fill');
    if (!(summary.heatLastWindow > 0)) await fail('no heat cell for the last window');
  }

  // Search a sector by half its name, select it, read its panel; then reopen the page's
  // address in a new page and find the same view.
  async function workbenchChecks() {
    const target = await page.evaluate(() => {
      const fs = window.predioMap.queryRenderedFeatures({ layers: ['sectors-fill'] });
      const f = fs.find((x) => x.properties.name && x.properties.name !== x.properties.sector_id) || fs[0];
      return { id: f.properties.sector_id, name: f.properties.name };
    });
    const typed = target.name.slice(0, Math.max(3, Math.ceil(target.name.length * 0.6))).toLowerCase();
    await page.fill('#search', typed);
    await page.press('#search', 'Enter');
    await page.waitForSelector('#results li', { timeout: 10000 });
    const hits = await page.evaluate(() => window.predioState.results);
    const at = hits.findIndex((h) => h.kind === 'sector' && h.id === target.id);
    if (at < 0) await fail(`searching ${typed} did not find sector ${target.id}: ${JSON.stringify(hits)}`);
    await page.click(`#results li:nth-child(${at + 1})`);
    await page.waitForFunction((id) => window.predioState.selection?.id === id && window.predioState.series
      && window.predioState.behind !== undefined, target.id, { timeout: 30000 });
    await idle();
    const state = await page.evaluate(() => ({
      selection: window.predioState.selection,
      months: window.predioState.series,
      query: window.predioState.query,
      title: document.getElementById('sel-title').textContent,
      bars: document.querySelectorAll('#chart rect').length,
      rows: document.querySelectorAll('#sel-indices tr').length,
      centre: window.predioMap.getCenter().toArray(),
      zoom: window.predioMap.getZoom(),
      outlined: window.predioMap.queryRenderedFeatures({ layers: ['sectors-selected'] }).length,
    }));
    const b = hits[at].bbox;
    const [x, y] = state.centre;
    if (!(x >= b[0] && x <= b[2] && y >= b[1] && y <= b[3])) {
      await fail(`the map is at ${state.centre}, not over the sector ${JSON.stringify(b)}`);
    }
    if (state.title !== target.name) await fail(`panel title ${state.title}, not ${target.name}`);
    if (!(state.rows > 3)) await fail(`panel rows: ${state.rows}`);
    if (state.bars !== state.months.length) await fail(`chart bars ${state.bars} for ${state.months.length} months`);
    if (!(state.outlined > 0)) await fail('the selected sector is not outlined');
    await page.screenshot({ path: shot.replace(/\.png$/, '-search.png') });
    summary.steps = { ...(summary.steps ?? {}), search: await paintedOf(page) };
    // with an auditor's key: the reports behind the numbers, and the CSV their link downloads
    const behind = await page.evaluate(async () => {
      const b = window.predioState.behind;
      if (!b) return { behind: null };
      const csv = await (await fetch(document.getElementById('get-csv').href)).text();
      const lines = csv.trim().split('\n');
      return { behind: b, csvRows: lines.length - 1, csvIds: lines.slice(1, 1 + b.ids.length).map((l) => l.split(',')[0]) };
    });
    if (behind.behind && JSON.stringify(behind.csvIds) !== JSON.stringify(behind.behind.ids)) {
      await fail(`the CSV's first rows ${behind.csvIds} are not the list's ${behind.behind.ids}`);
    }
    summary.search = { typed, id: target.id, name: target.name, ...state, ...behind };

    // the address reopens the same view
    const address = page.url();
    const again = await browser.newPage({ viewport: { width: 1024, height: 768 } });
    again.on('pageerror', (e) => errors.push(String(e)));
    await again.goto(address);
    await again.waitForFunction((id) => window.predioState?.ready && window.predioState.selection?.id === id,
      target.id, { timeout: 60000 });
    const restored = await again.evaluate(() => ({
      view: window.predioState.view,
      field: window.predioState.field,
      query: window.predioState.query,
      selection: window.predioState.selection.id,
      centre: window.predioMap.getCenter().toArray(),
      zoom: window.predioMap.getZoom(),
    }));
    await again.screenshot({ path: shot.replace(/\.png$/, '-shared.png') });
    summary.steps = { ...(summary.steps ?? {}), shared: await paintedOf(again) };
    await again.close();
    const near = Math.abs(restored.centre[0] - x) < 1e-4 && Math.abs(restored.centre[1] - y) < 1e-4
      && Math.abs(restored.zoom - state.zoom) < 0.02;
    if (!near || restored.query !== state.query || restored.view !== 'sectors') {
      await fail(`the shared address ${address} reopened ${JSON.stringify(restored)}`);
    }
    summary.shared = { address, ...restored };
    // the print view: the map and the panel, without the controls
    await page.emulateMedia({ media: 'print' });
    summary.print = await page.evaluate(() => ({
      search: getComputedStyle(document.getElementById('search')).display,
      draw: getComputedStyle(document.getElementById('draw')).display,
      panel: getComputedStyle(document.getElementById('selection')).display,
    }));
    await page.emulateMedia({ media: 'screen' });
    if (summary.print.search !== 'none' || summary.print.draw !== 'none' || summary.print.panel === 'none') {
      await fail(`print view: ${JSON.stringify(summary.print)}`);
    }
    // the interface in Portuguese and English: labels, the index picker, numbers per locale
    summary.languages = {};
    for (const lang of ['pt', 'en']) {
      const u = new URL(url);
      u.searchParams.set('lang', lang);
      const p = await browser.newPage({ viewport: { width: 1024, height: 768 } });
      p.on('pageerror', (e) => errors.push(String(e)));
      await p.goto(u.toString());
      await p.waitForFunction(() => window.predioState?.ready, null, { timeout: 60000 });
      summary.languages[lang] = await p.evaluate(() => ({
        lang: document.documentElement.lang,
        window: document.querySelector('[data-i18n=window]').textContent,
        view: document.querySelector('#view option[value=sectors]').textContent,
        field: document.querySelector('#field').selectedOptions[0]?.textContent,
        legend: document.querySelector('#legend strong')?.textContent,
      }));
      await p.close();
    }
    const pt = summary.languages.pt;
    const en = summary.languages.en;
    if (pt.window !== 'Janela' || en.window !== 'Window' || pt.lang !== 'pt' || en.view !== 'Sectors: open and overdue') {
      await fail(`languages: ${JSON.stringify(summary.languages)}`);
    }
    if (await page.isVisible('#draw')) await drawChecks();
  }

  // Draw an area of four corners on the map and read its numbers in the panel.
  async function drawChecks() {
    const box = await page.locator('#map canvas').boundingBox();
    await page.click('#draw');
    for (const [x, y] of [[420, 180], [860, 220], [820, 620], [450, 560]]) {
      await page.mouse.click(box.x + x, box.y + y);
      await page.waitForTimeout(100);
    }
    await page.click('#draw');
    await page.waitForFunction(() => window.predioState.area, null, { timeout: 30000 });
    const area = await page.evaluate(() => ({
      ring: window.predioState.area.ring,
      stats: window.predioState.area.stats,
      title: document.getElementById('sel-title').textContent,
      bars: document.querySelectorAll('#chart rect').length,
    }));
    if (area.ring.length !== 5) await fail(`a ring of ${area.ring.length} positions`);
    if (!area.title.startsWith('Área dibujada')) await fail(`panel title ${area.title}`);
    if (area.bars !== area.stats.months.length) await fail('the area chart');
    await page.screenshot({ path: shot.replace(/\.png$/, '-area.png') });
    summary.steps = { ...(summary.steps ?? {}), area: await paintedOf(page) };
    summary.area = area;
  }

  async function everyLayerChecks() {
    summary.sectors = await rendered('sectors-fill');
    if (!(summary.sectors > 0)) await fail('no sector rendered');
    // names on the map: the sectors' labels drawn with the server's glyphs
    summary.labels = await page.evaluate(() => [...new Set(window.predioMap
      .queryRenderedFeatures({ layers: ['sectors-labels'] }).map((f) => f.properties.name))].sort());
    if (!summary.labels.length) await fail('no sector label rendered');
    await workbenchChecks();

    await choose('#view', 'heat', (v) => window.predioState.view === v);
    summary.heat = await rendered('heat-fill');
    if (!(summary.heat > 0)) await fail('no heat cell rendered');

    // Hot spots: drawn by class, with the fixed legend.
    await choose('#view', 'hotspots', (v) => window.predioState.view === v);
    summary.hotspots = await rendered('hotspots-fill');
    summary.hotspotClasses = await page.evaluate(() => [...new Set(window.predioMap
      .queryRenderedFeatures({ layers: ['hotspots-fill'] }).map((f) => f.properties.class))].sort());
    // the legend's swatches carry the map's own opacity; the status line the rules in force
    summary.swatchOpacity = await page.evaluate(() => getComputedStyle(document.querySelector('#legend .swatch')).opacity);
    if (summary.swatchOpacity !== '0.75') await fail(`swatch opacity ${summary.swatchOpacity}, the layer's 0.75`);
    summary.status = await page.textContent('#status');
    if (!/plazo legal \d+ días hábiles/.test(summary.status)) await fail(`status: ${summary.status}`);
    const hotLegend = await page.textContent('#legend');
    if (!hotLegend.includes('punto caliente')) await fail(`hot spot legend: ${hotLegend}`);

    await choose('#view', 'parcels', (v) => window.predioState.view === v);
    await page.evaluate(() => window.predioMap.jumpTo({ zoom: 15.5 }));
    await idle();
    summary.parcels = await rendered('parcels-fill');
    if (!(summary.parcels > 0)) await fail('no parcel rendered at z15.5');

    await choose('#field', 'overdue', (v) => window.predioState.field === v);
    const paint = await page.evaluate(
      () => JSON.stringify(window.predioMap.getPaintProperty('parcels-fill', 'fill-color')));
    summary.paint = paint;
    if (!paint.includes('"overdue"')) await fail(`the fill does not follow the index: ${paint}`);
    const legend = await page.textContent('#legend');
    if (!legend.includes('vencidos')) await fail(`legend: ${legend}`);

    await choose('#window', '30d', (v) => window.predioState.query.includes(`window=${v}`));
    summary.parcels30d = await rendered('parcels-fill');
    const tiles = await page.evaluate(() => window.predioMap.getSource('parcels').tiles[0]);
    if (!tiles.includes('window=30d')) await fail(`tiles not filtered: ${tiles}`);
    if (!(summary.parcels30d > 0)) await fail('no parcel rendered for 30d');

    // Click a parcel: the popup lists its indices.
    const target = await page.evaluate(() => {
      const m = window.predioMap;
      for (const f of m.queryRenderedFeatures({ layers: ['parcels-fill'] })) {
        if (f.geometry.type !== 'Polygon') continue;
        const ring = f.geometry.coordinates[0];
        let x = 0;
        let y = 0;
        ring.forEach((c) => { x += c[0]; y += c[1]; });
        const p = m.project([x / ring.length, y / ring.length]);
        // Clear of the panel (top left) and the controls (right).
        if (p.x > 320 && p.x < 900 && p.y > 80 && p.y < 700) return { x: p.x, y: p.y };
      }
      return null;
    });
    if (!target) await fail('no parcel in the open part of the map to click');
    summary.clicked = await page.evaluate((t) => window.predioMap
      .queryRenderedFeatures([t.x, t.y], { layers: ['parcels-fill'] })[0]?.properties ?? null, target);
    const box = await page.locator('#map canvas').boundingBox();
    await page.mouse.click(box.x + target.x, box.y + target.y);
    await page.waitForSelector('.maplibregl-popup-content', { timeout: 10000 });
    // The popup's rows: each field and the value shown.
    summary.popup = await page.evaluate(() => Object.fromEntries([...document
      .querySelectorAll('.maplibregl-popup-content tr')].map((tr) => [tr.dataset.field, tr.cells[1].textContent])));
    // each row named in Spanish, never a raw column name where a name exists
    summary.popupNames = await page.evaluate(() => [...document
      .querySelectorAll('.maplibregl-popup-content tr')].map((tr) => tr.cells[0].textContent));
    if (summary.popupNames.includes('received') || summary.popupNames.includes('parcel_id')) {
      await fail(`raw column names in the popup: ${summary.popupNames}`);
    }
  }
} catch (e) {
  await fail(String(e && e.stack || e));
}
await browser.close();
