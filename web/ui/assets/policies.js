// The loaded policies and defaults, read-only, and a "try a request" box
// that runs the same evaluation as `qgate check`.

import { get, post } from './api.js';
import { h, clear, setTitle, field, actionBadge, riskBadge, badge } from './util.js';
import { sqlView, httpView } from './payload.js';

export default async function policies(root, me) {
  setTitle('Policies');
  const set = await get('/api/v1/policies');
  root.append(h('div', { class: 'pagehead' }, h('h1', null, 'Policies')));

  root.append(tryBox(set, me));

  const targetRows = set.targets.map((t) => h('tr', null,
    h('td', null, h('strong', null, t.name)),
    h('td', null, t.protocol, t.graphql_path ? h('span', { class: 'muted small' }, ` (GraphQL at ${t.graphql_path})`) : null),
    h('td', null, badge(t.environment, 'env')),
    h('td', null, actionBadge(set.defaults[t.environment] || 'review'))));
  const rd = set.review_defaults;
  root.append(h('section', { class: 'card', 'aria-labelledby': 'h-targets' },
    h('h2', { id: 'h-targets' }, 'Targets and defaults'),
    h('div', { class: 'tablewrap' }, h('table', null,
      h('thead', null, h('tr', null, ['Target', 'Protocol', 'Environment', 'When no policy matches'].map((t) => h('th', { scope: 'col' }, t)))),
      h('tbody', null, targetRows))),
    h('p', { class: 'muted small' }, 'An environment without a default reviews. Reviews from a default need ',
      `${rd.quorum || 1} approval(s)`, rd.approvers.length ? ' from ' + rd.approvers.join(', ') : ' from anyone but the requester',
      rd.timeout ? `, within ${rd.timeout}` : '', '.')));

  root.append(h('section', { class: 'card', 'aria-labelledby': 'h-policies' }, h('h2', { id: 'h-policies' }, `Policies (${set.policies.length})`),
    h('p', { class: 'muted small' }, 'Every policy that applies to the target is evaluated; among those whose condition holds, deny beats review beats allow.'),
    h('ol', { class: 'policies' }, set.policies.map((p) => h('li', { class: 'policy', id: 'policy-' + p.name },
      h('div', { class: 'phead' }, actionBadge(p.action), ' ', h('strong', null, p.name)),
      h('div', { class: 'muted small' }, p.targets.length ? 'targets ' + p.targets.join(', ') : 'every target', ' · ',
        p.environments.length ? 'environments ' + p.environments.join(', ') : 'every environment'),
      h('pre', { class: 'code when' }, p.when),
      p.message ? h('p', null, p.message) : null,
      p.review ? h('p', { class: 'small' }, `Needs ${p.review.quorum || 1} approval(s) from ${p.review.approvers.join(', ') || 'anyone but the requester'}`,
        p.review.timeout ? `, within ${p.review.timeout}` : '', p.review.slack ? ` · Slack: ${p.review.slack}` : '') : null)))));
}

function tryBox(set, me) {
  const target = h('select', { id: 'try-target' }, set.targets.map((t) => h('option', { value: t.name }, `${t.name} (${t.protocol}, ${t.environment})`)));
  const sql = h('textarea', { id: 'try-sql', rows: '4', spellcheck: 'false', placeholder: 'UPDATE invoices SET paid = true WHERE id = 42' });
  const method = h('select', { id: 'try-method' }, ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS'].map((m) => h('option', { value: m }, m)));
  const path = h('input', { id: 'try-path', placeholder: '/v1/items/1?expand=all', spellcheck: 'false' });
  const headers = h('textarea', { id: 'try-headers', rows: '2', spellcheck: 'false', placeholder: 'Content-Type: application/json' });
  const body = h('textarea', { id: 'try-body', rows: '4', spellcheck: 'false' });
  const identity = h('input', { id: 'try-identity', value: me.identity, autocomplete: 'off', readonly: !(me.admin || (me.groups || []).length) });
  const roles = h('input', { id: 'try-roles', autocomplete: 'off', placeholder: 'comma-separated' });
  const sqlPart = h('div', { class: 'trysql' }, field('SQL', sql));
  const httpPart = h('div', { class: 'tryhttp' }, h('div', { class: 'row2' }, field('Method', method), field('Path', path)),
    field('Headers', headers, 'One "Name: value" per line'), field('Body', body));
  const result = h('div', { id: 'try-result', 'aria-live': 'polite' });
  const protocol = () => (set.targets.find((t) => t.name === target.value) || {}).protocol;
  const sync = () => {
    const isHTTP = protocol() === 'http';
    sqlPart.hidden = isHTTP;
    httpPart.hidden = !isHTTP;
  };
  target.addEventListener('change', sync);
  sync();
  const form = h('form', { class: 'tryform' },
    h('div', { class: 'row3' }, field('Target', target), field('Identity', identity), field('Roles', roles)),
    sqlPart, httpPart,
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'btn', id: 'try-run' }, 'Evaluate')));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const req = { target: target.value, identity: identity.value.trim(), roles: roles.value.split(',').map((s) => s.trim()).filter(Boolean) };
    const isHTTP = protocol() === 'http';
    if (isHTTP) Object.assign(req, { method: method.value, path: path.value.trim() || '/', headers: headers.value.split('\n').map((s) => s.trim()).filter(Boolean), body: body.value });
    else req.sql = sql.value;
    try {
      const out = await post('/api/v1/check', req);
      const payload = isHTTP ? `${req.method} ${req.path}\n${req.headers.join('\n')}${req.headers.length ? '\n' : ''}\n${req.body}` : req.sql;
      clear(result, h('div', { class: 'verdict' }, 'Decision: ', actionBadge(out.decision), ' ', riskBadge(out.risk.level),
        out.default ? h('span', { class: 'muted' }, ' (no policy matched: the environment default)') : null),
        out.matched.length ? h('p', null, 'Matched: ', out.matched.map((m, i) => [i ? ', ' : '', h('a', { href: '#policy-' + m.name }, m.name), ' (', m.action, ')'])) : null,
        out.requirements.length ? h('p', { class: 'small' }, 'Needs: ', out.requirements.map((r) => `${r.quorum || 1} of ${(r.approvers || []).join('/') || 'anyone'} (${r.policy})`).join('; ')) : null,
        out.message ? h('p', null, out.message) : null,
        out.sql && out.sql.parse_error ? h('p', { class: 'error' }, 'Parse error: ', out.sql.parse_error) : null,
        isHTTP ? httpView(payload, out.risk.findings, { rawPath: true }) : sqlView(req.sql, out.risk.findings),
        h('details', null, h('summary', null, 'The whole answer (as qgate check prints it)'), h('pre', { class: 'code' }, JSON.stringify(out, null, 2))));
    } catch (err) {
      clear(result, h('p', { class: 'error', role: 'alert' }, err.message));
    }
  });
  return h('section', { class: 'card', 'aria-labelledby': 'h-try' }, h('h2', { id: 'h-try' }, 'Try a request'),
    h('p', { class: 'muted small' }, 'Evaluated exactly like ', h('code', null, 'qgate check'), ': nothing is sent to the target or recorded, and grants do not apply.'),
    form, result);
}
