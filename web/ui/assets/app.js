// The app shell: who is signed in, the header, and the page for the path.

import { get, setCSRF, toLogin } from './api.js';
import { h, clear, $, startTicker, setTitle } from './util.js';

const pages = [
  [/^\/$/, () => import('./inbox.js')],
  [/^\/reviews\/(\d+)$/, () => import('./review.js')],
  [/^\/history$/, () => import('./history.js')],
  [/^\/requests\/([^/]+)$/, () => import('./story.js')],
  [/^\/tokens$/, () => import('./tokens.js')],
  [/^\/policies$/, () => import('./policies.js')],
];

export const isStaff = (me) => me.admin || (me.groups || []).length > 0;

function header(me) {
  const here = location.pathname;
  const link = (href, text, show = true) => show ? h('a', {
    href, 'aria-current': (href === '/' ? here === '/' || here.startsWith('/reviews/') : here.startsWith(href)) ? 'page' : null,
  }, text) : null;
  clear($('#nav'),
    link('/', 'Inbox'),
    link('/history', 'History', isStaff(me)),
    link('/tokens', 'Tokens'),
    link('/policies', 'Policies'));
  const who = $('#who');
  clear(who, h('span', { class: 'me', title: (me.groups || []).length ? 'groups: ' + me.groups.join(', ') : 'no groups' },
    h('span', { class: 'sr' }, 'Signed in as '), me.identity, me.admin ? h('span', { class: 'badge small' }, 'admin') : null));
  if (me.csrf_token) {
    who.append(h('form', { method: 'post', action: '/logout', class: 'signout' },
      h('input', { type: 'hidden', name: 'csrf', value: me.csrf_token }),
      h('button', { type: 'submit', class: 'btn small' }, 'Sign out')));
  }
}

async function main() {
  const root = $('#main');
  let me;
  try {
    me = await get('/api/v1/me');
  } catch (err) {
    if (err.status === 401) { toLogin(); return; }
    clear(root, h('p', { class: 'error', role: 'alert' }, 'Cannot reach the qgate API: ', err.message));
    return;
  }
  setCSRF(me.csrf_token);
  header(me);
  startTicker();
  for (const [re, load] of pages) {
    const m = re.exec(location.pathname);
    if (!m) continue;
    const mod = await load();
    clear(root);
    try {
      await mod.default(root, me, ...m.slice(1).map(decodeURIComponent));
    } catch (err) {
      root.append(h('p', { class: 'error', role: 'alert' }, err.message));
    }
    return;
  }
  setTitle('Not found');
  clear(root, h('h1', null, 'Not found'), h('p', null, h('a', { href: '/' }, 'Go to the inbox')));
}

main();
