// Small DOM and formatting helpers. Text always goes in as text nodes:
// nothing from the server is ever parsed as HTML.

export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  if (attrs) {
    for (const [k, v] of Object.entries(attrs)) {
      if (v == null || v === false) continue;
      if (k === 'class') el.className = v;
      else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
      else if (k === 'dataset') Object.assign(el.dataset, v);
      else if (k === 'value') el.value = v;
      else if (v === true) el.setAttribute(k, '');
      else el.setAttribute(k, String(v));
    }
  }
  add(el, children);
  return el;
}

function add(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c == null || c === false) continue;
    el.append(c instanceof Node ? c : String(c));
  }
}

// clear replaces el's children.
export function clear(el, ...children) {
  el.replaceChildren();
  add(el, children);
  return el;
}

export const $ = (sel, root = document) => root.querySelector(sel);
export const $$ = (sel, root = document) => [...root.querySelectorAll(sel)];

const pad = (n) => String(n).padStart(2, '0');

// fmtTime shows a time in the browser's zone: 2026-03-01 12:04:05.
export function fmtTime(t) {
  if (!t) return '—';
  const d = new Date(t);
  if (isNaN(d)) return String(t);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

// duration shows seconds as 45s, 3m 05s, 2h 04m, 3d 4h.
export function duration(sec) {
  sec = Math.max(0, Math.floor(sec));
  if (sec < 60) return `${sec}s`;
  const m = Math.floor(sec / 60), s = sec % 60;
  if (m < 60) return `${m}m ${pad(s)}s`;
  const hr = Math.floor(m / 60);
  if (hr < 48) return `${hr}h ${pad(m % 60)}m`;
  return `${Math.floor(hr / 24)}d ${hr % 24}h`;
}

// timeEl is a <time> that the ticker keeps up to date: mode "ago" counts
// up from t, "left" counts down to t.
export function timeEl(t, mode) {
  const el = h('time', { datetime: t, title: fmtTime(t), dataset: { tick: mode } });
  tickOne(el, Date.now());
  return el;
}

function tickOne(el, now) {
  const t = Date.parse(el.getAttribute('datetime'));
  if (isNaN(t)) return;
  if (el.dataset.tick === 'ago') {
    el.textContent = duration((now - t) / 1000) + ' ago';
  } else {
    const left = (t - now) / 1000;
    el.textContent = left > 0 ? duration(left) + ' left' : 'expired';
    el.classList.toggle('urgent', left > 0 && left < 60);
    el.classList.toggle('over', left <= 0);
  }
}

let ticking = false;
// startTicker updates every ticking <time> once a second (a local clock,
// not a network poll).
export function startTicker() {
  if (ticking) return;
  ticking = true;
  setInterval(() => {
    const now = Date.now();
    for (const el of $$('time[data-tick]')) tickOne(el, now);
    document.dispatchEvent(new CustomEvent('qgate:tick', { detail: now }));
  }, 1000);
}

// toast shows a short message in the live region.
export function toast(msg, kind = 'info') {
  const box = $('#toasts');
  if (!box) return;
  const el = h('div', { class: `toast ${kind}` }, msg);
  box.append(el);
  setTimeout(() => el.remove(), kind === 'error' ? 9000 : 4000);
}

export function badge(text, cls) {
  return h('span', { class: `badge ${cls || ''}` }, text);
}

export function riskBadge(level) {
  level = level || 'none';
  return h('span', { class: `badge risk risk-${level}`, title: `risk: ${level}` }, `risk ${level}`);
}

export function actionBadge(action) {
  return h('span', { class: `badge act act-${action}` }, action);
}

export function statusBadge(status) {
  return h('span', { class: `badge st st-${status}` }, status);
}

// byteMapper returns a function that converts a UTF-8 byte offset into s
// to a JavaScript string index. Offsets inside a character round down
// (or up with roundUp); offsets past the end clamp to s.length.
export function byteMapper(s) {
  const bytes = [];
  const idx = [];
  let b = 0;
  for (let i = 0; i < s.length;) {
    const cp = s.codePointAt(i);
    bytes.push(b);
    idx.push(i);
    b += cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
    i += cp > 0xffff ? 2 : 1;
  }
  bytes.push(b);
  idx.push(s.length);
  return (off, roundUp = false) => {
    if (off <= 0) return 0;
    if (off >= b) return s.length;
    let lo = 0, hi = bytes.length - 1;
    while (lo < hi) { // largest k with bytes[k] <= off
      const mid = (lo + hi + 1) >> 1;
      if (bytes[mid] <= off) lo = mid; else hi = mid - 1;
    }
    if (roundUp && bytes[lo] < off) lo++;
    return idx[lo];
  };
}

// copyButton copies text() to the clipboard.
export function copyButton(label, text) {
  const btn = h('button', { type: 'button', class: 'btn small' }, label);
  btn.addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText(text());
      toast('Copied.');
    } catch {
      // No clipboard (plain http on another host): select the text instead.
      toast('Copy is not available here; select the text and copy it.', 'error');
    }
  });
  return btn;
}

export function field(label, control, hint) {
  const id = control.id || (control.id = 'f-' + Math.random().toString(36).slice(2, 9));
  return h('div', { class: 'field' },
    h('label', { for: id }, label),
    control,
    hint ? h('small', { class: 'hint', id: id + '-hint' }, hint) : null);
}

export function setTitle(t) {
  document.title = t ? `${t} · qgate` : 'qgate';
}
