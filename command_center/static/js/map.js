// The operators' map: MapLibre GL JS with a blank background, the division and river layers of
// /api/v1/geo, and the live incident points. No basemap tiles and no glyphs: everything the map
// draws comes from this server, so it works on an isolated network. (Without glyphs there are no
// text labels on the map; names are in the list and the details panel.)

import * as maplibregl from '../vendor/maplibre-gl/maplibre-gl.mjs';
import { fetchLayer, divisionsLoaded } from './geo.js';
import { t } from './i18n.js';

const EMPTY = { type: 'FeatureCollection', features: [] };
const BASE_LAYERS = ['provinces', 'cities', 'counties', 'rivers'];
// Layers are fetched at the top zoom of each of the server's simplification bands (gis/mapdata.py:
// ≤5, 6–7, 8–9, 10–11), so one request per band, each answered from the server's cache or with
// a 304 via ETag. Zoom 12+ (full geometry) is not asked for: band 10–11 is fine enough for a
// point map and keeps the vertex count low.
const ZOOM_STEPS = [5, 7, 9, 11];
const RETRY_FAILED_MS = 30_000;
const LEVEL_COLOUR = ['match', ['get', 'level'], 'I', '#d7191c', 'II', '#f07800', 'III', '#f2c500', 'IV', '#1f78d1', '#888'];
const LEVEL_RADIUS = ['match', ['get', 'level'], 'I', 11, 'II', 9, 'III', 7.5, 'IV', 6, 6];

function style() {
  const geojson = (attribution) => ({ type: 'geojson', data: EMPTY, ...(attribution ? { attribution } : {}) });
  return {
    version: 8,
    sources: {
      provinces: geojson(),
      cities: geojson(),
      counties: geojson(),
      rivers: geojson(),
      incidents: geojson(),
    },
    layers: [
      { id: 'background', type: 'background', paint: { 'background-color': '#0d1a26' } },
      { id: 'counties-fill', type: 'fill', source: 'counties', paint: { 'fill-color': '#14283a' } },
      { id: 'counties-line', type: 'line', source: 'counties', paint: { 'line-color': '#2c465e', 'line-width': 0.6 } },
      { id: 'cities-line', type: 'line', source: 'cities', paint: { 'line-color': '#4f7394', 'line-width': 1.2 } },
      { id: 'provinces-line', type: 'line', source: 'provinces', paint: { 'line-color': '#8aa7c4', 'line-width': 2 } },
      {
        id: 'rivers', type: 'line', source: 'rivers',
        paint: { 'line-color': '#2f86c9', 'line-width': ['interpolate', ['linear'], ['zoom'], 5, 1, 10, 2.5] },
      },
      {
        // The halo marks incidents nobody has acknowledged yet.
        id: 'incident-halo', type: 'circle', source: 'incidents',
        filter: ['==', ['get', 'unacknowledged'], true],
        paint: {
          'circle-radius': ['+', LEVEL_RADIUS, 8],
          'circle-color': 'rgba(255, 216, 74, 0.16)',
          'circle-stroke-color': 'rgba(255, 216, 74, 0.9)',
          'circle-stroke-width': 2,
        },
      },
      {
        id: 'incident-points', type: 'circle', source: 'incidents',
        layout: { 'circle-sort-key': ['get', 'rank'] }, // graver incidents drawn on top
        paint: {
          'circle-radius': LEVEL_RADIUS,
          'circle-color': LEVEL_COLOUR,
          'circle-stroke-color': '#ffffff',
          'circle-stroke-width': 1.5,
        },
      },
      {
        id: 'incident-selected', type: 'circle', source: 'incidents',
        filter: ['==', ['get', 'selected'], true],
        paint: {
          'circle-radius': ['+', LEVEL_RADIUS, 5],
          'circle-opacity': 0,
          'circle-stroke-color': '#4aa3ff',
          'circle-stroke-width': 3,
        },
      },
    ],
  };
}

export class MapView {
  constructor(container, { onSelect, notice }) {
    this.onSelect = onSelect;
    this.noticeElement = notice;
    this.failedLayers = new Set();
    this.failedUntil = new Map(); // layer → time before which it is not asked again
    this.pendingIncidents = EMPTY;
    this.ready = false;
    this.layersWanted = false;
    this.framed = false;
    this.step = null;
    this.map = null;
    try {
      this.map = new maplibregl.Map({
        container,
        style: style(),
        center: [105, 35], // until the division layers say where the data is
        zoom: 3.5,
        attributionControl: { compact: true, customAttribution: 'MapLibre GL JS' },
        dragRotate: false,
        pitchWithRotate: false,
      });
    } catch (error) {
      // No WebGL (old workstation, remote desktop): the list and details still work.
      console.warn('map unavailable:', error);
      this.#notice(t('basemapFailed', { layers: 'WebGL' }));
      divisionsLoaded();
      return;
    }
    this.map.touchZoomRotate.disableRotation();
    this.map.addControl(new maplibregl.NavigationControl({ showCompass: false }), 'top-right');
    this.map.addControl(new maplibregl.ScaleControl({ unit: 'metric' }), 'bottom-right');
    this.map.on('load', () => {
      this.ready = true;
      this.map.getSource('incidents').setData(this.pendingIncidents);
      if (this.layersWanted) this.#loadLayers();
    });
    this.map.on('zoomend', () => {
      if (this.layersWanted) this.#loadLayers();
    });
    this.map.on('click', 'incident-points', (event) => {
      const feature = event.features?.[0];
      if (feature) this.onSelect(feature.properties.id, { from: 'map' });
    });
    this.map.on('mouseenter', 'incident-points', () => {
      this.map.getCanvas().style.cursor = 'pointer';
    });
    this.map.on('mouseleave', 'incident-points', () => {
      this.map.getCanvas().style.cursor = '';
    });
  }

  // Geo layers may need the operator's token, so they are fetched once someone has signed in.
  enableLayers() {
    this.layersWanted = true;
    if (this.ready) this.#loadLayers();
  }

  setIncidents(collection) {
    this.pendingIncidents = collection;
    if (this.ready) this.map.getSource('incidents').setData(collection);
    if (!this.framed && this.ready && this.failedLayers.has('provinces')) {
      this.#frame(collection.features); // no province outline to frame: frame the incidents
    }
  }

  flyTo(point) {
    if (!this.map || !point) return;
    this.map.flyTo({ center: point, zoom: Math.max(this.map.getZoom(), 9), speed: 1.6 });
  }

  resize() {
    this.map?.resize();
  }

  // Re-render the notice in the current language.
  refreshText() {
    if (this.failedLayers.size) {
      this.#notice(t('basemapFailed', { layers: [...this.failedLayers].join(', ') }));
    }
  }

  async #loadLayers() {
    const zoom = this.map.getZoom();
    const step = ZOOM_STEPS.find((top) => Math.floor(zoom) <= top) ?? ZOOM_STEPS.at(-1);
    if (step === this.step) return;
    this.step = step;
    this.abort?.abort();
    const abort = new AbortController();
    this.abort = abort;
    const now = Date.now();
    await Promise.all(
      BASE_LAYERS.map(async (layer) => {
        // A layer that just failed is left alone for a while rather than asked again at every
        // zoom step of a fly-to.
        if ((this.failedUntil.get(layer) ?? 0) > now) return;
        try {
          const data = await fetchLayer(layer, step, abort.signal);
          if (abort.signal.aborted) return;
          this.map.getSource(layer).setData(data);
          this.failedLayers.delete(layer);
          this.failedUntil.delete(layer);
          if (layer === 'provinces' && !this.framed) this.#frame(data.features);
        } catch (error) {
          if (abort.signal.aborted) return;
          this.failedLayers.add(layer);
          this.failedUntil.set(layer, Date.now() + RETRY_FAILED_MS);
          console.warn(`map layer ${layer} unavailable:`, error.message);
        }
      }),
    );
    if (abort.signal.aborted) return;
    divisionsLoaded();
    if (this.failedLayers.size) {
      this.refreshText();
      if (!this.framed) this.#frame(this.pendingIncidents.features);
      clearTimeout(this.retryTimer);
      this.retryTimer = setTimeout(() => {
        this.step = null;
        this.#loadLayers();
      }, RETRY_FAILED_MS);
    } else {
      this.#notice(null);
    }
  }

  #frame(features) {
    const box = bounds(features);
    if (!box) return;
    this.framed = true;
    this.map.fitBounds(box, { padding: 30, duration: 0, maxZoom: 10 });
  }

  #notice(text) {
    if (!this.noticeElement) return;
    this.noticeElement.hidden = !text;
    this.noticeElement.textContent = text ?? '';
  }
}

// The lon/lat box of any GeoJSON features, or null when they have no coordinates.
function bounds(features) {
  let box = null;
  const visit = (coords) => {
    if (typeof coords[0] === 'number') {
      const [x, y] = coords;
      box = box ? [Math.min(box[0], x), Math.min(box[1], y), Math.max(box[2], x), Math.max(box[3], y)] : [x, y, x, y];
      return;
    }
    for (const item of coords) visit(item);
  };
  for (const feature of features ?? []) {
    if (feature.geometry?.coordinates) visit(feature.geometry.coordinates);
  }
  return box && [[box[0], box[1]], [box[2], box[3]]];
}
