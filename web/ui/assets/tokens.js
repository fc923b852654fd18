// Tokens and identities. Admins issue, revoke and rotate any token and
// see every identity; others see and manage their own tokens.

import { get, post, query } from './api.js';
import { h, clear, fmtTime, setTitle, field, badge, toast, copyButton } from './util.js';

const GRACE = [['', 'no grace'], ['15m', '15 min grace'], ['1h', '1 h grace'], ['24h', '24 h grace'], ['168h', '7 d grace']];

export default async function tokens(root, me) {
  setTitle('Tokens');
  const secretBox = h('div', { id: 'secret', 'aria-live': 'polite' });
  const tbody = h('tbody');
  const showRevoked = h('input', { type: 'checkbox', id: 'show-revoked' });
  root.append(h('div', { class: 'pagehead' }, h('h1', null, me.admin ? 'Tokens and identities' : 'Your tokens')), secretBox);

  if (me.admin) root.append(createForm());
  root.append(h('section', { class: 'card', 'aria-labelledby': 'h-tokens' },
    h('div', { class: 'sectionhead' }, h('h2', { id: 'h-tokens' }, 'Tokens'),
      h('label', { class: 'check' }, showRevoked, ' show revoked')),
    h('div', { class: 'tablewrap' }, h('table', { class: 'tokens' },
      h('thead', null, h('tr', null, ['Token', 'Identity', 'Roles and scope', 'Status', 'Created', 'Last used', 'Actions'].map((t) => h('th', { scope: 'col' }, t)))),
      tbody))));
  const idBody = h('tbody');
  if (me.admin) {
    root.append(h('section', { class: 'card', 'aria-labelledby': 'h-ids' }, h('h2', { id: 'h-ids' }, 'Identities'),
      h('div', { class: 'tablewrap' }, h('table', { class: 'identities' },
        h('thead', null, h('tr', null, ['Identity', 'Groups', 'Active tokens', 'Last used'].map((t) => h('th', { scope: 'col' }, t)))),
        idBody))));
  }
  showRevoked.addEventListener('change', () => load());

  function showSecret(title, t) {
    const code = h('code', { class: 'secret', id: 'secret-value' }, t.token);
    clear(secretBox, h('section', { class: 'card secretcard', role: 'alert' },
      h('h2', null, title),
      h('p', null, h('strong', null, 'Copy it now: it is shown only once. '), 'qgate keeps only a hash and cannot show it again.'),
      h('div', { class: 'secretrow' }, code, copyButton('Copy token', () => t.token)),
      h('p', { class: 'muted small' }, `Token id ${t.id} for ${t.identity}. For PostgreSQL targets the user name is the id and the password the whole token.`),
      h('button', { type: 'button', class: 'btn ghost small', onclick: () => clear(secretBox) }, 'I have stored it')));
    secretBox.scrollIntoView({ block: 'nearest' });
  }

  function createForm() {
    const identity = h('input', { id: 'new-identity', required: true, autocomplete: 'off' });
    const name = h('input', { id: 'new-name', autocomplete: 'off', placeholder: 'e.g. laptop, ci' });
    const roles = h('input', { id: 'new-roles', autocomplete: 'off', placeholder: 'comma-separated' });
    const targets = h('input', { id: 'new-targets', autocomplete: 'off', placeholder: 'all' });
    const envs = h('input', { id: 'new-envs', autocomplete: 'off', placeholder: 'all' });
    const ttl = h('select', { id: 'new-ttl' }, [['24h', '1 day'], ['168h', '7 days'], ['720h', '30 days'], ['2160h', '90 days'], ['', 'never expires']].map(([v, t]) => h('option', { value: v }, t)));
    const list = (el) => el.value.split(',').map((s) => s.trim()).filter(Boolean);
    const form = h('form', { class: 'grid-form' },
      field('Identity', identity), field('Name', name), field('Roles', roles),
      field('Targets', targets, 'Empty: every target'), field('Environments', envs, 'Empty: every environment'), field('Expires after', ttl),
      h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'btn' }, 'Create token')));
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      try {
        const t = await post('/api/v1/tokens', { identity: identity.value.trim(), name: name.value.trim(), roles: list(roles),
          targets: list(targets), environments: list(envs), ttl: ttl.value });
        showSecret(`New token for ${t.identity}`, t);
        form.reset();
        load();
      } catch (err) { toast(err.message, 'error'); }
    });
    return h('section', { class: 'card', 'aria-labelledby': 'h-create' }, h('h2', { id: 'h-create' }, 'Create a token'), form);
  }

  function actions(t) {
    if (t.status !== 'active') return null;
    const grace = h('select', { 'aria-label': `Grace period for the old secret of ${t.id}` }, GRACE.map(([v, s]) => h('option', { value: v }, s)));
    const rotate = h('button', { type: 'button', class: 'btn small' }, 'Rotate');
    const revoke = h('button', { type: 'button', class: 'btn small danger' }, 'Revoke');
    rotate.addEventListener('click', async () => {
      try {
        const body = grace.value ? { grace: grace.value } : {};
        const nt = await post(`/api/v1/tokens/${encodeURIComponent(t.id)}/rotate`, body);
        showSecret(`New secret for token ${t.id}`, nt);
        load();
      } catch (err) { toast(err.message, 'error'); }
    });
    revoke.addEventListener('click', async () => {
      if (!confirm(`Revoke token ${t.id} (${t.name || t.identity})? Clients using it are refused at once.`)) return;
      try {
        await post(`/api/v1/tokens/${encodeURIComponent(t.id)}/revoke`);
        toast(`Token ${t.id} revoked.`);
        load();
      } catch (err) { toast(err.message, 'error'); }
    });
    return h('div', { class: 'rowact' }, grace, rotate, revoke);
  }

  async function load() {
    const ts = await get('/api/v1/tokens' + query({ include_revoked: showRevoked.checked ? 'true' : '' }));
    clear(tbody, ts.length ? ts.map((t) => h('tr', { dataset: { id: t.id } },
      h('td', null, h('code', null, t.id), t.name ? h('div', { class: 'muted small' }, t.name) : null),
      h('td', null, t.identity),
      h('td', null, t.roles.length ? t.roles.join(', ') : h('span', { class: 'muted' }, 'no roles'),
        h('div', { class: 'muted small' }, t.targets.length ? 'targets: ' + t.targets.join(', ') : 'all targets',
          t.environments.length ? ' · envs: ' + t.environments.join(', ') : '')),
      h('td', null, badge(t.status, `st st-${t.status}`), t.expires_at ? h('div', { class: 'muted small' }, 'expires ' + fmtTime(t.expires_at)) : null),
      h('td', { class: 'nowrap' }, fmtTime(t.created_at)),
      h('td', { class: 'nowrap' }, t.last_used_at ? fmtTime(t.last_used_at) : h('span', { class: 'muted' }, 'never')),
      h('td', null, actions(t)))) : h('tr', null, h('td', { colspan: '7', class: 'muted' }, 'No tokens.')));
    if (me.admin) {
      const ids = await get('/api/v1/identities');
      clear(idBody, ids.map((v) => h('tr', null,
        h('td', null, h('strong', null, v.name), v.admin ? [' ', badge('admin', 'small')] : null, v.kind ? h('div', { class: 'muted small' }, v.kind) : null),
        h('td', null, v.groups.length ? v.groups.map((g) => badge(g, 'group')) : h('span', { class: 'muted' }, 'none')),
        h('td', null, String(v.tokens), v.all_tokens > v.tokens ? h('span', { class: 'muted small' }, ` (${v.all_tokens} ever)`) : null),
        h('td', { class: 'nowrap' }, v.last_used_at ? fmtTime(v.last_used_at) : h('span', { class: 'muted' }, 'never')))));
    }
  }
  await load();
}
