// One review: the exact payload with its findings, who asked from where,
// the matched policies and why, quorum progress, the expiry countdown,
// and approve/reject with a comment and an optional grant window. Kept
// current by the event stream.

import { get, post } from './api.js';
import { h, clear, timeEl, fmtTime, riskBadge, statusBadge, actionBadge, badge, toast, setTitle, field } from './util.js';
import { payloadView } from './payload.js';
import { subscribe } from './events.js';

const GRANTS = [['', 'No grant: this request only'], ['15m', '15 minutes'], ['30m', '30 minutes'], ['1h', '1 hour'], ['4h', '4 hours']];

export default async function reviewPage(root, me, idText) {
  const id = Number(idText);
  setTitle(`Review #${id}`);
  let r = await get(`/api/v1/reviews/${id}`);
  let policies = null;
  get('/api/v1/policies').then((p) => { policies = p; drawWhy(); }).catch(() => {});

  const head = h('div', { class: 'pagehead' });
  const facts = h('dl', { class: 'facts' });
  const decide = h('section', { class: 'card decide', 'aria-labelledby': 'h-decide' });
  const why = h('section', { class: 'card', 'aria-labelledby': 'h-why' });
  const payload = h('section', { class: 'card', 'aria-labelledby': 'h-payload' },
    h('h2', { id: 'h-payload' }, r.protocol === 'http' ? 'The call' : 'The statement'),
    h('p', { class: 'muted small' }, 'Approval binds to exactly these bytes: the client must send the identical request.'),
    payloadView(r.protocol, r.payload, r.decision.risk.findings));
  root.append(head, h('div', { class: 'reviewgrid' },
    h('div', { class: 'col-main' }, payload, why),
    h('div', { class: 'col-side' }, h('section', { class: 'card', 'aria-label': 'Request facts' }, facts), decide)));

  function drawHead() {
    clear(head, h('h1', null, `Review #${r.id}`), statusBadge(r.status), riskBadge(r.decision.risk.level),
      h('a', { href: `/requests/${encodeURIComponent(r.request_id)}`, class: 'small' }, 'Request story'));
  }

  function drawFacts() {
    const row = (k, ...v) => [h('dt', null, k), h('dd', null, ...v)];
    clear(facts,
      row('Requester', h('strong', null, r.requester)),
      row('Token', h('code', null, r.token_id)),
      row('Source IP', h('code', null, r.source_ip || '—')),
      row('Target', r.target, ' ', badge(r.environment, 'env'), ' ', h('span', { class: 'muted' }, r.protocol)),
      row('Asked', timeEl(r.created_at, 'ago')),
      r.status === 'pending'
        ? row('Expires', timeEl(r.expires_at, 'left'), h('span', { class: 'muted small' }, ' at ', fmtTime(r.expires_at)))
        : row('Decided', fmtTime(r.decided_at)),
      r.executed_at ? row('Executed', fmtTime(r.executed_at)) : null,
      r.reason ? row('Reason', r.reason) : null);
  }

  function drawDecide() {
    const progress = (r.progress || []).map((p) => h('li', null,
      h('div', null, h('strong', null, p.policy || 'review'), ': ', `${p.approved} of ${p.quorum} approval${p.quorum > 1 ? 's' : ''}`,
        p.approvers.length ? h('span', { class: 'muted' }, ' from ', p.approvers.join(', ')) : h('span', { class: 'muted' }, ' from anyone but the requester'),
        p.approved < p.quorum && r.status === 'pending' ? h('span', { class: 'need' }, ` — ${p.quorum - p.approved} more needed`) : null),
      h('progress', { max: String(p.quorum), value: String(Math.min(p.approved, p.quorum)), 'aria-label': `${p.policy}: ${p.approved} of ${p.quorum}` })));
    const votes = (r.votes || []).map((v) => h('li', { class: v.approve ? 'vote-ok' : 'vote-no' },
      h('strong', null, v.identity), ' ', v.approve ? 'approved' : 'rejected',
      v.grant ? h('span', { class: 'muted' }, ` (grant ${v.grant})`) : null,
      v.comment ? [': ', h('q', null, v.comment)] : null,
      ' ', h('span', { class: 'muted small' }, fmtTime(v.at))));
    clear(decide, h('h2', { id: 'h-decide' }, 'Decision'),
      h('h3', null, 'Quorum'), h('ul', { class: 'progress' }, progress),
      votes.length ? [h('h3', null, 'Votes'), h('ul', { class: 'votes' }, votes)] : null);

    if (r.can_decide) {
      const comment = h('textarea', { id: 'comment', rows: '3', maxlength: '2000', placeholder: 'Optional when approving; the requester sees it when you reject.' });
      const grant = h('select', { id: 'grant' }, GRANTS.map(([v, t]) => h('option', { value: v }, t)));
      const approveBtn = h('button', { type: 'submit', class: 'btn ok', id: 'approve' }, 'Approve');
      const rejectBtn = h('button', { type: 'button', class: 'btn danger', id: 'reject' }, 'Reject');
      const form = h('form', { class: 'voteform' },
        field('Comment', comment),
        field('Grant window', grant, 'Let the same query shape from the same token through without review for this long.'),
        h('div', { class: 'actions' }, approveBtn, rejectBtn));
      const send = async (verb, body) => {
        approveBtn.disabled = rejectBtn.disabled = true;
        try {
          r = await post(`/api/v1/reviews/${r.id}/${verb}`, body);
          toast(verb === 'approve' ? (r.status === 'approved' ? 'Approved.' : 'Approval recorded; more are needed.') : 'Rejected.');
          drawAll();
        } catch (err) {
          toast(err.message, 'error');
          approveBtn.disabled = rejectBtn.disabled = false;
        }
      };
      form.addEventListener('submit', (e) => {
        e.preventDefault();
        const body = { comment: comment.value.trim() };
        if (grant.value) body.grant = grant.value;
        send('approve', body);
      });
      rejectBtn.addEventListener('click', () => {
        if (!comment.value.trim()) {
          comment.setCustomValidity('Say why you reject it: the requester sees this.');
          comment.reportValidity();
          comment.addEventListener('input', () => comment.setCustomValidity(''), { once: true });
          return;
        }
        send('reject', { comment: comment.value.trim() });
      });
      decide.append(form);
    } else {
      decide.append(h('p', { class: 'note', id: 'cannot-decide' }, whyNot()));
    }
  }

  function whyNot() {
    if (r.status !== 'pending') return `This review is ${r.status}${r.reason ? ': ' + r.reason : '.'}`;
    if (r.requester === me.identity) return 'This is your own request: someone else has to approve it. (The server refuses approvals by the requester.)';
    if ((r.votes || []).some((v) => v.identity === me.identity)) return 'You have voted on this review.';
    const groups = [...new Set((r.progress || []).flatMap((p) => p.approvers))];
    return `You cannot decide this review: it needs ${groups.length ? 'a member of ' + groups.join(' or ') : 'another approver'}.`;
  }

  function drawWhy() {
    const d = r.decision;
    const byName = new Map(((policies && policies.policies) || []).map((p) => [p.name, p]));
    clear(why, h('h2', { id: 'h-why' }, 'Why it is held'),
      d.default ? h('p', null, `No policy matched; the default for ${r.environment} is `, actionBadge(d.decision), '.') : null,
      h('ul', { class: 'matched' }, (d.matched || []).map((m) => {
        const p = byName.get(m.name);
        return h('li', null, actionBadge(m.action), ' ', h('strong', null, m.name),
          p ? h('div', { class: 'when' }, 'when ', h('code', null, p.when)) : null,
          p && p.message ? h('div', { class: 'muted' }, p.message) : null,
          p && p.review ? h('div', { class: 'muted small' }, `needs ${p.review.quorum || 1} of ${p.review.approvers.join(', ') || 'anyone'}${p.review.timeout ? ', within ' + p.review.timeout : ''}`) : null);
      })),
      d.message ? h('p', null, d.message) : null);
  }

  function drawAll() { drawHead(); drawFacts(); drawDecide(); drawWhy(); }
  drawAll();

  subscribe({
    onEvent: (_t, next) => {
      if (next.id !== r.id || next.version < r.version) return;
      const typing = document.activeElement && document.activeElement.id === 'comment' ? document.activeElement.value : null;
      r = next;
      drawHead(); drawFacts(); drawDecide();
      const ta = document.getElementById('comment');
      if (typing !== null && ta) { ta.value = typing; ta.focus(); }
    },
    onReset: async () => {
      try {
        const next = await get(`/api/v1/reviews/${id}`);
        if (next.version === r.version) return;
        r = next;
        drawHead(); drawFacts(); drawDecide();
      } catch { /* keep what we have */ }
    },
  });
}
