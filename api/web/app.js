// predio's map viewer: parcels coloured by an index, sectors by backlog/overdue, H3 heat, and
// the Gi* hot and cold spots.
// Everything comes from the predio server it is served by (no CDN, no base map: works offline).
(async function () {
  'use strict';
  const $ = (id) => document.getElementById(id);
  const status = $('status');
  if (typeof maplibregl === 'undefined') {
    status.textContent = 'MapLibre GL JS no está instalado en el servidor (make web).';
    return;
  }
  // An API key (`?key=...` in the page's address) goes with every request to this server.
  const key = new URLSearchParams(location.search).get('key');
  const api = (url) => fetch(url, key ? { headers: { 'X-API-Key': key } } : {});
  const meta = await (await api('/meta.json')).json();
  const layers = Object.fromEntries(meta.layers.map((l) => [l.name, l]));
  // Layers coloured by class, not by an index: a fixed legend.
  const classes = {
    hotspots: { field: 'Gi* (FDR 5 %)', rows: [['#d7301f', 'punto caliente'], ['#2b8cbe', 'punto frío']] },
  };
  const option = (select, value, label) => {
    const o = document.createElement('option');
    o.value = value;
    o.textContent = label;
    select.appendChild(o);
  };
  meta.windows.forEach((w) => option($('window'), w, w));
  $('window').value = meta.default_window;
  meta.categories.forEach((c) => option($('category'), c, c));
  meta.departments.forEach((d) => option($('department'), d, d));
  for (const o of [...$('view').options]) {
    if (!layers[o.value]) o.disabled = true;
  }
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
      .forEach((f) => option(select, f.name, `${f.name} — ${f.description}`));
    select.value = l.default_field;
  };
  fillFields();

  const style = await (await api('/style.json?' + query())).json();
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
  if (meta.bounds) options.bounds = meta.bounds;
  const map = new maplibregl.Map(options);
  window.predioMap = map;
  map.addControl(new maplibregl.NavigationControl(), 'top-right');
  map.addControl(new maplibregl.ScaleControl(), 'bottom-right');

  const views = {
    parcels: ['parcels-fill', 'parcels-line'],
    sectors: ['sectors-fill'],
    heat: ['heat-fill'],
    hotspots: ['hotspots-fill'],
  };
  const renderLegend = (legend) => {
    const div = $('legend');
    div.innerHTML = '';
    const title = document.createElement('strong');
    title.textContent = legend.field;
    div.appendChild(title);
    const row = (colour, text) => {
      const r = document.createElement('div');
      r.className = 'row';
      const s = document.createElement('span');
      s.className = 'swatch';
      s.style.background = colour;
      const t = document.createElement('span');
      t.textContent = text;
      r.append(s, t);
      div.appendChild(r);
    };
    if (legend.rows) legend.rows.forEach(([c, t]) => row(c, t));
    if (legend.none) row(legend.none, 'sin dato / 0');
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
      if (src) src.setTiles([`${location.origin}/tiles/${name}/{z}/{x}/{y}.mvt?${q}`]);
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
      const r = await api(`/legend.json?layer=${view}&field=${encodeURIComponent(field)}&${q}`);
      const legend = await r.json();
      if (r.ok) {
        map.setPaintProperty(views[view][0], 'fill-color', legend.paint);
        renderLegend(legend);
      } else {
        status.textContent = legend.error;
        return;
      }
    }
    status.textContent = `versión ${meta.version} · ${q.replaceAll('&', ' · ')}`;
    window.predioState = { view, field, query: q };
  };

  $('view').addEventListener('change', () => { fillFields(); update(); });
  $('field').addEventListener('change', update);
  $('window').addEventListener('change', update);
  $('category').addEventListener('change', () => { $('department').value = ''; update(); });
  $('department').addEventListener('change', () => { $('category').value = ''; update(); });

  map.on('click', (e) => {
    const visible = Object.values(views).flat().filter((id) => map.getLayer(id)
      && map.getLayoutProperty(id, 'visibility') !== 'none' && id.endsWith('-fill'));
    const f = map.queryRenderedFeatures(e.point, { layers: visible })[0];
    if (!f) return;
    const table = document.createElement('table');
    for (const [k, v] of Object.entries(f.properties)) {
      const tr = table.insertRow();
      tr.insertCell().textContent = k;
      tr.insertCell().textContent = typeof v === 'number' ? +v.toFixed(3) : v;
    }
    new maplibregl.Popup().setLngLat(e.lngLat).setDOMContent(table).addTo(map);
  });

  map.on('load', update);
})();
