// Plain-language lines for audit events, shared by the history and the
// request story.

import { h, badge } from './util.js';

export function data(e) {
  if (!e.data) return {};
  return typeof e.data === 'object' ? e.data : {};
}

// what describes the request an event belongs to (SQL text or call).
export function what(e) {
  const d = data(e);
  if (d.sql !== undefined) return h('code', { class: 'sqlline' }, d.sql.length > 200 ? d.sql.slice(0, 200) + '…' : d.sql);
  if (d.method) return h('code', null, `${d.method} ${d.path}${d.query ? '?' + d.query : ''}`);
  return null;
}

// describe is one event in words.
export function describe(e) {
  const d = data(e);
  switch (e.type) {
    case 'request': {
      const parts = [h('strong', null, e.identity || 'someone'), ' asked ', e.target ? [h('span', null, e.target), ' '] : null,
        what(e), ' → ', badge(e.action, `act act-${e.action}`)];
      if (d.decision) parts.push(h('span', { class: 'muted' }, ` (policy said ${d.decision})`));
      if (d.matched && d.matched.length) parts.push(h('span', { class: 'muted' }, ' by ', d.matched.map((m) => m.name).join(', ')));
      if (d.risk && d.risk !== 'none') parts.push(' ', badge('risk ' + d.risk, `risk risk-${d.risk}`));
      if (d.grant_id) parts.push(h('span', { class: 'muted' }, ` under grant #${d.grant_id}`));
      if (d.reason) parts.push(h('span', { class: 'muted' }, `: ${d.reason}`));
      if (d.message) parts.push(h('span', { class: 'muted' }, `: ${d.message}`));
      return parts;
    }
    case 'review':
      if (e.action === 'created') return ['Review ', reviewLink(e.review_id), ' opened for ', h('strong', null, e.identity)];
      return ['Review ', reviewLink(e.review_id), ' ', badge(e.action, `st st-${e.action}`), d.reason ? h('span', { class: 'muted' }, `: ${d.reason}`) : null];
    case 'vote':
      return [h('strong', null, d.by || e.identity), e.action === 'approve' ? ' approved ' : e.action === 'reject' ? ' rejected ' : ` ${e.action} `, reviewLink(e.review_id),
        d.grant ? h('span', { class: 'muted' }, ` with a ${d.grant} grant`) : null,
        d.comment ? [': ', h('q', null, d.comment)] : null];
    case 'execution': {
      const parts = ['Executed'];
      if (d.status !== undefined) parts.push(': HTTP ', h('strong', null, String(d.status)));
      if (d.rows !== undefined) parts.push(': ', h('strong', null, `${d.rows} row${d.rows === 1 ? '' : 's'}`), d.tags && d.tags.length ? h('span', { class: 'muted' }, ` (${d.tags.join(', ')})`) : null);
      if (d.duration_ms !== undefined) parts.push(h('span', { class: 'muted' }, ` in ${d.duration_ms} ms`));
      if (d.sqlstate) parts.push(h('span', { class: 'muted' }, ` SQLSTATE ${d.sqlstate}`));
      if (d.error) parts.push(h('span', { class: 'error-text' }, ` — ${d.error}`));
      if (e.action && e.action !== 'ok') parts.push(' ', badge(e.action, 'st'));
      return parts;
    }
    case 'grant':
      return ['Grant ', e.action, e.review_id ? [' from ', reviewLink(e.review_id)] : null, d.expires_at ? h('span', { class: 'muted' }, ` until ${d.expires_at}`) : null];
    default:
      return [h('strong', null, e.identity || ''), ' ', e.type, ' ', e.action];
  }
}

export function reviewLink(id) {
  return id ? h('a', { href: `/reviews/${id}` }, `#${id}`) : '';
}
