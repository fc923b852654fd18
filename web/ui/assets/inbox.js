// The inbox: pending reviews the signed-in person may decide, their own
// pending requests, and (for staff) the rest, kept current by the event
// stream. Keyboard: j/k move, Enter opens, a approves, r rejects, ? help.

import { get, post, query } from './api.js';
import { h, clear, $, $$, timeEl, riskBadge, toast, setTitle, badge } from './util.js';
import { subscribe } from './events.js';
import { rejectDialog, helpDialog } from './dialogs.js';

export default async function inbox(root, me) {
  setTitle('Inbox');
  const reviews = new Map(); // id → review
  const fresh = new Set(); // ids that arrived while the page was open
  let loaded = false;
  let selected = null; // id

  const live = h('span', { class: 'live', role: 'status' }, 'connecting…');
  const lists = {
    decide: h('ul', { class: 'rows', id: 'decide', 'aria-labelledby': 'h-decide' }),
    mine: h('ul', { class: 'rows', id: 'mine', 'aria-labelledby': 'h-mine' }),
    others: h('ul', { class: 'rows', id: 'others', 'aria-labelledby': 'h-others' }),
  };
  const counts = { decide: h('span', { class: 'count' }), mine: h('span', { class: 'count' }), others: h('span', { class: 'count' }) };
  root.append(
    h('div', { class: 'pagehead' }, h('h1', null, 'Inbox'), live,
      h('button', { type: 'button', class: 'btn small ghost', 'aria-keyshortcuts': '?', onclick: () => helpDialog() }, 'Keyboard shortcuts (?)')),
    h('section', { class: 'card' }, h('h2', { id: 'h-decide' }, 'To decide ', counts.decide), lists.decide),
    h('section', { class: 'card' }, h('h2', { id: 'h-mine' }, 'Your pending requests ', counts.mine), lists.mine),
    h('section', { class: 'card', hidden: !(me.admin || (me.groups || []).length) }, h('h2', { id: 'h-others' }, 'Other pending reviews ', counts.others), lists.others),
  );

  const bucket = (r) => r.can_decide ? 'decide' : r.requester === me.identity ? 'mine' : 'others';

  function row(r) {
    const first = (r.payload || '').split('\n')[0];
    const summary = first.length > 140 ? first.slice(0, 140) + '…' : first;
    const prog = (r.progress || []).map((p) => `${p.approved}/${p.quorum}`).join(' · ');
    const li = h('li', { class: 'row' + (fresh.has(r.id) ? ' new' : ''), dataset: { id: r.id }, tabindex: '-1', 'aria-selected': String(selected === r.id) },
      h('div', { class: 'rowmain' },
        h('a', { href: `/reviews/${r.id}`, class: 'rowlink' }, `#${r.id}`),
        ' ', riskBadge(r.decision && r.decision.risk && r.decision.risk.level),
        ' ', h('strong', null, r.requester), ' → ', h('span', null, r.target), ' ', badge(r.environment, 'env'),
        h('code', { class: 'summary' }, summary)),
      h('div', { class: 'rowmeta' },
        h('span', null, 'asked ', timeEl(r.created_at, 'ago')),
        h('span', null, timeEl(r.expires_at, 'left')),
        prog ? h('span', { title: 'approvals / quorum' }, 'approvals ', prog) : null),
      r.can_decide ? h('div', { class: 'rowact' },
        h('button', { type: 'button', class: 'btn small ok', 'aria-keyshortcuts': 'a', onclick: () => approve(r.id) }, 'Approve'),
        h('button', { type: 'button', class: 'btn small danger', 'aria-keyshortcuts': 'r', onclick: () => reject(r.id) }, 'Reject')) : null);
    li.addEventListener('click', (e) => { if (!e.target.closest('a,button')) select(r.id); });
    return li;
  }

  // Rows are kept per review and version, and the lists are changed only
  // where they differ: an update to one review leaves every other row's
  // node alone, so a click on it cannot land on a node being replaced.
  const rowCache = new Map(); // id → { li, version }
  function rowFor(r) {
    const c = rowCache.get(r.id);
    if (c && c.version === r.version) return c.li;
    const li = row(r);
    if (c) c.li.replaceWith(li);
    rowCache.set(r.id, { li, version: r.version });
    return li;
  }
  function reconcile(list, want, empty) {
    if (!want.length) {
      if (!(list.children.length === 1 && list.firstElementChild.classList.contains('empty'))) {
        clear(list, h('li', { class: 'empty muted' }, empty));
      }
      return;
    }
    const keep = new Set(want);
    for (const child of [...list.children]) if (!keep.has(child)) child.remove();
    want.forEach((li, i) => { if (list.children[i] !== li) list.insertBefore(li, list.children[i] || null); });
  }

  function draw() {
    const sorted = [...reviews.values()].sort((a, b) => Date.parse(a.expires_at) - Date.parse(b.expires_at));
    for (const k of Object.keys(lists)) {
      const items = sorted.filter((r) => bucket(r) === k);
      reconcile(lists[k], items.map(rowFor),
        k === 'decide' ? 'Nothing waiting for you.' : k === 'mine' ? 'No pending requests of yours.' : 'None.');
      counts[k].textContent = items.length ? `(${items.length})` : '';
    }
    for (const id of [...rowCache.keys()]) if (!reviews.has(id)) rowCache.delete(id);
    const n = sorted.filter((r) => r.can_decide).length;
    setTitle(n ? `(${n}) Inbox` : 'Inbox');
    if (selected !== null && !reviews.has(selected)) selected = null;
    mark();
  }

  function order() { return $$('li.row', root).map((li) => Number(li.dataset.id)); }
  function mark() {
    for (const li of $$('li.row', root)) li.setAttribute('aria-selected', String(Number(li.dataset.id) === selected));
  }
  function select(id) {
    selected = id;
    mark();
    const li = $(`li.row[data-id="${id}"]`, root);
    if (li) { li.focus({ preventScroll: true }); li.scrollIntoView({ block: 'nearest' }); }
  }
  function move(d) {
    const ids = order();
    if (!ids.length) return;
    const i = ids.indexOf(selected);
    select(ids[i < 0 ? 0 : Math.max(0, Math.min(ids.length - 1, i + d))]);
  }

  async function approve(id) {
    const r = reviews.get(id);
    if (!r || !r.can_decide) return;
    try {
      const after = await post(`/api/v1/reviews/${id}/approve`, {});
      toast(after.status === 'approved' ? `Review #${id} approved.` : `Your approval of #${id} is recorded; more are needed.`);
      upsert(after);
    } catch (err) {
      toast(`#${id}: ${err.message}`, 'error');
    }
  }
  async function reject(id) {
    const r = reviews.get(id);
    if (!r || !r.can_decide) return;
    const reason = await rejectDialog(r);
    if (reason === null) return;
    try {
      const after = await post(`/api/v1/reviews/${id}/reject`, { comment: reason });
      toast(`Review #${id} rejected.`);
      upsert(after);
    } catch (err) {
      toast(`#${id}: ${err.message}`, 'error');
    }
  }

  function upsert(r) {
    if (r.status !== 'pending') {
      const li = $(`li.row[data-id="${r.id}"]`, root);
      reviews.delete(r.id);
      if (li) { li.classList.add('gone'); setTimeout(draw, 250); } else draw();
      return;
    }
    if (!reviews.has(r.id) && loaded) {
      fresh.add(r.id);
      setTimeout(() => { fresh.delete(r.id); const li = $(`li.row[data-id="${r.id}"]`, root); if (li) li.classList.remove('new'); }, 4000);
    }
    reviews.set(r.id, r);
    draw();
  }

  async function load() {
    const list = await get('/api/v1/reviews' + query({ status: 'pending', limit: 500 }));
    const before = new Set(reviews.keys());
    reviews.clear();
    for (const r of list) {
      if (loaded && !before.has(r.id)) fresh.add(r.id);
      reviews.set(r.id, r);
    }
    loaded = true;
    draw();
  }

  await load();
  subscribe({
    onEvent: (_type, r) => upsert(r),
    onReset: () => load().catch((err) => toast(err.message, 'error')),
    onState: (s) => { live.textContent = s === 'live' ? 'live' : 'reconnecting…'; live.classList.toggle('on', s === 'live'); },
  });
  // A review whose time ran out goes once the server says so; until then
  // it is greyed out.
  document.addEventListener('qgate:tick', (e) => {
    for (const r of reviews.values()) {
      if (Date.parse(r.expires_at) <= e.detail) {
        const li = $(`li.row[data-id="${r.id}"]`, root);
        if (li) li.classList.add('stale');
      }
    }
  });

  document.addEventListener('keydown', (e) => {
    if (e.defaultPrevented || e.ctrlKey || e.metaKey || e.altKey) return;
    if (e.target.closest('input,textarea,select,dialog,[contenteditable]') || $('dialog[open]')) return;
    switch (e.key) {
      case 'j': move(1); break;
      case 'k': move(-1); break;
      case 'Enter':
        if (selected === null || e.target.closest('a,button')) return;
        location.assign(`/reviews/${selected}`);
        break;
      case 'a': if (selected !== null) approve(selected); break;
      case 'r': if (selected !== null) reject(selected); break;
      case '?': helpDialog(); break;
      default: return;
    }
    e.preventDefault();
  });
}
