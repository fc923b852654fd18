// One request's story: request → decision → review → each vote → the
// review's outcome → execution, from the audit log.

import { get } from './api.js';
import { h, fmtTime, setTitle, statusBadge, badge } from './util.js';
import { describe } from './describe.js';

const ICONS = { request: '→', review: '◆', vote: '✓', execution: '▶', grant: '◇' };

export default async function story(root, me, id) {
  setTitle('Request story');
  const st = await get(`/api/v1/requests/${encodeURIComponent(id)}`);
  root.append(h('div', { class: 'pagehead' }, h('h1', null, 'Request story'), h('code', { class: 'small' }, st.request_id)));
  if (st.reviews.length) {
    root.append(h('section', { class: 'card' }, h('h2', null, 'Reviews'), h('ul', { class: 'plain' }, st.reviews.map((r) =>
      h('li', null, h('a', { href: `/reviews/${r.id}` }, `Review #${r.id}`), ' ', statusBadge(r.status), ' requested by ', h('strong', null, r.requester),
        ` on ${r.target} (${r.environment})`, r.reason ? h('span', { class: 'muted' }, ` — ${r.reason}`) : null)))));
  }
  root.append(h('section', { class: 'card', 'aria-labelledby': 'h-timeline' }, h('h2', { id: 'h-timeline' }, 'Timeline'),
    h('ol', { class: 'timeline' }, st.events.map((e) => h('li', { class: `ev ev-${e.type}`, dataset: { type: e.type, action: e.action } },
      h('span', { class: 'evicon', 'aria-hidden': 'true' }, ICONS[e.type] || '•'),
      h('div', null, h('div', { class: 'evwhen muted small' }, fmtTime(e.time), ` · #${e.seq} · `, badge(e.type, 'type')),
        h('div', { class: 'evwhat' }, describe(e))))))));
}
