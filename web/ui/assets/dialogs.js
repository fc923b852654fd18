// Modal dialogs: the rejection reason and the keyboard help.

import { h } from './util.js';

// rejectDialog asks for a reason; it resolves to the text, or null when
// cancelled.
export function rejectDialog(review) {
  return new Promise((resolve) => {
    const ta = h('textarea', { id: 'reject-reason', rows: '3', required: true, maxlength: '2000',
      placeholder: 'Why not? The requester sees this.' });
    const form = h('form', { method: 'dialog' },
      h('h2', null, `Reject review #${review.id}`),
      h('p', null, `${review.requester} → ${review.target} (${review.environment})`),
      h('label', { for: 'reject-reason' }, 'Reason'),
      ta,
      h('div', { class: 'actions' },
        h('button', { type: 'submit', value: 'reject', class: 'btn danger' }, 'Reject'),
        h('button', { type: 'submit', value: 'cancel', class: 'btn ghost', formnovalidate: true }, 'Cancel')));
    const dlg = h('dialog', { class: 'dialog', 'aria-labelledby': 'reject-title' }, form);
    form.querySelector('h2').id = 'reject-title';
    const back = document.activeElement;
    dlg.addEventListener('close', () => {
      const ok = dlg.returnValue === 'reject';
      dlg.remove();
      if (back && back.focus) back.focus();
      resolve(ok ? ta.value.trim() : null);
    });
    document.body.append(dlg);
    dlg.showModal();
    ta.focus();
  });
}

const SHORTCUTS = [
  ['j', 'next review'],
  ['k', 'previous review'],
  ['Enter', 'open the selected review'],
  ['a', 'approve the selected review'],
  ['r', 'reject the selected review (asks for a reason)'],
  ['?', 'this help'],
  ['Esc', 'close a dialog'],
];

export function helpDialog() {
  if (document.querySelector('dialog.help')) return;
  const dlg = h('dialog', { class: 'dialog help', 'aria-labelledby': 'help-title' },
    h('form', { method: 'dialog' },
      h('h2', { id: 'help-title' }, 'Keyboard shortcuts'),
      h('table', { class: 'kv' }, h('tbody', null, SHORTCUTS.map(([k, d]) => h('tr', null, h('th', { scope: 'row' }, h('kbd', null, k)), h('td', null, d))))),
      h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'btn' }, 'Close'))));
  const back = document.activeElement;
  dlg.addEventListener('close', () => { dlg.remove(); if (back && back.focus) back.focus(); });
  document.body.append(dlg);
  dlg.showModal();
}
