// The incident list and the details panel. Both render from the store; DOM is built with
// textContent only (never innerHTML) because titles and descriptions come from callers' words.

import { t, label, agencyName, bilingual, formatTime } from './i18n.js';
import { placeName, resolvePlace } from './geo.js';
import { incidentPoint } from './store.js';
import { sendCommand } from './api.js';

function el(tag, attrs = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value == null || value === false) continue;
    if (name === 'class') element.className = value;
    else if (name === 'dataset') Object.assign(element.dataset, value);
    else element.setAttribute(name, value === true ? '' : String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child == null || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

export function levelBadge(level) {
  return el('span', { class: `badge lv-${level}`, dataset: { level } },
    t('levelName', { roman: level, name: label('level', level) }));
}

// The detector's title is "category · what the caller said"; the list shows the category
// already, so only the words after it tell two rescues in one county apart.
function summary(incident) {
  const title = String(incident.title ?? '');
  const cut = title.indexOf(' · ');
  return cut >= 0 ? title.slice(cut + 3) : '';
}

function placeLabel(incident) {
  return placeName(incident) ?? t('unknownPlace');
}

export class IncidentList {
  constructor(listElement, emptyElement, { onSelect }) {
    this.list = listElement;
    this.empty = emptyElement;
    this.onSelect = onSelect;
    this.selectedId = null;
    this.fresh = new Set();
    // Arrow keys move between incidents: a long list should not need a Tab per item.
    this.list.addEventListener('keydown', (event) => this.#onKey(event));
  }

  markFresh(ids) {
    for (const id of ids) this.fresh.add(id);
  }

  render(incidents) {
    const focusedId = document.activeElement?.closest?.('[data-incident-id]')?.dataset.incidentId;
    const items = incidents.map((incident) => this.#item(incident));
    this.list.replaceChildren(...items);
    this.empty.hidden = incidents.length > 0;
    this.fresh.clear();
    if (focusedId) this.list.querySelector(`[data-incident-id="${CSS.escape(focusedId)}"]`)?.focus();
    // Names not known yet are fetched once and then the list re-renders from the cache.
    const missing = incidents.filter((incident) => !placeName(incident));
    if (missing.length) {
      Promise.all(missing.map((incident) => resolvePlace(incident))).then((found) => {
        if (found.some(Boolean)) this.render(this.lastIncidents ?? incidents);
      });
    }
    this.lastIncidents = incidents;
  }

  select(id) {
    this.selectedId = id;
    for (const button of this.list.querySelectorAll('[data-incident-id]')) {
      button.setAttribute('aria-current', button.dataset.incidentId === id ? 'true' : 'false');
    }
  }

  focusItem(id) {
    const selector = id ? `[data-incident-id="${CSS.escape(id)}"]` : '[data-incident-id]';
    (this.list.querySelector(selector) ?? this.list.querySelector('[data-incident-id]'))?.focus();
  }

  #item(incident) {
    const events = incident.event_ids?.length ?? 0;
    const fresh = this.fresh.has(incident.id);
    const button = el(
      'button',
      {
        type: 'button',
        class: `incident${fresh ? ' fresh' : ''}`,
        dataset: { incidentId: incident.id, level: incident.level },
        'aria-current': incident.id === this.selectedId ? 'true' : 'false',
      },
      levelBadge(incident.level),
      el('span', { class: 'title' },
        incident.status === 'new' ? [el('span', { class: 'new-tag' }, t('newTag')), ' '] : null,
        label('category', incident.category), ' · ', placeLabel(incident)),
      summary(incident) ? el('span', { class: 'desc' }, summary(incident)) : null,
      el('span', { class: 'meta' },
        el('span', { class: 'status' }, label('status', incident.status)),
        el('span', { class: 'events' }, events === 1 ? t('eventsOne') : t('events', { n: events })),
        el('time', { datetime: incident.updated_at }, formatTime(incident.updated_at))),
    );
    button.title = incident.title ?? '';
    button.addEventListener('click', () => this.onSelect(incident.id, { from: 'list' }));
    return el('li', {}, button);
  }

  #onKey(event) {
    if (!['ArrowDown', 'ArrowUp', 'Home', 'End'].includes(event.key)) return;
    const buttons = [...this.list.querySelectorAll('[data-incident-id]')];
    if (!buttons.length) return;
    const index = buttons.indexOf(document.activeElement);
    let next = index;
    if (event.key === 'ArrowDown') next = Math.min(buttons.length - 1, index + 1);
    if (event.key === 'ArrowUp') next = Math.max(0, index - 1);
    if (event.key === 'Home') next = 0;
    if (event.key === 'End') next = buttons.length - 1;
    event.preventDefault();
    buttons[next].focus();
  }
}

export class DetailsPanel {
  constructor(panel, { onClose }) {
    this.panel = panel;
    this.title = panel.querySelector('#details-title');
    this.body = panel.querySelector('#details-body');
    this.incidentId = null;
    panel.querySelector('#details-close').addEventListener('click', () => onClose());
  }

  get open() {
    return !this.panel.hidden;
  }

  show(incident, { focus = false } = {}) {
    this.incidentId = incident.id;
    this.render(incident);
    this.panel.hidden = false;
    if (focus) this.title.focus();
  }

  hide() {
    this.incidentId = null;
    this.panel.hidden = true;
  }

  render(incident) {
    if (!incident) return;
    this.title.textContent = incident.title || label('category', incident.category);
    const point = incidentPoint(incident);
    const events = incident.event_ids?.length ?? 0;
    const facts = [
      ['field.level', levelBadge(incident.level)],
      ['field.category', label('category', incident.category)],
      ['field.status', label('status', incident.status)],
      ['field.place', placeLabel(incident)],
      ['field.events', String(events)],
      ['field.opened', el('time', { datetime: incident.opened_at }, formatTime(incident.opened_at))],
      ['field.updated', el('time', { datetime: incident.updated_at }, formatTime(incident.updated_at))],
      ['field.position', point ? `${point[0].toFixed(4)}, ${point[1].toFixed(4)}` : '—'],
      ['field.id', el('span', { class: 'mono' }, incident.id)],
    ];
    const list = el('dl', {}, facts.map(([key, value]) => [el('dt', {}, t(key)), el('dd', {}, value)]));
    this.body.replaceChildren(
      list,
      this.#actions(incident),
      el('h3', {}, t('explanation')),
      el('p', { class: 'explanation', id: 'details-explanation' }, incident.explanation || '—'),
      el('h3', {}, t('tasks')),
      this.#tasks(incident.tasks ?? []),
    );
    if (!placeName(incident)) {
      resolvePlace(incident).then((name) => {
        if (name && this.incidentId === incident.id) this.render(incident);
      });
    }
  }

  // Acknowledging is the one command every new incident needs; the delta that follows re-renders
  // the panel, so the button only has to report failures.
  #actions(incident) {
    if (incident.status !== 'new') return null;
    const status = el('span', { class: 'muted', role: 'status' });
    const button = el('button', { type: 'button', id: 'details-ack', class: 'ack' }, t('acknowledge'));
    button.addEventListener('click', async () => {
      button.disabled = true;
      status.textContent = '';
      try {
        await sendCommand(incident.id, { command: 'acknowledge', expected_version: incident.version });
      } catch (error) {
        status.textContent = `${t('ackFailed')}: ${error.message}`;
        button.disabled = false;
      }
    });
    return el('div', { class: 'actions' }, button, status);
  }

  // Tasks are grouped by agency, the lead agency (first task) first, as the rules order them.
  #tasks(tasks) {
    if (!tasks.length) return el('p', { class: 'muted' }, t('noTasks'));
    const byAgency = new Map();
    for (const task of tasks) {
      if (!byAgency.has(task.agency)) byAgency.set(task.agency, []);
      byAgency.get(task.agency).push(task);
    }
    return el('ul', { class: 'tasks' }, [...byAgency].map(([agency, items]) => {
      const name = agencyName(agency);
      return el('li', { dataset: { agency } },
        el('div', { class: 'agency' }, name.primary, name.secondary ? el('small', {}, name.secondary) : null),
        items.map((task) => el('div', { class: 'action' },
          el('span', { class: 'status' }, label('task', task.status)),
          bilingual(task.action))));
    }));
  }
}
