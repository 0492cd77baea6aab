// The console's picture of open incidents, keyed by id. Deltas may arrive out of order across a
// resync or a reconnect, so an incident is only ever replaced by a newer version of itself.

const LEVEL_RANK = { I: 4, II: 3, III: 2, IV: 1 };

export function levelRank(level) {
  return LEVEL_RANK[level] ?? 0;
}

// Where to draw an incident: a Point as is, a MultiPoint (several reports) at the mean of its
// points, anything else at the middle of its first ring or line.
export function incidentPoint(incident) {
  const geometry = incident?.geometry;
  if (!geometry) return null;
  const coords = geometry.coordinates;
  switch (geometry.type) {
    case 'Point':
      return [coords[0], coords[1]];
    case 'MultiPoint':
    case 'LineString':
      return mean(coords);
    case 'MultiLineString':
    case 'Polygon':
      return mean(coords[0]);
    case 'MultiPolygon':
      return mean(coords[0][0]);
    default:
      return null;
  }
}

function mean(points) {
  if (!points?.length) return null;
  let x = 0;
  let y = 0;
  for (const point of points) {
    x += point[0];
    y += point[1];
  }
  return [x / points.length, y / points.length];
}

export class IncidentStore extends EventTarget {
  constructor() {
    super();
    this.byId = new Map();
  }

  // A snapshot is the whole truth: incidents missing from it were closed or are no longer
  // visible to this user.
  applySnapshot(incidents) {
    const previous = this.byId;
    this.byId = new Map();
    const changed = [];
    for (const incident of incidents) {
      this.byId.set(incident.id, incident);
      const before = previous.get(incident.id);
      if (!before || before.version !== incident.version) changed.push(incident.id);
    }
    const removed = [...previous.keys()].filter((id) => !this.byId.has(id));
    this.#emit(changed, removed, previous.size === 0);
  }

  applyDelta(message) {
    if (message.kind !== 'incident' || !message.incident) return; // other kinds: not shown yet
    const incident = message.incident;
    const current = this.byId.get(incident.id);
    if (current && Number(current.version) >= Number(incident.version)) return; // stale
    if (incident.status === 'closed') {
      if (!current) return;
      this.byId.delete(incident.id);
      this.#emit([], [incident.id], false);
      return;
    }
    this.byId.set(incident.id, incident);
    this.#emit([incident.id], [], false);
  }

  get(id) {
    return this.byId.get(id);
  }

  get size() {
    return this.byId.size;
  }

  countNew() {
    let count = 0;
    for (const incident of this.byId.values()) if (incident.status === 'new') count += 1;
    return count;
  }

  // Gravest level first; within a level the most recently active first, since that is the one
  // an operator is most likely to act on next.
  sorted() {
    return [...this.byId.values()].sort(
      (a, b) =>
        levelRank(b.level) - levelRank(a.level) ||
        (Date.parse(b.updated_at) || 0) - (Date.parse(a.updated_at) || 0) ||
        String(a.id).localeCompare(String(b.id)),
    );
  }

  toGeoJSON(selectedId) {
    const features = [];
    for (const incident of this.byId.values()) {
      const point = incidentPoint(incident);
      if (!point) continue;
      features.push({
        type: 'Feature',
        id: features.length,
        geometry: { type: 'Point', coordinates: point },
        properties: {
          id: incident.id,
          level: incident.level,
          rank: levelRank(incident.level),
          unacknowledged: incident.status === 'new',
          selected: incident.id === selectedId,
        },
      });
    }
    return { type: 'FeatureCollection', features };
  }

  #emit(changed, removed, initial) {
    this.dispatchEvent(new CustomEvent('change', { detail: { changed, removed, initial } }));
  }
}
