// Salle's web console: one page, no framework. Every text comes from the catalogue of the
// room's language (embedded in the page as JSON); every change carries the session's CSRF
// token; data is put in the page as text, never as HTML.
'use strict';

const catalogue = JSON.parse(document.getElementById('catalogue').textContent);
const lang = document.documentElement.lang || 'fr';
function t(key, values) {
  let text = catalogue[key] || key;
  for (const [k, v] of Object.entries(values || {})) text = text.replace('{' + k + '}', v);
  return text;
}

let session = null; // {user, role, csrf}
let events = null;
const main = document.getElementById('main');
const live = document.getElementById('live');

function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (v === true) el.setAttribute(k, '');
    else if (v !== false && v != null) el.setAttribute(k, v);
  }
  for (const c of children.flat()) {
    if (c != null) el.append(c instanceof Node ? c : String(c));
  }
  return el;
}

async function api(method, path, body) {
  const headers = {};
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET' && session && session.csrf) headers['x-csrf-token'] = session.csrf;
  let response;
  try {
    response = await fetch(path, {method, headers, credentials: 'same-origin',
      body: body === undefined ? undefined : JSON.stringify(body)});
  } catch (e) {
    return {ok: false, error: t("err.network"), code: 'network'};
  }
  const type = response.headers.get('content-type') || '';
  const answer = type.includes('json') ? await response.json() : {ok: response.ok, text: await response.text()};
  answer.httpStatus = response.status;
  return answer;
}

function say(text) {
  live.textContent = '';
  setTimeout(() => { live.textContent = text; }, 50);
}

// A message in a form: role=alert for errors, announced politely otherwise.
function message(form, text, isError) {
  let box = form.querySelector('.message');
  if (!box) {
    box = h('p', {class: 'message'});
    form.append(box);
  }
  box.className = 'message ' + (isError ? 'error' : 'ok');
  box.setAttribute('role', isError ? 'alert' : 'status');
  box.textContent = text;
}

function field(id, label, attrs) {
  return h('p', {class: 'field'},
    h('label', {for: id}, label),
    h('input', Object.assign({id, name: id}, attrs || {})));
}

function show(title, ...content) {
  stopEvents();
  document.title = title + ' – ' + t("title");
  main.replaceChildren(h('h1', {}, title), ...content);
  main.focus();
}

async function start() {
  for (const el of document.querySelectorAll('[data-t]')) el.textContent = t(el.dataset.t);
  document.getElementById('logout').addEventListener('click', logout);
  window.addEventListener('hashchange', route);
  const me = await api('GET', '/api/v1/session');
  if (me.ok) {
    session = me;
    return route();
  }
  const setup = await api('GET', '/api/v1/setup');
  if (setup.ok !== false && setup.claimed === false) return claimView();
  loginView();
}

function signedIn(answer) {
  session = answer;
  document.getElementById('nav').hidden = false;
  document.getElementById('who').textContent = answer.user + ' (' + t('role.' + answer.role) + ')';
  if (!location.hash || location.hash === '#/') location.hash = '#/tableau';
  else route();
}

function claimView() {
  const form = h('form', {onsubmit: async (e) => {
    e.preventDefault();
    const answer = await api('POST', '/api/v1/setup', {
      code: form.code.value, user: form.user.value, password: form.password.value});
    if (answer.ok) signedIn(answer); else message(form, answer.error, true);
  }},
    h('p', {}, t("claim.intro")),
    field('code', t("claim.code"), {required: true, autocomplete: 'off', spellcheck: 'false'}),
    field('user', t("field.user"), {required: true, autocomplete: 'username'}),
    field('password', t("field.password"), {required: true, type: 'password', minlength: 12, autocomplete: 'new-password'}),
    h('button', {type: 'submit'}, t("claim.submit")));
  show(t("claim.title"), form);
}

function loginView() {
  document.getElementById('nav').hidden = true;
  const form = h('form', {onsubmit: async (e) => {
    e.preventDefault();
    const answer = await api('POST', '/api/v1/session', {user: form.user.value, password: form.password.value});
    if (answer.ok) signedIn(answer); else message(form, answer.error, true);
  }},
    field('user', t("field.user"), {required: true, autocomplete: 'username'}),
    field('password', t("field.password"), {required: true, type: 'password', autocomplete: 'current-password'}),
    h('button', {type: 'submit'}, t("login.submit")));
  show(t("login.title"), form);
}

async function logout() {
  await api('DELETE', '/api/v1/session');
  session = null;
  location.hash = '';
  loginView();
}

const views = {
  '#/tableau': dashboard,
  '#/commandes': controls,
  '#/reglages': settings,
  '#/acces': access,
  '#/journal': audit,
  '#/diagnostic': diagnostics,
};

function route() {
  if (!session) return loginView();
  document.getElementById('nav').hidden = false;
  document.getElementById('who').textContent = session.user + ' (' + t('role.' + session.role) + ')';
  for (const a of document.querySelectorAll('nav a')) {
    if (a.getAttribute('href') === location.hash) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  (views[location.hash] || dashboard)();
}

function stopEvents() {
  if (events) events.close();
  events = null;
}

function duration(ms) {
  const s = Math.floor(ms / 1000);
  const d = Math.floor(s / 86400), hh = Math.floor(s % 86400 / 3600), mm = Math.floor(s % 3600 / 60);
  return (d ? d + ' ' + t("unit.days") + ' ' : '') + hh + ' h ' + String(mm).padStart(2, '0') + ' min';
}

function number(n) {
  return new Intl.NumberFormat(lang).format(n);
}

// A small bar graph of the last values (the video bitrate), drawn with divs: no canvas, so
// its figures stay readable as text too.
const history = [];
function sparkline(values, label) {
  const max = Math.max(1, ...values);
  return h('div', {class: 'spark', role: 'img', 'aria-label': label},
    values.map((v) => h('span', {style: null, 'data-h': Math.round(100 * v / max)})));
}

function dashboard() {
  const body = h('div', {id: 'dashboard'}, h('p', {}, t("loading")));
  show(t("dash.title"), body);
  const render = (s) => {
    const call = s.call || {};
    const row = (k, v, id) => h('tr', {}, h('th', {scope: 'row'}, k), h('td', {id}, v));
    const devices = s.devices || {};
    const kinds = ['camera', 'microphone', 'speaker'];
    const video = s.media && s.media.video;
    if (video) {
      history.push(video.kbps);
      if (history.length > 60) history.shift();
    }
    const figures = video || (s.media && s.media.audio)
      ? h('table', {},
          h('caption', {}, t("dash.call")),
          video ? row(t("fig.video"), video.width + '×' + video.height + ', ' + video.fps + ' ' + t("unit.fps") + ', ' + number(video.kbps) + ' kbit/s, ' + number(video.frames) + ' ' + t("unit.frames")) : null,
          s.media.audio ? row(t("fig.audio"), number(s.media.audio.packets) + ' ' + t("unit.packets") + ', ' + s.media.audio.level_dbfs.toFixed(0) + ' dBFS') : null)
      : h('p', {}, t("fig.none"));
    document.getElementById('room-name').textContent = '– ' + s.room;
    body.replaceChildren(...[
      h('table', {},
        h('caption', {}, s.room),
        row(t("dash.state"), t('state.' + call.state), 'state'),
        call.url ? row(t("dash.meeting"), call.url) : null,
        row(t("dash.mic"), s.mic_muted ? t("mic.muted") : t("mic.on"), 'mic'),
        row(t("dash.camera"), s.camera_off ? t("camera.off") : t("camera.on"), 'camera'),
        row(t("dash.uptime"), duration(s.uptime_ms || 0)),
        row(t("dash.version"), s.version)),
      h('h2', {}, t("dash.devices")),
      h('ul', {}, kinds.map((k) => {
        const d = devices[k] || {};
        return h('li', {}, t('kind.' + k) + ' : ' + (d.present ? t("device.present") : t("device.absent")) +
          (d.simulated ? ' (' + t("device.simulated") + ')' : '') + (d.name ? ' – ' + d.name : ''));
      })),
      h('h2', {}, t("dash.problems")),
      (s.problems || []).length ? h('ul', {class: 'problems'}, s.problems.map((p) => h('li', {}, p))) : h('p', {}, t("dash.none")),
      figures,
      history.length > 1 ? sparkline(history, t("fig.video")) : null].filter(Boolean));
    for (const bar of body.querySelectorAll('.spark span')) bar.style.height = bar.dataset.h + '%';
  };
  // Live: the status feed (server-sent events) pushes each change.
  events = new EventSource('/api/v1/events');
  events.addEventListener('status', (e) => render(JSON.parse(e.data)));
}

function controls() {
  const out = h('p', {role: 'status', class: 'message'});
  const run = (path, body) => async () => {
    const answer = await api('POST', path, body);
    out.className = 'message ' + (answer.ok ? 'ok' : 'error');
    out.textContent = answer.ok ? t("ctl.done") + ' ' + t('state.' + answer.status.call.state) : answer.error;
    if (!answer.ok && answer.code === 'forbidden') out.textContent = t("forbidden");
  };
  const url = h('input', {id: 'url', type: 'url', autocomplete: 'off'});
  const state = h('p', {id: 'control-state'});
  show(t("ctl.title"),
    state,
    h('p', {class: 'field'}, h('label', {for: 'url'}, t("ctl.url")), url),
    h('div', {class: 'buttons'},
      h('button', {type: 'button', id: 'join', onclick: () => run('/api/v1/commands/join', url.value ? {url: url.value} : {})()}, t("ctl.join")),
      h('button', {type: 'button', id: 'leave', onclick: run('/api/v1/commands/leave')}, t("ctl.leave")),
      h('button', {type: 'button', id: 'mute', onclick: run('/api/v1/commands/mute', {muted: true})}, t("ctl.mute")),
      h('button', {type: 'button', id: 'camera-off', onclick: run('/api/v1/commands/camera', {off: true})}, t("ctl.camera"))),
    out,
    h('p', {class: 'note'}, t("ctl.rule")));
  events = new EventSource('/api/v1/events?paths=call.state,mic_muted,camera_off');
  events.addEventListener('status', (e) => {
    const s = JSON.parse(e.data);
    state.textContent = t("dash.state") + ' : ' + t('state.' + s['call.state']) + ' · ' +
      t("dash.mic") + ' : ' + (s.mic_muted ? t("mic.muted") : t("mic.on")) + ' · ' +
      t("dash.camera") + ' : ' + (s.camera_off ? t("camera.off") : t("camera.on"));
  });
}

async function settings() {
  const answer = await api('GET', '/api/v1/config');
  if (!answer.ok) return show(t("set.title"), h('p', {role: 'alert'}, answer.code === 'forbidden' ? t("forbidden") : answer.error));
  const text = h('textarea', {id: 'toml', rows: 24, spellcheck: 'false', 'aria-describedby': 'toml-note'});
  text.value = answer.config.text;
  const form = h('form', {onsubmit: async (e) => {
    e.preventDefault();
    const apply = e.submitter && e.submitter.id === 'apply';
    const result = apply
      ? await api('PUT', '/api/v1/config', {text: text.value})
      : await api('POST', '/api/v1/config/check', {text: text.value});
    text.removeAttribute('aria-invalid');
    if (result.ok) return message(form, apply ? t("set.applied") : t("set.valid"), false);
    if (result.location && result.location.line) {
      const err = result.location;
      message(form, t("set.error", {line: err.line, column: err.column}) + ' : ' + result.error, true);
      // Put the cursor where the error is.
      const lines = text.value.split('\n');
      let offset = 0;
      for (let i = 0; i < err.line - 1 && i < lines.length; i++) offset += lines[i].length + 1;
      text.focus();
      text.setSelectionRange(offset + err.column - 1, offset + (lines[err.line - 1] || '').length);
      text.setAttribute('aria-invalid', 'true');
    } else {
      message(form, result.error, true);
    }
  }},
    h('p', {}, t("set.file") + ' : ' + (answer.config.file || '—')),
    h('p', {class: 'field'}, h('label', {for: 'toml'}, t("set.raw")), text),
    h('p', {id: 'toml-note', class: 'note'}, t("set.secrets")),
    h('div', {class: 'buttons'},
      h('button', {type: 'submit', id: 'validate'}, t("set.validate")),
      h('button', {type: 'submit', id: 'apply'}, t("set.apply"))));
  show(t("set.title"), form);
}

function roleSelect(id) {
  return h('p', {class: 'field'}, h('label', {for: id}, t("field.role")),
    h('select', {id, name: id}, ['viewer', 'operator', 'admin'].map((r) => h('option', {value: r}, t('role.' + r)))));
}

async function access() {
  const users = await api('GET', '/api/v1/users');
  if (!users.ok) return show(t("nav.access"), h('p', {role: 'alert'}, users.code === 'forbidden' ? t("forbidden") : users.error));
  const tokens = await api('GET', '/api/v1/tokens');
  const userForm = h('form', {onsubmit: async (e) => {
    e.preventDefault();
    const answer = await api('POST', '/api/v1/users', {name: userForm['new-user'].value,
      password: userForm['new-password'].value, role: userForm['user-role'].value});
    if (answer.ok) access(); else message(userForm, answer.error, true);
  }},
    field('new-user', t("field.user"), {required: true, autocomplete: 'off'}),
    field('new-password', t("field.password"), {required: true, type: 'password', minlength: 12, autocomplete: 'new-password'}),
    roleSelect('user-role'),
    h('button', {type: 'submit'}, t("acc.add_user")));
  const tokenForm = h('form', {onsubmit: async (e) => {
    e.preventDefault();
    const answer = await api('POST', '/api/v1/tokens', {name: tokenForm['token-name'].value, role: tokenForm['token-role'].value});
    if (!answer.ok) return message(tokenForm, answer.error, true);
    await access();
    const shown = h('div', {class: 'once', role: 'alert'}, h('p', {}, t("acc.token_once")), h('code', {id: 'new-token'}, answer.token));
    main.append(shown);
  }},
    field('token-name', t("field.name"), {required: true, autocomplete: 'off'}),
    roleSelect('token-role'),
    h('button', {type: 'submit'}, t("acc.add_token")));
  const remove = (path, label) => h('button', {type: 'button', 'aria-label': t("acc.remove") + ' ' + label,
    onclick: async () => { const a = await api('DELETE', path); if (a.ok) access(); else say(a.error); }}, t("acc.remove"));
  show(t("nav.access"),
    h('h2', {}, t("acc.users")),
    h('table', {}, h('tr', {}, h('th', {scope: 'col'}, t("field.user")), h('th', {scope: 'col'}, t("field.role")), h('td', {})),
      users.users.map((u) => h('tr', {}, h('td', {}, u.name), h('td', {}, t('role.' + u.role)),
        h('td', {}, remove('/api/v1/users/' + encodeURIComponent(u.name), u.name))))),
    userForm,
    h('h2', {}, t("acc.tokens")),
    h('table', {}, h('tr', {}, h('th', {scope: 'col'}, t("field.name")), h('th', {scope: 'col'}, t("field.role")), h('th', {scope: 'col'}, t("acc.created")), h('td', {})),
      (tokens.tokens || []).map((k) => h('tr', {}, h('td', {}, k.name), h('td', {}, t('role.' + k.role)), h('td', {}, when(k.created)),
        h('td', {}, remove('/api/v1/tokens/' + encodeURIComponent(k.id), k.name))))),
    tokenForm);
}

function when(time) {
  return new Intl.DateTimeFormat(lang, {dateStyle: 'short', timeStyle: 'medium'}).format(new Date(time));
}

async function audit() {
  const answer = await api('GET', '/api/v1/audit?limit=200');
  if (!answer.ok) return show(t("audit.title"), h('p', {role: 'alert'}, answer.code === 'forbidden' ? t("forbidden") : answer.error));
  show(t("audit.title"),
    h('table', {id: 'audit'},
      h('tr', {}, ['audit.time', 'audit.who', 'audit.from', 'audit.what', 'audit.outcome'].map((k) => h('th', {scope: 'col'}, t(k)))),
      answer.entries.map((e) => h('tr', {}, h('td', {}, when(e.time)), h('td', {}, e.who), h('td', {}, e.from), h('td', {}, e.what), h('td', {}, e.outcome)))));
}

async function diagnostics() {
  const status = await api('GET', '/api/v1/status');
  const metrics = await fetch('/metrics', {credentials: 'same-origin'}).then((r) => r.text()).catch(() => '');
  show(t("diag.title"),
    h('button', {type: 'button', onclick: diagnostics}, t("diag.refresh")),
    h('h2', {}, t("diag.status")),
    h('pre', {tabindex: 0}, JSON.stringify(status, null, 2)),
    h('h2', {}, t("diag.metrics")),
    h('pre', {tabindex: 0}, metrics));
}

start();
