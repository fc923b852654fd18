// The history: audit events newest first, with filters, links to each
// request's story, CSV/JSON export of the same selection, and the hash
// chain's verification status.

import { get, query } from './api.js';
import { h, clear, fmtTime, setTitle, field, badge } from './util.js';
import { describe, reviewLink } from './describe.js';

const PAGE = 50;
const FILTERS = ['identity', 'token', 'target', 'environment', 'decision', 'type', 'since', 'until'];

export default async function history(root, me) {
  setTitle('History');
  root.append(h('div', { class: 'pagehead' }, h('h1', null, 'History')));
  if (!(me.admin || (me.groups || []).length)) {
    root.append(h('p', { class: 'note' }, 'The audit history is for admins and members of an approver group. Your own requests\' stories are linked from their reviews.'));
    return;
  }
  const verify = h('div', { class: 'verify', role: 'status' }, 'Verifying the audit chain…');
  const params = new URLSearchParams(location.search);
  let targets = [];
  try { targets = (await get('/api/v1/policies')).targets; } catch { /* the filters still work as text */ }

  const input = (name, attrs = {}) => h('input', { id: 'f-' + name, name, value: params.get(name) || '', ...attrs });
  const select = (name, options) => {
    const el = h('select', { id: 'f-' + name, name }, options.map(([v, t]) => h('option', { value: v }, t)));
    el.value = params.get(name) || '';
    return el;
  };
  const local = (iso) => {
    if (!iso) return '';
    const d = new Date(iso);
    if (isNaN(d)) return '';
    const p = (n) => String(n).padStart(2, '0');
    return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
  };
  const envs = [...new Set(targets.map((t) => t.environment))];
  const form = h('form', { class: 'filters', role: 'search', 'aria-label': 'Filter the history' },
    field('Identity', input('identity', { autocomplete: 'off' })),
    field('Token id', input('token', { autocomplete: 'off' })),
    field('Target', select('target', [['', 'any'], ...targets.map((t) => [t.name, t.name])])),
    field('Environment', select('environment', [['', 'any'], ...envs.map((e) => [e, e])])),
    field('Decision', select('decision', [['', 'any'], ['allow', 'allow'], ['review', 'review'], ['deny', 'deny']])),
    field('Event', select('type', [['', 'any'], ...['request', 'execution', 'review', 'vote', 'grant', 'token', 'auth', 'admin'].map((t) => [t, t])])),
    field('From', h('input', { id: 'f-since', name: 'since', type: 'datetime-local', value: local(params.get('since')) })),
    field('To', h('input', { id: 'f-until', name: 'until', type: 'datetime-local', value: local(params.get('until')) })),
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'btn' }, 'Apply'),
      h('a', { href: '/history', class: 'btn ghost' }, 'Clear')));
  const exports = h('div', { class: 'exports' });
  const tbody = h('tbody');
  const more = h('button', { type: 'button', class: 'btn ghost', hidden: true }, 'Older events');
  root.append(verify, h('section', { class: 'card' }, form),
    h('section', { class: 'card', 'aria-label': 'Events' }, exports,
      h('div', { class: 'tablewrap' }, h('table', { class: 'events' },
        h('thead', null, h('tr', null, ['Time', 'Event', 'What happened', 'Target', 'Request'].map((t) => h('th', { scope: 'col' }, t)))),
        tbody)), more));

  function filters() {
    const f = {};
    for (const name of FILTERS) {
      const el = form.elements[name];
      let v = el ? el.value.trim() : '';
      if (v && (name === 'since' || name === 'until')) v = new Date(v).toISOString();
      f[name] = v;
    }
    return f;
  }

  let last = 0;
  async function page(reset) {
    const f = filters();
    if (reset) {
      last = 0;
      clear(tbody);
      history_replace(f);
      clear(exports, 'Export this selection: ',
        h('a', { href: '/api/v1/audit/export' + query({ ...f, format: 'csv' }), download: '' }, 'CSV'), ' · ',
        h('a', { href: '/api/v1/audit/export' + query({ ...f, format: 'json' }), download: '' }, 'JSON lines'));
    }
    const es = await get('/api/v1/audit' + query({ ...f, order: 'desc', limit: PAGE, before_seq: last || '' }));
    for (const e of es) tbody.append(rowOf(e));
    if (reset && !es.length) tbody.append(h('tr', null, h('td', { colspan: '5', class: 'muted' }, 'No events match.')));
    if (es.length) last = es[es.length - 1].seq;
    more.hidden = es.length < PAGE;
  }

  function rowOf(e) {
    return h('tr', { dataset: { seq: e.seq } },
      h('td', { class: 'nowrap' }, fmtTime(e.time), h('div', { class: 'muted small' }, `#${e.seq}`)),
      h('td', null, badge(e.type, 'type'), ' ', h('span', { class: 'small' }, e.action)),
      h('td', { class: 'what' }, describe(e)),
      h('td', null, e.target || '—', e.environment ? [' ', badge(e.environment, 'env')] : null),
      h('td', null, e.request_id ? h('a', { href: `/requests/${encodeURIComponent(e.request_id)}`, title: e.request_id }, 'story') : null,
        e.review_id ? [' ', reviewLink(e.review_id)] : null));
  }

  function history_replace(f) {
    const q = query(f);
    window.history.replaceState(null, '', '/history' + q);
  }

  form.addEventListener('submit', (e) => { e.preventDefault(); page(true).catch(fail); });
  more.addEventListener('click', () => page(false).catch(fail));
  const fail = (err) => tbody.append(h('tr', null, h('td', { colspan: '5', class: 'error' }, err.message)));
  await page(true);

  get('/api/v1/audit/verify').then((rep) => {
    clear(verify, rep.ok
      ? [badge('chain verified', 'ok'), ` ${rep.events} events, last #${rep.last_seq}, hash `, h('code', null, (rep.last_hash || '').slice(0, 16) + '…')]
      : [badge('chain broken', 'bad'), ` at event #${rep.broken_seq}: ${rep.problem}`]);
    verify.classList.add(rep.ok ? 'ok' : 'bad');
  }).catch((err) => clear(verify, 'Could not verify the chain: ', err.message));
}
