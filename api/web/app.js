// predio's map viewer: parcels coloured by an index, sectors by backlog/overdue, H3 heat, and
// the Gi* hot and cold spots.
// Everything comes from the predio server it is served by (no CDN, no base map: works offline),
// or from a static site made by `predio publish` (meta.json's `static`): the tiles then come from
// PMTiles archives through the pmtiles protocol, the legends from files, and what needs the
// server (search, series, ranks, drawn areas) is left out. Every address is relative to the page.
(async function () {
  'use strict';
  const $ = (id) => document.getElementById(id);
  const status = $('status');
  if (typeof maplibregl === 'undefined') {
    status.textContent = 'MapLibre GL JS no está instalado en el servidor (make web).';
    return;
  }
  // An API key (`?key=...` in the page's address) goes with every request to this server.
  // The view (layer, index, window, filter, selection) lives in the address too, and the map's
  // position in its hash (`#map=zoom/lat/lon`): a copied address reopens the same view.
  const params = new URLSearchParams(location.search);
  const key = params.get('key');
  const api = (url, options = {}) => fetch(url, key
    ? { ...options, headers: { ...(options.headers || {}), 'X-API-Key': key } } : options);
  // The interface's words (es, pt, en: `?lang=`), from one message file.
  const messages = await (await fetch('messages.json')).json();
  const lang = messages[params.get('lang')] ? params.get('lang') : 'es';
  const M = messages[lang];
  document.documentElement.lang = lang;
  document.querySelectorAll('[data-i18n]').forEach((e) => { e.textContent = M.ui[e.dataset.i18n]; });
  document.querySelectorAll('[data-i18n-placeholder]').forEach((e) => {
    e.placeholder = M.ui[e.dataset.i18nPlaceholder];
    e.setAttribute('aria-label', M.ui[e.dataset.i18nPlaceholder]);
  });
  $('chart').setAttribute('aria-label', M.ui.chart);
  const meta = await (await api('meta.json')).json();
  // A published site: its filter sets (each window, and each category and department where
  // published) and the archives' and legends' files of each.
  const site = meta.static;
  const here = location.href.replace(/[?#].*$/, '').replace(/[^/]*$/, '');
  if (site) {
    await new Promise((done, failed) => {
      const s = document.createElement('script');
      s.src = 'vendor/pmtiles.js';
      s.onload = done;
      s.onerror = failed;
      document.head.appendChild(s);
    });
    const protocol = new pmtiles.Protocol();
    maplibregl.addProtocol('pmtiles', protocol.tile);
    // Byte ranges where the host serves them (a CDN, nginx); a host that answers a range with the
    // whole file (python3 -m http.server) has each archive read once, whole, and sliced.
    class Archive {
      constructor(url) { this.url = url; this.whole = null; }
      getKey() { return this.url; }
      async getBytes(offset, length, signal) {
        if (!this.whole) {
          const r = await fetch(this.url, { headers: { Range: `bytes=${offset}-${offset + length - 1}` }, signal });
          if (!r.ok) throw new Error(`${this.url}: ${r.status}`);
          if (r.status === 206) return { data: await r.arrayBuffer(), etag: r.headers.get('ETag') || undefined };
          this.whole = r.arrayBuffer();
        }
        return { data: (await this.whole).slice(offset, offset + length) };
      }
    }
    const opened = new Set();
    site.open = (rel) => {
      const url = here + rel;
      if (!opened.has(url)) {
        opened.add(url);
        protocol.add(new pmtiles.PMTiles(new Archive(url)));
      }
      return `pmtiles://${url}`;
    };
    for (const id of ['search', 'results', 'draw', 'chart', 'chart-legend', 'to-plan', 'to-audit']) $(id).hidden = true;
  }
  // the published filter set of the pickers, or null
  const filterSet = () => site && site.filters.find((f) => f.window === $('window').value
    && (f.category ?? '') === $('category').value && (f.department ?? '') === $('department').value);
  const layers = Object.fromEntries(meta.layers.map((l) => [l.name, l]));
  // Layers coloured by class, not by an index: a fixed legend.
  const classes = {
    hotspots: { field: 'Gi* (FDR 5 %)', rows: [['#d7301f', M.ui.hot], ['#2b8cbe', M.ui.cold]] },
  };
  // The indices' names in the interface's language (the server's descriptions, in English, are
  // the options' tooltips).
  const fieldNames = M.fields;

  const option = (select, value, label) => {
    const o = document.createElement('option');
    o.value = value;
    o.textContent = label;
    select.appendChild(o);
  };
  meta.windows.forEach((w) => option($('window'), w, w));
  $('window').value = meta.default_window;
  const published = (kind, v) => !site || site.filters.some((f) => f[kind] === v);
  meta.categories.filter((c) => published('category', c)).forEach((c) => option($('category'), c, c));
  meta.departments.filter((d) => published('department', d)).forEach((d) => option($('department'), d, d));
  // a value from the address only where the picker has it
  const restore = (id) => {
    const v = params.get(id);
    if (v !== null && [...$(id).options].some((o) => o.value === v && !o.disabled)) $(id).value = v;
  };
  ['window', 'category', 'department'].forEach(restore);
  for (const o of [...$('view').options]) {
    if (!layers[o.value]) o.disabled = true;
  }
  restore('view');
  if (!layers[$('view').value]) {
    const first = [...$('view').options].find((o) => !o.disabled);
    if (first) $('view').value = first.value;
  }

  const query = () => {
    const q = new URLSearchParams({ window: $('window').value });
    if ($('category').value) q.set('category', $('category').value);
    else if ($('department').value) q.set('department', $('department').value);
    return q.toString();
  };
  const fillFields = () => {
    const l = layers[$('view').value];
    const select = $('field');
    select.innerHTML = '';
    if (!l || classes[$('view').value]) return;
    l.fields.filter((f) => f.type === 'Number' && f.name !== 'res')
      .forEach((f) => {
        option(select, f.name, fieldNames[f.name] ?? f.name);
        select.lastChild.title = f.description;
      });
    select.value = l.default_field;
  };
  fillFields();
  restore('field');

  const style = await (await api(site ? 'style.json' : 'style.json?' + query())).json();
  if (site) {
    // the site's relative addresses made whole for MapLibre
    for (const src of Object.values(style.sources)) {
      if (src.url && src.url.startsWith('pmtiles://')) src.url = site.open(src.url.slice(10));
      if (typeof src.data === 'string') src.data = here + src.data;
    }
    if (style.glyphs) style.glyphs = here + style.glyphs;
  }
  const options = {
    container: 'map',
    style,
    attributionControl: false,
    // Keeps the drawn frame readable (screenshots, the browser test's blank-canvas check).
    canvasContextAttributes: { preserveDrawingBuffer: true },
    preserveDrawingBuffer: true,
    transformRequest: (url) => (key && url.startsWith(location.origin)
      ? { url, headers: { 'X-API-Key': key } } : { url }),
  };
  const at = /^#map=([\d.]+)\/(-?[\d.]+)\/(-?[\d.]+)$/.exec(location.hash);
  if (at) {
    options.zoom = +at[1];
    options.center = [+at[3], +at[2]];
  } else if (meta.bounds) {
    options.bounds = meta.bounds;
  }
  const map = new maplibregl.Map(options);
  window.predioMap = map;
  map.addControl(new maplibregl.NavigationControl(), 'top-right');
  map.addControl(new maplibregl.ScaleControl(), 'bottom-right');

  const views = {
    parcels: ['parcels-fill', 'parcels-line', 'parcels-labels'],
    sectors: ['sectors-fill'],
    heat: ['heat-fill'],
    hotspots: ['hotspots-fill'],
  };
  const renderLegend = (legend) => {
    const div = $('legend');
    div.innerHTML = '';
    const title = document.createElement('strong');
    title.textContent = fieldNames[legend.field] ?? legend.field;
    div.appendChild(title);
    const row = (colour, text) => {
      const r = document.createElement('div');
      r.className = 'row';
      const s = document.createElement('span');
      s.className = 'swatch';
      s.style.background = colour;
      // drawn as the map draws it: with the layer's own opacity over the background
      const fill = views[$('view').value]?.[0];
      const opacity = fill && map.getLayer(fill) ? map.getPaintProperty(fill, 'fill-opacity') : 1;
      if (typeof opacity === 'number') s.style.opacity = opacity;
      const t = document.createElement('span');
      t.textContent = text;
      r.append(s, t);
      div.appendChild(r);
    };
    if (legend.rows) legend.rows.forEach(([c, t]) => row(c, t));
    if (legend.field === 'attention' && !legend.stops.length) {
      // empty for a reason: below its minimum of reports, the index is left undefined
      const note = document.createElement('div');
      note.className = 'note';
      note.textContent = M.ui.attention_empty;
      div.appendChild(note);
    }
    if (legend.none) row(legend.none, M.ui.no_data);
    legend.stops.forEach((s, i) => {
      const next = legend.stops[i + 1];
      row(legend.colors[i], next === undefined ? `≥ ${s}` : `${s} – ${next}`);
    });
  };

  const update = async () => {
    const view = $('view').value;
    const q = query();
    for (const name of Object.keys(layers)) {
      const src = map.getSource(name);
      if (src && site) {
        const archive = filterSet()?.archives?.[name];
        if (archive && src.url !== `pmtiles://${here}${archive}`) src.setUrl(site.open(archive));
      } else if (src) src.setTiles([`${here}tiles/${name}/{z}/{x}/{y}.mvt?${q}`]);
    }
    for (const [v, ids] of Object.entries(views)) {
      for (const id of ids) {
        if (map.getLayer(id)) map.setLayoutProperty(id, 'visibility', v === view ? 'visible' : 'none');
      }
    }
    const field = $('field').value;
    if (classes[view]) {
      renderLegend({ field: classes[view].field, none: null, stops: [], colors: [], rows: classes[view].rows });
    } else if (field) {
      const r = await api(site ? `${filterSet()?.legends}/${view}/${field}.json`
        : `legend.json?layer=${view}&field=${encodeURIComponent(field)}&${q}`);
      const legend = await r.json();
      if (r.ok) {
        map.setPaintProperty(views[view][0], 'fill-color', legend.paint);
        renderLegend(legend);
      } else {
        status.textContent = legend.error;
        return;
      }
    }
    const asOf = meta.as_of ? ` · ${M.ui.as_of} ${new Date(meta.as_of).toLocaleDateString(lang)}` : '';
    const rules = meta.rules ? ` · ${M.ui.rules.replace('{days}', meta.rules.deadline_days)
      .replace('{categories}', meta.rules.category_rules).replace('{holidays}', meta.rules.holidays)}` : '';
    status.textContent = `${M.ui.version} ${meta.version}${asOf}${rules} · ${q.replaceAll('&', ' · ')}`;
    // the plan and the accountability report of the same filter, for the roles that read them
    const withKey = (u) => (key ? `${u}&api_key=${encodeURIComponent(key)}` : u);
    $('to-plan').hidden = site || !['planner', 'auditor', 'admin'].includes(meta.role);
    $('to-plan').href = withKey(`plan?top=20&window=${encodeURIComponent($('window').value)}`);
    $('to-audit').hidden = site || !['auditor', 'admin'].includes(meta.role);
    $('to-audit').href = withKey(`audit/sectors.csv?${q}`);
    window.predioState = { ...window.predioState, view, field, query: q };
    remember();
    if (selected) {
      // its numbers from the tiles of the new filter, once they are in
      const idle = new Promise((done) => map.once('idle', done));
      map.triggerRepaint();
      await idle;
      await showSelection();
    }
  };

  // The address: the pickers, the selection and the map's position.
  const remember = () => {
    const p = new URLSearchParams();
    if (key) p.set('key', key);
    if (lang !== 'es') p.set('lang', lang);
    for (const id of ['view', 'field', 'window', 'category', 'department']) {
      if ($(id).value) p.set(id, $(id).value);
    }
    if (selected) p.set('select', `${selected.kind}:${selected.id}`);
    const c = map.getCenter();
    const hash = `#map=${map.getZoom().toFixed(2)}/${c.lat.toFixed(5)}/${c.lng.toFixed(5)}`;
    history.replaceState(null, '', `${location.pathname}?${p}${hash}`);
  };
  map.on('moveend', () => { if (window.predioState) remember(); });

  // Search: one box for sectors, parcels, addresses and H3 cells (`/search`).
  let selected = null;
  let typing = null;
  const results = $('results');
  const find = async () => {
    const q = $('search').value.trim();
    results.innerHTML = '';
    if (!q) return;
    const r = await api(`search?q=${encodeURIComponent(q)}&limit=8`);
    const body = await r.json();
    if (!r.ok) { status.textContent = body.error; return; }
    const kinds = M.kinds;
    for (const hit of body.results) {
      const li = document.createElement('li');
      li.tabIndex = 0;
      const k = document.createElement('span');
      k.className = 'kind';
      k.textContent = kinds[hit.kind];
      li.append(k, document.createTextNode(hit.label));
      li.addEventListener('click', () => select(hit));
      li.addEventListener('keydown', (e) => { if (e.key === 'Enter') select(hit); });
      results.appendChild(li);
    }
    window.predioState = { ...window.predioState, results: body.results };
  };
  $('search').addEventListener('input', () => { clearTimeout(typing); typing = setTimeout(find, 250); });
  $('search').addEventListener('keydown', (e) => {
    if (e.key === 'Enter') { clearTimeout(typing); find(); }
  });

  // A selected place: outlined, flown to, and its numbers and monthly series in the panel.
  const highlight = () => {
    for (const [layer, source, field] of [['sectors-selected', 'sectors', 'sector_id'],
      ['parcels-selected', 'parcels', 'parcel_id']]) {
      if (!map.getSource(source)) continue;
      if (!map.getLayer(layer)) {
        map.addLayer({ id: layer, type: 'line', source, 'source-layer': source,
          paint: { 'line-color': '#111', 'line-width': 3 } });
      }
      const id = selected && selected.kind === source.slice(0, -1) ? selected.id : '';
      map.setFilter(layer, ['==', ['get', field], id]);
    }
  };
  const select = async (hit, fly = true) => {
    selected = { kind: hit.kind, id: hit.id, label: hit.label };
    results.innerHTML = '';
    highlight();
    if (fly && hit.bbox) {
      map.fitBounds([[hit.bbox[0], hit.bbox[1]], [hit.bbox[2], hit.bbox[3]]],
        // clear of the panel on the left
        { padding: { top: 40, bottom: 40, left: 300, right: 60 },
          maxZoom: hit.kind === 'parcel' ? 17.5 : 15.5, duration: 0 });
    }
    if (hit.kind === 'sector' && $('view').value !== 'sectors' && layers.sectors) {
      $('view').value = 'sectors';
      fillFields();
    }
    await update();
  };
  // the panel's rows, in order
  const panelFields = ['received', 'open', 'overdue', 'overdue_0_5', 'overdue_6_10', 'overdue_11_20',
    'overdue_over_20', 'compliance', 'answered', 'answered_on_time', 'resolution_median_bd',
    'oldest_open_bd', 'density_km2', 'per_1000', 'attention'];
  const fmt = new Intl.NumberFormat(lang, { maximumFractionDigits: 2 });

  const showSelection = async () => {
    const panel = $('selection');
    panel.hidden = false;
    $('sel-title').textContent = selected.label || selected.id;
    const table = $('sel-indices');
    table.innerHTML = '';
    const source = { sector: 'sectors', parcel: 'parcels' }[selected.kind];
    const field = { sector: 'sector_id', parcel: 'parcel_id' }[selected.kind];
    const feature = source && map.getSource(source) && map.querySourceFeatures(source,
      { sourceLayer: source, filter: ['==', ['get', field], selected.id] })[0];
    const shown = {};
    if (feature && feature.properties.attention === undefined && feature.properties.received !== undefined) {
      shown.attention = null;
      table.insertRow().insertCell().textContent = M.ui.attention_empty;
    }
    if (feature) {
      for (const k of panelFields) {
        const label = fieldNames[k];
        const v = feature.properties[k];
        if (v === undefined) continue;
        shown[k] = v;
        const tr = table.insertRow();
        tr.insertCell().textContent = label;
        tr.insertCell().textContent = k === 'compliance' ? `${fmt.format(100 * v)}\u00a0%` : fmt.format(v);
      }
    }
    let rank = null;
    if (selected.kind === 'sector' && $('field').value && !site) {
      const p = new URLSearchParams(query());
      p.set('layer', 'sectors');
      p.set('id', selected.id);
      p.set('field', $('field').value);
      const r = await api(`rank.json?${p}`);
      if (r.ok) {
        rank = await r.json();
        if (rank.rank) {
          const tr = table.insertRow(0);
          tr.insertCell().textContent = `${M.ui.rank} (${fieldNames[rank.field] ?? rank.field})`;
          tr.insertCell().textContent = `${rank.rank} / ${rank.of}`;
        }
      }
    }
    window.predioState = { ...window.predioState, selection: { ...selected, indices: shown, rank } };
    if (!site && (selected.kind === 'sector' || selected.kind === 'parcel')) await chart();
    else $('chart').innerHTML = '';
    await behind();
  };
  // Behind the numbers (an auditor's key): the open reports of the selection under the filter,
  // oldest first, and the same as CSV or GeoJSON to download (`/reports.*`).
  const stages = M.stages;
  const behind = async () => {
    const box = $('behind');
    // an auditor's (or an administrator's) list only: no request the caller would be refused
    if (!['auditor', 'admin'].includes(meta.role)) {
      box.hidden = true;
      window.predioState = { ...window.predioState, behind: null };
      return;
    }
    const p = new URLSearchParams(query());
    p.set(selected.kind === 'parcel' ? 'parcel_id' : 'sector_id', selected.id);
    if (selected.kind === 'cell') { box.hidden = true; return; }
    const r = await api(`reports.json?${p}&page_size=20`);
    if (!r.ok) { box.hidden = true; window.predioState.behind = null; return; }
    const body = await r.json();
    box.hidden = false;
    $('behind-total').textContent = `(${fmt.format(body.total)})`;
    const tbody = $('behind-list').tBodies[0];
    tbody.innerHTML = '';
    for (const rep of body.reports) {
      const tr = tbody.insertRow();
      if (rep.stage === 'overdue') tr.className = 'overdue';
      for (const v of [rep.id, rep.category ?? '', rep.age_bd ?? '', stages[rep.stage] ?? rep.stage]) {
        tr.insertCell().textContent = v;
      }
    }
    if (key) p.set('api_key', key);
    $('get-csv').href = `reports.csv?${p}`;
    $('get-geojson').href = `reports.geojson?${p}`;
    window.predioState = { ...window.predioState, behind: { total: body.total, ids: body.reports.map((x) => x.id) } };
  };
  // The monthly series (`/series`): received as bars, open and overdue at each month's end as
  // lines.
  const chart = async () => {
    const p = new URLSearchParams({ level: selected.kind, id: selected.id });
    if ($('category').value) p.set('category', $('category').value);
    else if ($('department').value) p.set('department', $('department').value);
    const r = await api(`series?${p}`);
    $('chart').innerHTML = '';
    if (!r.ok) { window.predioState.series = null; return; }
    const months = (await r.json()).months;
    drawChart(months);
    window.predioState = { ...window.predioState, series: months };
  };
  // received as bars, open and overdue at each month's end as lines
  const drawChart = (months) => {
    const svg = $('chart');
    svg.innerHTML = '';
    const W = 250;
    const H = 120;
    const top = Math.max(1, ...months.map((m) => Math.max(m.received, m.open, m.overdue)));
    const x = (i) => 4 + (i * (W - 8)) / Math.max(1, months.length);
    const y = (v) => H - 14 - (v * (H - 24)) / top;
    const ns = 'http://www.w3.org/2000/svg';
    const el = (name, attrs) => {
      const e = document.createElementNS(ns, name);
      Object.entries(attrs).forEach(([k, v]) => e.setAttribute(k, v));
      svg.appendChild(e);
      return e;
    };
    const bw = Math.max(1, (W - 8) / Math.max(1, months.length) - 1);
    months.forEach((m, i) => {
      el('rect', { x: x(i), y: y(m.received), width: bw, height: H - 14 - y(m.received),
        fill: '#9ecae1', 'data-month': m.month }).appendChild(document.createElementNS(ns, 'title'))
        .textContent = `${m.month}: ${m.received} ${M.ui.chart_received}, ${m.open} ${M.ui.chart_open}, ${m.overdue} ${M.ui.chart_overdue}`;
    });
    for (const [f, colour] of [['open', '#3b3b3b'], ['overdue', '#d7301f']]) {
      el('polyline', { fill: 'none', stroke: colour, 'stroke-width': 1.5, class: `line-${f}`,
        points: months.map((m, i) => `${x(i) + bw / 2},${y(m[f])}`).join(' ') });
    }
    el('text', { x: 4, y: H - 2, 'font-size': 10, fill: '#555' }).textContent = months[0]?.month ?? '';
    el('text', { x: W - 4, y: H - 2, 'font-size': 10, fill: '#555', 'text-anchor': 'end' })
      .textContent = months[months.length - 1]?.month ?? '';
    el('text', { x: 4, y: 10, 'font-size': 10, fill: '#555' }).textContent = fmt.format(top);
  };

  // An area of one's own (a planner's key and above): click its corners on the map, then
  // "Terminar"; the panel shows the reports inside it (`POST /area/stats`).
  let drawing = null;
  const drawn = () => ({
    type: 'FeatureCollection',
    features: drawing && drawing.length ? [{
      type: 'Feature', properties: {},
      geometry: drawing.length > 2
        ? { type: 'Polygon', coordinates: [[...drawing, drawing[0]]] }
        : { type: 'LineString', coordinates: drawing },
    }] : [],
  });
  const redraw = () => {
    if (!map.getSource('draw')) {
      map.addSource('draw', { type: 'geojson', data: drawn() });
      map.addLayer({ id: 'draw-fill', type: 'fill', source: 'draw',
        paint: { 'fill-color': '#6a51a3', 'fill-opacity': 0.15 } });
      map.addLayer({ id: 'draw-line', type: 'line', source: 'draw',
        paint: { 'line-color': '#6a51a3', 'line-width': 2 } });
    }
    map.getSource('draw').setData(drawn());
  };
  const drawButton = $('draw');
  if (['planner', 'auditor', 'admin'].includes(meta.role)) drawButton.hidden = false;
  drawButton.addEventListener('click', async () => {
    if (drawing === null) {
      drawing = [];
      drawButton.textContent = M.ui.finish;
      map.getCanvas().style.cursor = 'crosshair';
      redraw();
      return;
    }
    if (drawing.length < 3) { status.textContent = M.ui.corners; return; }
    const ring = [...drawing, drawing[0]];
    drawing = null;
    drawButton.textContent = M.ui.draw;
    map.getCanvas().style.cursor = '';
    await areaStats(ring);
  });
  const areaStats = async (ring) => {
    const r = await api(`area/stats?${query()}`, {
      method: 'POST', body: JSON.stringify({ type: 'Polygon', coordinates: [ring] }),
    });
    const body = await r.json();
    if (!r.ok) { status.textContent = body.error; return; }
    selected = null;
    highlight();
    $('selection').hidden = false;
    $('behind').hidden = true;
    $('sel-title').textContent = `${M.ui.drawn_area} (${fmt.format(body.area_km2)} km²)`;
    const table = $('sel-indices');
    table.innerHTML = '';
    for (const k of ['received', 'open', 'overdue', 'answered', 'answered_on_time', 'compliance',
      'resolution_median_bd']) {
      if (body[k] === null || body[k] === undefined) continue;
      const tr = table.insertRow();
      tr.insertCell().textContent = fieldNames[k];
      tr.insertCell().textContent = k === 'compliance' ? `${fmt.format(100 * body[k])}\u00a0%` : fmt.format(body[k]);
    }
    drawChart(body.months);
    window.predioState = { ...window.predioState, area: { ring, stats: body } };
  };

  $('print').addEventListener('click', (e) => { e.preventDefault(); window.print(); });
  $('view').addEventListener('change', () => { fillFields(); update(); });
  $('field').addEventListener('change', update);
  $('window').addEventListener('change', update);
  $('category').addEventListener('change', () => { $('department').value = ''; update(); });
  $('department').addEventListener('change', () => { $('category').value = ''; update(); });

  map.on('click', (e) => {
    if (drawing !== null) {
      drawing.push([e.lngLat.lng, e.lngLat.lat]);
      redraw();
      return;
    }
    const visible = Object.values(views).flat().filter((id) => map.getLayer(id)
      && map.getLayoutProperty(id, 'visibility') !== 'none' && id.endsWith('-fill'));
    const f = map.queryRenderedFeatures(e.point, { layers: visible })[0];
    if (!f) return;
    if (f.properties.sector_id && f.layer.id === 'sectors-fill') {
      select({ kind: 'sector', id: f.properties.sector_id, label: f.properties.name }, false);
    } else if (f.properties.parcel_id && f.layer.id === 'parcels-fill') {
      select({ kind: 'parcel', id: f.properties.parcel_id, label: f.properties.parcel_id }, false);
    }
    const table = document.createElement('table');
    for (const [k, v] of Object.entries(f.properties)) {
      const tr = table.insertRow();
      tr.dataset.field = k;
      tr.insertCell().textContent = fieldNames[k] ?? k;
      tr.insertCell().textContent = typeof v === 'number' ? +v.toFixed(3) : v;
    }
    new maplibregl.Popup().setLngLat(e.lngLat).setDOMContent(table).addTo(map);
  });

  map.on('load', async () => {
    const chosen = params.get('select');
    if (chosen && chosen.includes(':')) {
      const [kind, ...rest] = chosen.split(':');
      const id = rest.join(':');
      const r = !site && await api(`search?q=${encodeURIComponent(id)}&limit=50`);
      const hit = r.ok && (await r.json()).results.find((h) => h.kind === kind && h.id === id);
      if (hit) {
        selected = { kind: hit.kind, id: hit.id, label: hit.label };
        highlight();
        if (!at) {
          map.fitBounds([[hit.bbox[0], hit.bbox[1]], [hit.bbox[2], hit.bbox[3]]],
            { padding: { top: 40, bottom: 40, left: 300, right: 60 }, maxZoom: 15.5, duration: 0 });
        }
        // the map waits where the address put it
        const idle = new Promise((done) => map.once('idle', done));
        map.triggerRepaint();
        await idle;
      }
    }
    await update();
    window.predioState = { ...window.predioState, ready: true };
  });
})();
