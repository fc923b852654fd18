// The payload an approver decides on, drawn with its risk findings. SQL
// is shown formatted or exactly as it will run (the approval binds to the
// exact bytes, which the copy button copies); HTTP calls as request line,
// headers, JSON body pretty-printed and the GraphQL document. Findings'
// start/end are UTF-8 byte offsets: into the SQL text for SQL, into the
// body, the GraphQL query string or the raw path for HTTP (see package
// analyze/http).

import { h, byteMapper, copyButton, badge } from './util.js';
import { tokenizeSQL, formatSQL, tokenizeJSON, formatJSON, tokenizeGraphQL, render } from './highlight.js';

// splitParams separates the bound parameters that qgate appends to an
// extended-protocol statement ("\n-- $1 = 'v'" lines, numbered from 1 to
// the last) from the statement text.
export function splitParams(payload) {
  const lines = payload.split('\n');
  const params = [];
  let k = lines.length - 1;
  while (k > 0) {
    const m = /^-- \$(\d+) = (.*)$/.exec(lines[k]);
    if (!m) break;
    params.unshift({ n: Number(m[1]), value: m[2] });
    k--;
  }
  // Only a complete run $1..$N counts; anything else is the statement's
  // own comment text and stays part of it.
  const ok = params.length > 0 && params.every((p, i) => p.n === i + 1);
  if (!ok) return { text: payload, params: [] };
  return { text: lines.slice(0, k + 1).join('\n'), params };
}

// marksFor turns findings into marks over text (string indices) for the
// findings that where() accepts; numbering follows the findings list.
function marksFor(text, findings, where) {
  const map = byteMapper(text);
  const marks = [];
  findings.forEach((f, i) => {
    if (!where(f) || (f.start === 0 && f.end === 0)) return;
    const s = map(f.start);
    let e = map(Math.max(f.end, f.start), true);
    if (e <= s) e = Math.min(s + 1, text.length);
    marks.push({ s, e, sev: f.severity, n: i + 1, code: f.code, message: f.message });
  });
  return marks;
}

// codeBlock shows text tokenized, with a Formatted/Exact switch when a
// formatter is given.
function codeBlock(label, text, tokens, formatter, marks, copyText) {
  const pre = h('pre', { class: 'code', tabindex: '0', 'aria-label': label });
  const exact = () => pre.replaceChildren(render(text, tokens, marks));
  const formatted = formatter ? formatter(text, tokens) : null;
  const same = !formatted || formatted.every((p) => p.ws === undefined || p.ws === text.slice(p.start, p.end));
  const tools = h('div', { class: 'codetools' });
  if (formatted && !same) {
    const group = h('div', { class: 'seg', role: 'group', 'aria-label': label + ' view' });
    const bF = h('button', { type: 'button', class: 'segbtn', 'aria-pressed': 'true' }, 'Formatted');
    const bE = h('button', { type: 'button', class: 'segbtn', 'aria-pressed': 'false' }, 'Exact text');
    bF.addEventListener('click', () => { pre.replaceChildren(render(text, formatted, marks)); bF.setAttribute('aria-pressed', 'true'); bE.setAttribute('aria-pressed', 'false'); });
    bE.addEventListener('click', () => { exact(); bE.setAttribute('aria-pressed', 'true'); bF.setAttribute('aria-pressed', 'false'); });
    group.append(bF, bE);
    tools.append(group);
    pre.replaceChildren(render(text, formatted, marks));
  } else {
    exact();
  }
  tools.append(copyButton('Copy exact text', () => copyText));
  return h('div', { class: 'codeblock' }, h('div', { class: 'codehead' }, h('span', { class: 'codelabel' }, label), tools), pre);
}

// findingsList explains each finding; clicking one flashes its marks.
export function findingsList(findings, root, whereOf) {
  if (!findings.length) return h('p', { class: 'muted' }, 'No risk findings.');
  const list = h('ol', { class: 'findings' });
  findings.forEach((f, i) => {
    const n = i + 1;
    const btn = h('button', { type: 'button', class: 'linkish', 'aria-label': `Show finding ${n} in the payload` }, f.code);
    btn.addEventListener('click', () => {
      const ms = [...root.querySelectorAll('mark.finding')].filter((m) => m.dataset.findings.split(' ').includes(String(n)));
      ms.forEach((m) => { m.classList.remove('flash'); void m.offsetWidth; m.classList.add('flash'); });
      if (ms[0]) ms[0].scrollIntoView({ block: 'nearest' });
    });
    const where = f.start === 0 && f.end === 0 ? 'the whole request' : whereOf(f);
    list.append(h('li', { class: `finding-item sev-${f.severity}` },
      h('div', { class: 'fhead' }, badge(f.severity, `sev sev-${f.severity}`), ' ', btn),
      h('div', { class: 'fmsg' }, f.message),
      h('div', { class: 'fwhere muted' }, 'in ', where)));
  });
  return list;
}

// sqlView draws a SQL payload (with any bound parameters) and its findings.
export function sqlView(payload, findings) {
  const { text, params } = splitParams(payload);
  const marks = marksFor(payload, findings, () => true).filter((m) => m.s < text.length);
  const root = h('div', { class: 'payload' });
  const code = codeBlock('SQL', payload, tokenizeSQL(payload), formatSQL, marks, payload);
  const side = h('div', { class: 'side' }, h('h3', null, 'Risk findings'));
  root.append(h('div', { class: 'split' }, h('div', { class: 'main' }, code,
    params.length ? h('div', { class: 'params' }, h('h3', null, 'Bound parameters'),
      h('table', { class: 'kv' }, h('tbody', null, params.map((p) => h('tr', null, h('th', { scope: 'row' }, '$' + p.n), h('td', null, h('code', null, p.value))))))) : null),
  side));
  side.append(findingsList(findings, root, () => 'the SQL text'));
  return root;
}

const PATH_CODES = new Set(['http.ambiguous_path']);

// parseHTTP splits qgate's rendering of a held call: request line,
// headers, a blank line and the body.
export function parseHTTP(payload) {
  const cut = payload.indexOf('\n\n');
  const head = cut < 0 ? payload : payload.slice(0, cut);
  const body = cut < 0 ? '' : payload.slice(cut + 2);
  const [line, ...hs] = head.split('\n');
  const sp = line.indexOf(' ');
  const method = sp < 0 ? line : line.slice(0, sp);
  const target = sp < 0 ? '' : line.slice(sp + 1);
  const headers = hs.filter(Boolean).map((l) => {
    const i = l.indexOf(':');
    return i < 0 ? [l, ''] : [l.slice(0, i), l.slice(i + 1).trim()];
  });
  return { method, target, headers, body };
}

// graphqlQueries finds the GraphQL documents a body carries.
function graphqlQueries(body, headers) {
  const ctype = (headers.find(([k]) => k.toLowerCase() === 'content-type') || [])[1] || '';
  if (/^application\/graphql/i.test(ctype)) return [body];
  let v;
  try { v = JSON.parse(body); } catch { return []; }
  const ops = Array.isArray(v) ? v : [v];
  return ops.filter((o) => o && typeof o.query === 'string').map((o) => o.query);
}

// httpView draws an HTTP call and its findings. rawPath says the target
// is the client's raw path (the "try a request" box), so path findings
// can be placed on it.
export function httpView(payload, findings, { rawPath = false } = {}) {
  const { method, target, headers, body } = parseHTTP(payload);
  const root = h('div', { class: 'payload' });
  const main = h('div', { class: 'main' });
  const pathLen = target.indexOf('?') < 0 ? target.length : target.indexOf('?');
  const pathMarks = rawPath ? marksFor(target, findings, (f) => PATH_CODES.has(f.code)).filter((m) => m.e <= pathLen) : [];
  const tgt = h('code', { class: 'target' });
  tgt.append(render(target, [{ type: 'name', start: 0, end: target.length }], pathMarks));
  main.append(h('div', { class: 'reqline' }, badge(method, 'method'), ' ', tgt));
  if (headers.length) {
    main.append(h('table', { class: 'kv headers', 'aria-label': 'Headers' }, h('tbody', null,
      headers.map(([k, v]) => h('tr', null, h('th', { scope: 'row' }, k), h('td', null, h('code', null, v)))))));
  }
  const queries = graphqlQueries(body, headers);
  const isGQL = (f) => f.code.startsWith('graphql.');
  if (body) {
    const bodyMarks = marksFor(body, findings, (f) => !isGQL(f) && !PATH_CODES.has(f.code));
    const jt = tokenizeJSON(body);
    if (jt) main.append(codeBlock('Body (JSON)', body, jt, formatJSON, bodyMarks, body));
    else if (!queries.length || queries[0] !== body) main.append(codeBlock('Body', body, [{ type: 'name', start: 0, end: body.length }], null, bodyMarks, body));
  } else {
    main.append(h('p', { class: 'muted' }, 'No body.'));
  }
  queries.forEach((q, i) => {
    // Offsets of GraphQL findings index the operation's query string;
    // with a batch they cannot be told apart, so only one query is marked.
    const marks = queries.length === 1 ? marksFor(q, findings, isGQL) : [];
    main.append(codeBlock(queries.length > 1 ? `GraphQL document ${i + 1}` : 'GraphQL document', q, tokenizeGraphQL(q), null, marks, q));
  });
  const side = h('div', { class: 'side' }, h('h3', null, 'Risk findings'));
  root.append(h('div', { class: 'split' }, main, side));
  side.append(findingsList(findings, root, (f) => PATH_CODES.has(f.code) ? 'the path' : isGQL(f) ? 'the GraphQL document' : 'the body'));
  return root;
}

// payloadView picks the view for a review's protocol.
export function payloadView(protocol, payload, findings) {
  return protocol === 'http' ? httpView(payload, findings || []) : sqlView(payload, findings || []);
}
