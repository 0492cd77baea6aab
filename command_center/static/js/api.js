// The console's REST side: the bearer token and the few JSON calls it makes.
// The token lives in sessionStorage: it survives a reload but not closing the tab, which suits
// shared command-room workstations better than localStorage.

const TOKEN_KEY = 'linkage.token';

export class AuthError extends Error {}

export function getToken() {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function setToken(token) {
  sessionStorage.setItem(TOKEN_KEY, token);
}

export function clearToken() {
  sessionStorage.removeItem(TOKEN_KEY);
}

// `linkage run` prints a link ending in #token=…; take it and drop it from the address bar so the
// token is neither bookmarked nor shown to someone looking over the operator's shoulder.
export function takeTokenFromHash() {
  const params = new URLSearchParams(location.hash.slice(1));
  const token = params.get('token');
  if (!token) return null;
  params.delete('token');
  const rest = params.toString();
  history.replaceState(null, '', location.pathname + location.search + (rest ? `#${rest}` : ''));
  setToken(token);
  return token;
}

// The token's payload is readable (it is signed, not encrypted): the console uses it only to
// show who is signed in and to notice expiry early; the server still checks every request.
export function tokenClaims(token = getToken()) {
  try {
    const body = token.split('.')[0].replace(/-/g, '+').replace(/_/g, '/');
    const padded = body + '='.repeat((4 - (body.length % 4)) % 4);
    const bytes = Uint8Array.from(atob(padded), (c) => c.charCodeAt(0));
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    return null;
  }
}

export function tokenExpired(token = getToken()) {
  const claims = tokenClaims(token);
  return !claims || (typeof claims.exp === 'number' && claims.exp * 1000 <= Date.now());
}

export async function signIn(username, password) {
  const body = new URLSearchParams({ username, password });
  const response = await fetch('/api/v1/auth/token', { method: 'POST', body });
  if (response.status === 401 || response.status === 422) throw new AuthError('sign-in refused');
  if (!response.ok) throw new Error(`sign-in failed: HTTP ${response.status}`);
  const answer = await response.json();
  setToken(answer.access_token);
  return answer;
}

export async function getJSON(path, { signal } = {}) {
  const headers = { Accept: 'application/json' };
  const token = getToken();
  if (token) headers.Authorization = `Bearer ${token}`;
  const response = await fetch(path, { headers, signal });
  if (response.status === 401) throw new AuthError('not signed in');
  if (!response.ok) throw new Error(`${path}: HTTP ${response.status}`);
  return response.json();
}

// Operator commands carry an Idempotency-Key so that a retry after a network blip is a no-op.
// (crypto.randomUUID exists only in secure contexts; a console on plain http off loopback
// still needs a key.)
function idempotencyKey() {
  return globalThis.crypto?.randomUUID?.() ?? `${Date.now()}-${Math.random().toString(16).slice(2)}`;
}

export async function sendCommand(incidentId, command) {
  const headers = {
    Accept: 'application/json',
    'Content-Type': 'application/json',
    'Idempotency-Key': idempotencyKey(),
  };
  const token = getToken();
  if (token) headers.Authorization = `Bearer ${token}`;
  const path = `/api/v1/incidents/${encodeURIComponent(incidentId)}/commands`;
  const response = await fetch(path, { method: 'POST', headers, body: JSON.stringify(command) });
  if (response.status === 401) throw new AuthError('not signed in');
  const answer = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(answer?.error?.message ?? `HTTP ${response.status}`);
  return answer;
}

// True when the server still accepts the token; used after websocket failures, because a
// refused websocket handshake does not tell the browser why it was refused.
export async function tokenAccepted() {
  try {
    await getJSON('/api/v1/incidents?limit=1');
    return true;
  } catch (error) {
    return !(error instanceof AuthError);
  }
}
