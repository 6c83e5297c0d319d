// Ferry admin console. Plain JavaScript, no build step, no third-party code.
// Rule: data from the server becomes text only (textContent / text nodes / setAttribute), never markup.
'use strict';

let csrf = '';
const state = { users: [], bans: [], editing: null, points: [], lastRates: new Map() };

function $(selector) { return document.querySelector(selector); }

// Builds an element; string and number children become text nodes (never parsed as HTML).
function el(tag, attributes, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes || {})) {
    if (key === 'class') node.className = value;
    else if (key.startsWith('on')) node.addEventListener(key.slice(2), value);
    else if (value !== null && value !== undefined && value !== false) node.setAttribute(key, value === true ? '' : String(value));
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function bytes(n) {
  if (n === null || n === undefined) return '';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  let v = Number(n);
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
  return (i === 0 ? String(Math.round(v)) : v.toFixed(1)) + ' ' + units[i];
}

function ago(iso) {
  const s = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
  if (s < 60) return s + ' s';
  if (s < 3600) return Math.floor(s / 60) + ' min';
  return Math.floor(s / 3600) + ' h ' + Math.floor((s % 3600) / 60) + ' min';
}

function notice(text, isError) {
  const p = $('#notice');
  p.textContent = text;
  p.className = isError ? 'error' : '';
}

async function api(method, path, body) {
  const headers = { 'Accept': 'application/json' };
  if (method !== 'GET') headers['X-CSRF-TOKEN'] = csrf;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const response = await fetch(path, { method, headers, credentials: 'same-origin', body: body === undefined ? undefined : JSON.stringify(body) });
  if (response.status === 401) { location.href = '/login'; throw new Error('logged out'); }
  const type = response.headers.get('Content-Type') || '';
  const data = type.includes('json') ? await response.json() : await response.text();
  if (!response.ok) throw new Error((data && data.error) || String(data).trim() || ('HTTP ' + response.status));
  return data;
}

function replaceRows(table, rows, emptyText, columns) {
  const body = table.tBodies[0];
  body.replaceChildren(...(rows.length ? rows : [el('tr', {}, el('td', { colspan: columns, class: 'empty' }, emptyText))]));
}

// --- views ------------------------------------------------------------------------------------
const views = ['dashboard', 'users', 'bans', 'transfers', 'status'];

function show() {
  const name = (location.hash.replace(/^#\//, '') || 'dashboard');
  const view = views.includes(name) ? name : 'dashboard';
  for (const v of views) {
    $('#view-' + v).hidden = v !== view;
    const link = document.querySelector('nav a[data-view="' + v + '"]');
    if (v === view) link.setAttribute('aria-current', 'page'); else link.removeAttribute('aria-current');
  }
  document.title = 'Ferry admin: ' + view;
  const heading = $('#h-' + view);
  if (document.activeElement && document.activeElement.closest('nav')) heading.focus();
  load(view).catch(e => notice(e.message, true));
}

async function load(view) {
  if (view === 'users') await loadUsers();
  else if (view === 'bans') await loadBans();
  else if (view === 'transfers') await loadTransfers();
  else if (view === 'status') await loadStatus();
  else await loadChart();
}

// --- dashboard: sessions over Server-Sent Events ------------------------------------------------
// The stream opens with a snapshot of every session, then each second sends only the sessions
// added, changed and removed since. The page keeps one row per session and touches only those.
const live = new Map(); // session id -> { session, row }

function sessionCells(s) {
  const t = s.transfer;
  let transfer = '';
  if (t) {
    const progress = t.size ? el('progress', { max: t.size, value: t.bytes, 'aria-label': 'Progress of ' + t.path }) : null;
    transfer = el('div', { class: 'transfer' },
      el('span', { class: 'direction' }, t.direction === 'upload' ? 'up ' : 'down '),
      el('span', { class: 'path' }, t.path), progress,
      el('span', { class: 'progress-text' }, bytes(t.bytes) + (t.size ? ' of ' + bytes(t.size) + ' (' + t.percent + ' %)' : '')));
  }
  return [el('td', {}, s.id), el('td', { class: 'user' }, s.user || '—'), el('td', {}, s.address + ':' + s.port),
    el('td', { class: 'connected' }, ago(s.connectedAt)), el('td', { class: 'command' }, s.command || ''), el('td', {}, transfer),
    el('td', { class: 'rate' }, t ? bytes(t.bytesPerSecond) + '/s' : '')];
}

function kickLabel(s) { return 'Kick session ' + s.id + ' (' + (s.user || 'not logged in') + ')'; }

function sessionRow(s) {
  const kick = el('button', { type: 'button', class: 'danger', 'aria-label': kickLabel(s), onclick: () => kickSession(s.id) }, 'Kick');
  return el('tr', { 'data-session': s.id }, ...sessionCells(s), el('td', {}, kick));
}

// A changed session: its cells are rebuilt, its Kick button kept (focus stays where it was).
function updateRow(entry, s) {
  const kickCell = entry.row.lastElementChild;
  kickCell.firstElementChild.setAttribute('aria-label', kickLabel(s));
  entry.row.replaceChildren(...sessionCells(s), kickCell);
  entry.session = s;
}

// Rows in id order; called when sessions come or go.
function placeRows() {
  const rows = [...live.values()].sort((a, b) => a.session.id - b.session.id).map(e => e.row);
  if (rows.length) $('#sessions').tBodies[0].replaceChildren(...rows);
  else replaceRows($('#sessions'), [], 'No sessions.', 8);
}

function refreshConnected() {
  $('#sum-sessions').textContent = String(live.size);
  for (const entry of live.values()) {
    const cell = entry.row.querySelector('td.connected');
    const text = ago(entry.session.connectedAt);
    if (cell.textContent !== text) cell.textContent = text;
  }
}

function applySnapshot(sessions) {
  live.clear();
  for (const s of sessions) live.set(s.id, { session: s, row: sessionRow(s) });
  placeRows();
  refreshConnected();
}

function applyUpdate(update) {
  let moved = false;
  for (const s of update.added.concat(update.changed)) {
    const entry = live.get(s.id);
    if (entry) updateRow(entry, s);
    else { live.set(s.id, { session: s, row: sessionRow(s) }); moved = true; }
  }
  for (const id of update.removed) {
    const entry = live.get(id);
    if (entry) { entry.row.remove(); live.delete(id); moved = true; }
  }
  if (moved) placeRows();
  refreshConnected();
}

function applyStatus(update) {
  $('#sum-state').textContent = update.draining ? 'draining' : 'running';
  if (update.throughput) {
    const last = state.points[state.points.length - 1];
    if (!last || last.time !== update.throughput.time) { state.points.push(update.throughput); drawChart(); }
    $('#sum-rate').textContent = bytes(update.throughput.bytesPerSecond) + '/s';
  }
}

async function kickSession(id) {
  if (!confirm('Close session ' + id + '? The client is told 421.')) return;
  try { await api('POST', '/api/sessions/' + encodeURIComponent(id) + '/kick'); notice('Session ' + id + ' closed.'); }
  catch (e) { notice(e.message, true); }
}

function startEvents() {
  const source = new EventSource('/api/events');
  source.addEventListener('open', () => { $('#sum-live').textContent = 'on'; });
  source.addEventListener('error', () => { $('#sum-live').textContent = 'reconnecting…'; });
  // Every (re)connection starts with a snapshot, so nothing missed while away is kept.
  source.addEventListener('snapshot', event => {
    const snapshot = JSON.parse(event.data);
    applySnapshot(snapshot.sessions);
    applyStatus(snapshot);
  });
  source.addEventListener('update', event => {
    const update = JSON.parse(event.data);
    applyUpdate(update);
    applyStatus(update);
  });
}

async function loadChart() {
  state.points = await api('GET', '/api/throughput');
  drawChart();
}

function drawChart() {
  const svg = $('#chart');
  const ns = 'http://www.w3.org/2000/svg';
  const now = Date.now();
  const points = state.points.filter(p => now - Date.parse(p.time) <= 3600 * 1000);
  state.points = points;
  const max = Math.max(1024, ...points.map(p => p.bytesPerSecond));
  const x = t => 600 * (1 - (now - Date.parse(t)) / 3600000);
  const y = v => 150 - 140 * v / max;
  const line = document.createElementNS(ns, 'polyline');
  line.setAttribute('points', points.map(p => x(p.time).toFixed(1) + ',' + y(p.bytesPerSecond).toFixed(1)).join(' '));
  line.setAttribute('class', 'line');
  const axis = document.createElementNS(ns, 'line');
  for (const [k, v] of [['x1', 0], ['y1', 150], ['x2', 600], ['y2', 150]]) axis.setAttribute(k, v);
  axis.setAttribute('class', 'axis');
  $('#chart-max').textContent = 'top of the chart: ' + bytes(max) + '/s';
  const desc = document.createElementNS(ns, 'desc');
  desc.id = 'chart-desc';
  desc.textContent = points.length ? 'Last hour: peak ' + bytes(max) + '/s, now ' + bytes(points[points.length - 1].bytesPerSecond) + '/s.' : 'No data yet.';
  svg.replaceChildren(desc, axis, line);
}

// --- users ------------------------------------------------------------------------------------
async function loadUsers() {
  try { state.users = await api('GET', '/api/users'); }
  catch (e) { state.users = []; notice(e.message, true); }
  renderUsers();
}

function renderUsers() {
  const q = $('#user-search').value.toLowerCase();
  const rows = state.users.filter(u => !q || u.name.toLowerCase().includes(q) || u.home.toLowerCase().includes(q)).map(u =>
    el('tr', { 'data-user': u.name },
      el('td', { class: 'user' }, u.name), el('td', {}, u.home), el('td', {}, u.permissions.join(', ')),
      el('td', {}, u.quotaBytes ?? '—'), el('td', {}, u.quotaFiles ?? '—'), el('td', {}, u.disabled ? 'disabled' : u.expired ? 'expired' : 'active'),
      el('td', { class: 'policy' }, policyText(u)),
      el('td', { class: 'actions' },
        el('button', { type: 'button', 'aria-label': 'Edit ' + u.name, onclick: () => editUser(u) }, 'Edit'),
        el('button', { type: 'button', 'aria-label': (u.disabled ? 'Enable ' : 'Disable ') + u.name, onclick: () => toggleUser(u) }, u.disabled ? 'Enable' : 'Disable'),
        el('button', { type: 'button', class: 'danger', 'aria-label': 'Delete ' + u.name, onclick: () => deleteUser(u) }, 'Delete'))));
  replaceRows($('#users'), rows, 'No users.', 8);
}

// The account policy in one short line: session limits, networks, expiry (issue 20).
function policyText(u) {
  const parts = [];
  if (u.maxSessions != null) parts.push('sessions ≤ ' + (u.maxSessions === 0 ? '∞' : u.maxSessions));
  if (u.maxSessionsPerAddress != null) parts.push('per address ≤ ' + (u.maxSessionsPerAddress === 0 ? '∞' : u.maxSessionsPerAddress));
  if (u.allowFrom && u.allowFrom.length) parts.push('from ' + u.allowFrom.join(', '));
  if (u.denyFrom && u.denyFrom.length) parts.push('not from ' + u.denyFrom.join(', '));
  if (u.expires) parts.push((u.expired ? 'expired ' : 'expires ') + u.expires);
  if (u.uploadRate != null) parts.push('upload ≤ ' + (u.uploadRate === '0' ? '∞' : u.uploadRate + '/s'));
  if (u.downloadRate != null) parts.push('download ≤ ' + (u.downloadRate === '0' ? '∞' : u.downloadRate + '/s'));
  if (u.folders && u.folders.length) parts.push('folders ' + u.folders.map(f => f.path).join(', '));
  return parts.length ? parts.join('; ') : '—';
}

function networks(text) {
  return text.split(',').map(t => t.trim()).filter(t => t);
}

// Virtual folders in the form's spelling (that of `ferry user --folder`), one a line.
function folderLine(f) {
  let line = f.path + '=' + f.source + ':' + f.permissions;
  if (f.quotaBytes != null || f.quotaFiles != null) line += ':' + (f.quotaBytes ?? '');
  if (f.quotaFiles != null) line += ':' + f.quotaFiles;
  return line;
}

// Read from the right, as a bucket source (s3://...) holds a colon: the last part that is not a
// number is the rights, up to two numbers after it the quotas. A line that does not fit is sent
// as it is for the server to refuse with its message.
function parseFolders(text) {
  return text.split('\n').map(l => l.trim()).filter(l => l).map(line => {
    const eq = line.indexOf('=');
    const parts = line.slice(eq + 1).split(':');
    let rights = parts.length - 1;
    while (rights > 0 && (parts[rights] === '' || /^\d+$/.test(parts[rights]))) rights--;
    const quota = i => (i < parts.length && parts[i] !== '' ? Number(parts[i]) : null);
    if (eq <= 0 || rights < 1) return { path: line, source: '', permissions: '' };
    return { path: line.slice(0, eq), source: parts.slice(0, rights).join(':'), permissions: parts[rights], quotaBytes: quota(rights + 1), quotaFiles: quota(rights + 2) };
  });
}

function userBody(u, password) {
  return { name: u.name, password: password || null, home: u.home, permissions: u.permissions.join(','), quotaBytes: u.quotaBytes ?? null, quotaFiles: u.quotaFiles ?? null, disabled: !!u.disabled,
    maxSessions: u.maxSessions ?? null, maxSessionsPerAddress: u.maxSessionsPerAddress ?? null, allowFrom: u.allowFrom || [], denyFrom: u.denyFrom || [], expires: u.expires ?? null,
    uploadRate: u.uploadRate ?? null, downloadRate: u.downloadRate ?? null, folders: u.folders || [] };
}

function editUser(u) {
  state.editing = u.name;
  $('#user-form-title').textContent = 'Edit user';
  $('#user-name').value = u.name;
  $('#user-name').readOnly = true;
  $('#user-password').value = '';
  $('#user-home').value = u.home;
  const all = u.permissions.includes('all');
  for (const box of document.querySelectorAll('#user-form input[name=right]')) box.checked = all || u.permissions.includes(box.value);
  $('#user-quota-bytes').value = u.quotaBytes ?? '';
  $('#user-quota-files').value = u.quotaFiles ?? '';
  $('#user-max-sessions').value = u.maxSessions ?? '';
  $('#user-max-sessions-per-address').value = u.maxSessionsPerAddress ?? '';
  $('#user-allow-from').value = (u.allowFrom || []).join(', ');
  $('#user-deny-from').value = (u.denyFrom || []).join(', ');
  $('#user-expires').value = u.expires ?? '';
  $('#user-upload-rate').value = u.uploadRate ?? '';
  $('#user-download-rate').value = u.downloadRate ?? '';
  $('#user-folders').value = (u.folders || []).map(folderLine).join('\n');
  $('#user-disabled').checked = !!u.disabled;
  $('#user-save').textContent = 'Save changes';
  $('#user-name').focus();
}

function clearUserForm() {
  state.editing = null;
  $('#user-form').reset();
  $('#user-name').readOnly = false;
  $('#user-form-title').textContent = 'New user';
  $('#user-save').textContent = 'Create user';
}

async function toggleUser(u) {
  try { await api('PUT', '/api/users/' + encodeURIComponent(u.name), { ...userBody(u), disabled: !u.disabled }); notice((u.disabled ? 'Enabled ' : 'Disabled ') + u.name + '.'); }
  catch (e) { notice(e.message, true); }
  await loadUsers();
}

async function deleteUser(u) {
  if (!confirm('Delete user ' + u.name + '?')) return;
  try { await api('DELETE', '/api/users/' + encodeURIComponent(u.name)); notice('Deleted ' + u.name + '.'); }
  catch (e) { notice(e.message, true); }
  await loadUsers();
}

function number(input) {
  const text = input.value.trim();
  return text === '' ? null : Number(text);
}

async function saveUser(event) {
  event.preventDefault();
  const rights = [...document.querySelectorAll('#user-form input[name=right]:checked')].map(b => b.value);
  const body = {
    name: $('#user-name').value.trim(), password: $('#user-password').value || null, home: $('#user-home').value.trim() || '/',
    permissions: rights.join(','), quotaBytes: number($('#user-quota-bytes')), quotaFiles: number($('#user-quota-files')),
    disabled: $('#user-disabled').checked,
    maxSessions: number($('#user-max-sessions')), maxSessionsPerAddress: number($('#user-max-sessions-per-address')),
    allowFrom: networks($('#user-allow-from').value), denyFrom: networks($('#user-deny-from').value), expires: $('#user-expires').value.trim() || null,
    uploadRate: $('#user-upload-rate').value.trim() || null, downloadRate: $('#user-download-rate').value.trim() || null,
    folders: parseFolders($('#user-folders').value),
  };
  try {
    if (state.editing) { await api('PUT', '/api/users/' + encodeURIComponent(state.editing), body); notice('Saved ' + body.name + '.'); }
    else { await api('POST', '/api/users', body); notice('Created ' + body.name + '.'); }
    clearUserForm();
  } catch (e) { notice(e.message, true); }
  await loadUsers();
}

// --- bans -------------------------------------------------------------------------------------
async function loadBans() {
  state.bans = await api('GET', '/api/bans');
  renderBans();
}

function renderBans() {
  const q = $('#ban-search').value.toLowerCase();
  const rows = state.bans.filter(b => !q || b.address.toLowerCase().includes(q)).map(b =>
    el('tr', { 'data-ban': b.address },
      el('td', {}, b.address), el('td', {}, new Date(b.until).toLocaleString()), el('td', {}, Math.round(b.secondsLeft) + ' s'), el('td', {}, b.bans),
      el('td', {}, el('button', { type: 'button', 'aria-label': 'Unban ' + b.address, onclick: () => unban(b.address) }, 'Unban'))));
  replaceRows($('#bans'), rows, 'No address is banned.', 5);
}

async function unban(address) {
  try { await api('DELETE', '/api/bans/' + encodeURIComponent(address)); notice('Unbanned ' + address + '.'); }
  catch (e) { notice(e.message, true); }
  await loadBans();
}

async function ban(event) {
  event.preventDefault();
  const address = $('#ban-address').value.trim();
  try {
    await api('POST', '/api/bans', { address, seconds: number($('#ban-seconds')) });
    notice('Banned ' + address + '.');
    $('#ban-address').value = '';
  } catch (e) { notice(e.message, true); }
  await loadBans();
}

// --- transfers and status ---------------------------------------------------------------------
let transferSearchTimer = 0;
async function loadTransfers() {
  const q = $('#transfer-search').value;
  const records = await api('GET', '/api/transfers?limit=500' + (q ? '&search=' + encodeURIComponent(q) : ''));
  const rows = records.map(r => el('tr', {},
    el('td', {}, new Date(r.time).toLocaleString()), el('td', { class: 'user' }, r.user), el('td', {}, r.address), el('td', {}, r.direction),
    el('td', { class: 'path' }, r.path), el('td', {}, bytes(r.bytes)), el('td', {}, r.seconds.toFixed(2)), el('td', {}, r.completed ? 'completed' : 'incomplete')));
  replaceRows($('#transfers'), rows, 'No transfers.', 8);
}

async function loadStatus() {
  const s = await api('GET', '/api/status');
  const facts = [['Version', s.version], ['Up since', new Date(s.startedAt).toLocaleString()], ['Uptime', ago(s.startedAt)], ['State', s.draining ? 'draining' : 'running'],
    ['Sessions', s.sessions], ['Bans', s.bans], ['Accounts', s.accounts]];
  $('#status-facts').replaceChildren(...facts.flatMap(([k, v]) => [el('dt', {}, k), el('dd', {}, v)]));
  replaceRows($('#settings'), s.settings.map(kv => el('tr', {}, el('th', { scope: 'row' }, kv.key), el('td', {}, kv.value))), 'No settings.', 2);
}

// --- start ------------------------------------------------------------------------------------
async function start() {
  const session = await api('GET', '/api/session');
  csrf = session.csrf || '';
  $('#logout-csrf').value = csrf;
  $('#whoami').textContent = session.admin;
  $('#user-form').addEventListener('submit', saveUser);
  $('#user-cancel').addEventListener('click', clearUserForm);
  $('#user-search').addEventListener('input', renderUsers);
  $('#ban-form').addEventListener('submit', ban);
  $('#ban-search').addEventListener('input', renderBans);
  $('#transfer-search').addEventListener('input', () => { clearTimeout(transferSearchTimer); transferSearchTimer = setTimeout(() => loadTransfers().catch(e => notice(e.message, true)), 250); });
  window.addEventListener('hashchange', show);
  startEvents();
  show();
}

document.addEventListener('DOMContentLoaded', () => { start().catch(e => notice(e.message, true)); });
