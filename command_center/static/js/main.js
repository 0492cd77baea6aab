// Wires the console together: sign-in, the live feed, the store, the map and the panels.

import { t, getLang, setLang, onLangChange, applyI18n } from './i18n.js';
import {
  AuthError, clearToken, getToken, signIn, takeTokenFromHash, tokenAccepted, tokenClaims,
  tokenExpired,
} from './api.js';
import { LiveFeed } from './live.js';
import { IncidentStore, incidentPoint } from './store.js';
import { MapView } from './map.js';
import { IncidentList, DetailsPanel } from './panels.js';

const $ = (selector) => document.querySelector(selector);

const store = new IncidentStore();
const live = new LiveFeed({ getToken, checkToken: tokenAccepted });
let selectedId = null;

const list = new IncidentList($('#incident-list'), $('#list-empty'), { onSelect: select });
const details = new DetailsPanel($('#details'), { onClose: () => closeDetails() });
const mapView = new MapView($('#map'), { onSelect: select, notice: $('#map-notice') });

// --- selection ---------------------------------------------------------------------------------

function select(id, { from } = {}) {
  const incident = store.get(id);
  if (!incident) return;
  selectedId = id;
  list.select(id);
  const wasOpen = details.open;
  details.show(incident, { focus: from === 'list' });
  if (!wasOpen) mapView.resize(); // the details column narrows the map
  mapView.setIncidents(store.toGeoJSON(selectedId));
  mapView.flyTo(incidentPoint(incident));
}

function closeDetails({ restoreFocus = true } = {}) {
  const previous = selectedId;
  selectedId = null;
  details.hide();
  list.select(null);
  mapView.resize();
  mapView.setIncidents(store.toGeoJSON(null));
  // Back to where the operator was, so keyboard work continues from the same incident.
  if (restoreFocus) list.focusItem(previous);
}

// --- rendering ---------------------------------------------------------------------------------

// Deltas can come in bursts (a flood of calls); render at most once per animation frame.
let renderQueued = false;
function scheduleRender() {
  if (renderQueued) return;
  renderQueued = true;
  requestAnimationFrame(() => {
    renderQueued = false;
    render();
  });
}

function render() {
  list.render(store.sorted());
  list.select(selectedId);
  mapView.setIncidents(store.toGeoJSON(selectedId));
  $('#counts').textContent = t('counts', { open: store.size, new: store.countNew() });
  if (selectedId) {
    const incident = store.get(selectedId);
    if (incident) details.render(incident);
    else closeDetails({ restoreFocus: false }); // closed or no longer visible
  }
}

store.addEventListener('change', (event) => {
  const { changed, initial } = event.detail;
  if (!initial) list.markFresh(changed);
  scheduleRender();
});

// --- connection --------------------------------------------------------------------------------

live.addEventListener('snapshot', (event) => store.applySnapshot(event.detail.incidents ?? []));
live.addEventListener('delta', (event) => store.applyDelta(event.detail));
live.addEventListener('state', (event) => showConnection(event.detail));
live.addEventListener('unauthorized', () => {
  clearToken();
  openSignIn(t('sessionExpired'));
});

function showConnection(state) {
  const box = $('#conn');
  box.dataset.state = state;
  const text = $('#conn-text');
  text.dataset.i18n = `conn.${state}`;
  text.textContent = t(`conn.${state}`);
}

// --- sign-in -----------------------------------------------------------------------------------

const dialog = $('#sign-in');

function openSignIn(message = '') {
  $('#sign-in-error').textContent = message;
  $('#sign-out').hidden = true;
  $('#user-name').textContent = '';
  if (!dialog.open) dialog.showModal();
  $('#username').focus();
}

function startSession() {
  const claims = tokenClaims();
  $('#user-name').textContent = claims?.name ?? '';
  $('#sign-out').hidden = false;
  mapView.enableLayers();
  live.start();
}

$('#sign-in-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const username = $('#username').value.trim();
  const password = $('#password').value;
  const submit = $('#sign-in-submit');
  const error = $('#sign-in-error');
  if (!username || !password) {
    error.textContent = t('signInFailed');
    return;
  }
  submit.disabled = true;
  error.textContent = t('signingIn');
  try {
    await signIn(username, password);
    $('#password').value = '';
    error.textContent = '';
    dialog.close();
    startSession();
  } catch (failure) {
    error.textContent = failure instanceof AuthError ? t('signInFailed') : t('signInUnreachable');
  } finally {
    submit.disabled = false;
  }
});

// The sign-in dialog must not be dismissed with Esc: there is nothing behind it to use yet.
dialog.addEventListener('cancel', (event) => event.preventDefault());

$('#sign-out').addEventListener('click', () => {
  live.stop();
  clearToken();
  store.applySnapshot([]);
  closeDetails({ restoreFocus: false });
  openSignIn();
});

// --- language and keyboard ---------------------------------------------------------------------

function toggleLanguage() {
  setLang(getLang() === 'zh' ? 'en' : 'zh');
}

onLangChange(() => {
  document.title = t('appTitle');
  $('#lang-toggle').textContent = t('langButton');
  $('#sign-in-lang').textContent = t('langButton');
  showConnection(live.state);
  mapView.refreshText();
  render();
});

$('#lang-toggle').addEventListener('click', toggleLanguage);
$('#sign-in-lang').addEventListener('click', toggleLanguage);

document.addEventListener('keydown', (event) => {
  if (event.key === 'Escape' && details.open && !dialog.open) {
    event.preventDefault();
    closeDetails();
  }
});

// --- start -------------------------------------------------------------------------------------

setLang(getLang());
applyI18n(document);
takeTokenFromHash();
if (getToken() && !tokenExpired()) {
  startSession();
} else {
  clearToken();
  openSignIn();
}

// A debugging hook for operators' support staff and for the browser tests: read-only use only.
window.__linkage = { store, live, map: mapView.map, mapView };
