// Geodata for the console: the boundary and river layers of the map, and the names of the
// divisions that incidents lie in. Names come from the layers' own properties when the map has
// them (no extra request), else from /api/v1/geo/lookup, cached, since an adcode never changes
// its name within a session.

import { getJSON, AuthError } from './api.js';
import { incidentPoint } from './store.js';

const names = new Map(); // adcode → name
const lookups = new Map(); // rounded "lon,lat" → Promise of the lookup answer
const pointNames = new Map(); // rounded "lon,lat" → name found by lookup (null: none there)
let lookupPausedUntil = 0;
let divisionsSettled;
const divisionsReady = new Promise((resolve) => {
  divisionsSettled = resolve;
});

export function layerUrl(layer, zoom) {
  return `/api/v1/geo/layers/${encodeURIComponent(layer)}.geojson?zoom=${zoom}`;
}

export async function fetchLayer(layer, zoom, signal) {
  const data = await getJSON(layerUrl(layer, zoom), { signal });
  if (data?.type !== 'FeatureCollection' || !Array.isArray(data.features)) {
    throw new Error(`${layer}: not a FeatureCollection`);
  }
  remember(data.features);
  return data;
}

// Division layers carry `adcode` and `name`; remembering them makes most lookups unnecessary.
function remember(features) {
  for (const feature of features) {
    const props = feature.properties ?? {};
    if (props.adcode != null && props.name) names.set(String(props.adcode), String(props.name));
  }
}

// The map calls this once its first division layers have loaded or failed, so that place names
// wait for the cheap source before falling back to one lookup request per place.
export function divisionsLoaded() {
  divisionsSettled();
}

export function nameOf(adcode) {
  return adcode == null ? null : names.get(String(adcode)) ?? null;
}

// The best name known right now, without a request: county, else city, else province.
export function placeName(incident) {
  const byCode = nameOf(incident.county) ?? nameOf(incident.city) ?? nameOf(incident.province);
  if (byCode) return byCode;
  const point = incidentPoint(incident);
  return point ? pointNames.get(cell(point)) ?? null : null;
}

// ~100 m cells: reports from one street share one request.
function cell(point) {
  return `${point[0].toFixed(3)},${point[1].toFixed(3)}`;
}

// Resolves to a name (or null) and caches it; callers re-render when it resolves.
export async function resolvePlace(incident) {
  const known = placeName(incident);
  if (known) return known;
  await Promise.race([divisionsReady, new Promise((resolve) => setTimeout(resolve, 3000))]);
  const afterLayers = placeName(incident);
  if (afterLayers) return afterLayers;
  const point = incidentPoint(incident);
  if (!point || pointNames.has(cell(point)) || Date.now() < lookupPausedUntil) return null;
  const answer = await lookup(point);
  if (!answer) return null;
  for (const level of ['province', 'city', 'county']) {
    const division = answer[level];
    if (division?.adcode && division.name) names.set(String(division.adcode), division.name);
  }
  const name = answer.county?.name ?? answer.city?.name ?? answer.province?.name ?? null;
  // Remembered even when null (outside every division), so it is never asked again.
  pointNames.set(cell(point), name);
  return name;
}

function lookup(point) {
  const [lon, lat] = point;
  const key = cell(point);
  if (!lookups.has(key)) {
    const url = `/api/v1/geo/lookup?lon=${lon.toFixed(6)}&lat=${lat.toFixed(6)}`;
    lookups.set(
      key,
      getJSON(url).catch((error) => {
        lookups.delete(key);
        // A missing or failing lookup service must not be asked again for every incident.
        if (!(error instanceof AuthError)) lookupPausedUntil = Date.now() + 60_000;
        return null;
      }),
    );
  }
  return lookups.get(key);
}
