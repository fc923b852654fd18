// Tokenizers for SQL (PostgreSQL), JSON and GraphQL, a SQL and a JSON
// formatter that only change whitespace between tokens, and a renderer
// that draws tokens with risk findings marked at their offsets. Every
// token keeps its offsets in the original text, so findings (byte offsets
// turned into string indices by util.byteMapper) land on the same
// characters whether the text is shown exactly or formatted.

import { h } from './util.js';

const SQL_KEYWORDS = new Set(`ABORT ALL ALTER ANALYZE AND ANY ARRAY AS ASC BEGIN BETWEEN BY CALL CASCADE CASE CAST
CHECK CHECKPOINT CLUSTER COLLATE COLUMN COMMIT CONCURRENTLY CONFLICT CONSTRAINT COPY CREATE CROSS CURRENT_DATE
CURRENT_TIMESTAMP CURRENT_USER DATABASE DEFAULT DELETE DESC DISTINCT DO DROP ELSE END ESCAPE EXCEPT EXECUTE EXISTS
EXPLAIN FALSE FETCH FILTER FIRST FOR FOREIGN FROM FULL FUNCTION GRANT GROUP HAVING IF ILIKE IN INDEX INNER INSERT
INTERSECT INTERVAL INTO IS JOIN KEY LATERAL LEFT LIKE LIMIT LOCK MATERIALIZED MERGE NATURAL NOT NOTHING NULL NULLS
OFFSET ON ONLY OR ORDER OUTER OVER PARTITION PREPARE PRIMARY PROCEDURE REFERENCES REFRESH REINDEX RELEASE RENAME
REPLACE RESET RETURNING REVOKE RIGHT ROLE ROLLBACK ROW ROWS SAVEPOINT SCHEMA SELECT SEQUENCE SESSION SET SHOW
SIMILAR SOME START TABLE TEMP TEMPORARY THEN TO TRANSACTION TRIGGER TRUE TRUNCATE UNION UNIQUE UPDATE USING VACUUM
VALUES VIEW WHEN WHERE WINDOW WITH`.split(/\s+/));

// tokenizeSQL splits PostgreSQL text into tokens {type, start, end}:
// ws, comment, string, ident (quoted), number, param, keyword, name, op.
export function tokenizeSQL(s) {
  const out = [];
  let i = 0;
  const n = s.length;
  const push = (type, start, end) => out.push({ type, start, end });
  while (i < n) {
    const c = s[i];
    const start = i;
    if (/\s/.test(c)) {
      while (i < n && /\s/.test(s[i])) i++;
      push('ws', start, i);
    } else if (c === '-' && s[i + 1] === '-') {
      while (i < n && s[i] !== '\n') i++;
      push('comment', start, i);
    } else if (c === '/' && s[i + 1] === '*') {
      let depth = 0;
      while (i < n) {
        if (s[i] === '/' && s[i + 1] === '*') { depth++; i += 2; continue; }
        if (s[i] === '*' && s[i + 1] === '/') { depth--; i += 2; if (depth === 0) break; continue; }
        i++;
      }
      push('comment', start, i);
    } else if (c === "'" || ((c === 'E' || c === 'e' || c === 'B' || c === 'b' || c === 'X' || c === 'x' || c === 'N' || c === 'n') && s[i + 1] === "'")) {
      const backslash = c === 'E' || c === 'e';
      i += c === "'" ? 1 : 2;
      while (i < n) {
        if (backslash && s[i] === '\\') { i += 2; continue; }
        if (s[i] === "'") {
          if (s[i + 1] === "'") { i += 2; continue; }
          i++;
          break;
        }
        i++;
      }
      push('string', start, Math.min(i, n));
    } else if (c === '"') {
      i++;
      while (i < n) {
        if (s[i] === '"') {
          if (s[i + 1] === '"') { i += 2; continue; }
          i++;
          break;
        }
        i++;
      }
      push('ident', start, Math.min(i, n));
    } else if (c === '$') {
      const m = /^\$([A-Za-z_][A-Za-z0-9_]*)?\$/.exec(s.slice(i, i + 64));
      if (m) {
        const tag = m[0];
        const close = s.indexOf(tag, i + tag.length);
        i = close < 0 ? n : close + tag.length;
        push('string', start, i);
      } else {
        i++;
        while (i < n && /[0-9]/.test(s[i])) i++;
        push('param', start, i);
      }
    } else if (/[0-9]/.test(c) || (c === '.' && /[0-9]/.test(s[i + 1] || ''))) {
      const m = /^(?:0[xX][0-9a-fA-F_]+|[0-9_]*\.?[0-9_]+(?:[eE][+-]?[0-9]+)?)/.exec(s.slice(i));
      i += m ? Math.max(m[0].length, 1) : 1;
      push('number', start, i);
    } else if (/[A-Za-z_\u0080-\uffff]/.test(c)) {
      while (i < n && /[A-Za-z0-9_$\u0080-\uffff]/.test(s[i])) i++;
      push(SQL_KEYWORDS.has(s.slice(start, i).toUpperCase()) ? 'keyword' : 'name', start, i);
    } else {
      const m = /^(?:::|<=|>=|<>|!=|\|\||->>|->|#>>|#>|@>|<@|&&)/.exec(s.slice(i, i + 3));
      i += m ? m[0].length : 1;
      push('op', start, i);
    }
  }
  return out;
}

const CLAUSES = new Set(['SELECT', 'FROM', 'WHERE', 'GROUP', 'ORDER', 'HAVING', 'LIMIT', 'OFFSET', 'VALUES', 'SET',
  'RETURNING', 'UNION', 'EXCEPT', 'INTERSECT', 'INSERT', 'UPDATE', 'DELETE', 'JOIN', 'LEFT', 'RIGHT', 'INNER', 'FULL',
  'CROSS', 'NATURAL', 'WITH', 'WINDOW', 'FETCH', 'USING', 'ON']);
// Words after which a clause word is part of something else (FOR UPDATE,
// ON DELETE CASCADE, DO UPDATE, LEFT JOIN, DISTINCT ON, ...).
const NO_BREAK_AFTER = new Set(['FOR', 'ON', 'DO', 'OF', 'BEFORE', 'AFTER', 'INSTEAD', 'GRANT', 'REVOKE', 'LEFT',
  'RIGHT', 'INNER', 'FULL', 'CROSS', 'NATURAL', 'OUTER', 'DISTINCT', 'EXCLUDE', 'IS', 'NOT', 'ALL', 'UNION', 'EXCEPT',
  'INTERSECT', 'EXPLAIN', 'ANALYZE', 'VERBOSE', 'KEY', 'BY']);

// formatSQL lays SQL tokens out one clause per line, indenting
// subqueries. It returns pieces: the tokens themselves and {ws, start,
// end} for the whitespace it puts between them (start..end is the
// original whitespace it replaces).
export function formatSQL(s, tokens) {
  const pieces = [];
  const stack = []; // one entry per open paren: true when it holds a query
  let prev = null; // previous significant token
  let prevWord = '';
  let clause = '';
  let between = false;
  let wsStart = -1, wsEnd = -1;
  const upper = (t) => s.slice(t.start, t.end).toUpperCase();
  const inQuery = () => stack.length === 0 || stack[stack.length - 1];
  const indent = () => '  '.repeat(stack.filter(Boolean).length);
  for (let k = 0; k < tokens.length; k++) {
    const t = tokens[k];
    if (t.type === 'ws') { wsStart = t.start; wsEnd = t.end; continue; }
    const word = t.type === 'keyword' ? upper(t) : '';
    let brk = null;
    if (prev) {
      const pt = s.slice(prev.start, prev.end);
      const hadNewline = wsEnd === t.start && s.slice(wsStart, wsEnd).includes('\n');
      if (prev.type === 'comment' && pt.startsWith('--')) brk = '\n' + indent();
      else if (t.type === 'comment' && hadNewline) brk = '\n' + indent();
      else if (pt === ';') brk = '\n\n';
      else if (word && CLAUSES.has(word) && inQuery() && !NO_BREAK_AFTER.has(prevWord) && pt !== '(' &&
        !(word === 'FROM' && prevWord === 'DELETE') && !(word === 'INTO' && prevWord === 'INSERT')) {
        if (!(word === 'ON' && clause !== 'JOIN') && !(word === 'USING' && clause !== 'JOIN' && clause !== 'DELETE')) brk = '\n' + indent();
      } else if ((word === 'AND' || word === 'OR') && inQuery() && (clause === 'WHERE' || clause === 'HAVING' || clause === 'ON') && !between) {
        brk = '\n' + indent() + '  ';
      }
    }
    if (word === 'AND' && between) between = false;
    if (word === 'BETWEEN') between = true;
    const gapStart = wsStart >= 0 && wsEnd === t.start ? wsStart : t.start;
    if (brk) pieces.push({ ws: brk, start: gapStart, end: t.start });
    else if (prev && wsEnd === t.start && wsStart >= 0) pieces.push({ ws: ' ', start: gapStart, end: t.start });
    pieces.push(t);
    const text = s.slice(t.start, t.end);
    if (text === '(') {
      let j = k + 1;
      while (j < tokens.length && (tokens[j].type === 'ws' || tokens[j].type === 'comment')) j++;
      const next = j < tokens.length ? upper(tokens[j]) : '';
      stack.push(next === 'SELECT' || next === 'WITH' || next === 'VALUES');
    } else if (text === ')') {
      stack.pop();
    }
    if (word && CLAUSES.has(word) && !NO_BREAK_AFTER.has(prevWord)) clause = ['LEFT', 'RIGHT', 'INNER', 'FULL', 'CROSS', 'NATURAL'].includes(word) ? 'JOIN' : word;
    if (t.type !== 'comment') prevWord = word;
    prev = t;
    wsStart = wsEnd = -1;
  }
  return pieces;
}

// tokenizeJSON splits JSON text into tokens: ws, string, key, number,
// literal, punct; null when the text is not JSON-shaped.
export function tokenizeJSON(s) {
  const out = [];
  let i = 0;
  const re = /\s+|"(?:[^"\\\u0000-\u001f]|\\.)*"|-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?|true|false|null|[{}[\]:,]/y;
  while (i < s.length) {
    re.lastIndex = i;
    const m = re.exec(s);
    if (!m) return null;
    const v = m[0];
    let type = /^\s/.test(v) ? 'ws' : v[0] === '"' ? 'string' : /^[-\d]/.test(v) ? 'number' : /^[a-z]/.test(v) ? 'literal' : 'punct';
    out.push({ type, start: i, end: i + v.length });
    i += v.length;
  }
  // A string followed by ':' is a key.
  for (let k = 0; k < out.length; k++) {
    if (out[k].type !== 'string') continue;
    let j = k + 1;
    while (j < out.length && out[j].type === 'ws') j++;
    if (j < out.length && s[out[j].start] === ':') out[k].type = 'key';
  }
  return out;
}

// formatJSON indents JSON tokens two spaces per level.
export function formatJSON(s, tokens) {
  const pieces = [];
  let depth = 0;
  let pending = null; // whitespace to put before the next token
  let gap = null;
  const sig = tokens.filter((t) => t.type !== 'ws');
  for (let k = 0; k < tokens.length; k++) {
    const t = tokens[k];
    if (t.type === 'ws') { gap = t; continue; }
    const c = s[t.start];
    const si = sig.indexOf(t);
    const next = sig[si + 1];
    const nc = next ? s[next.start] : '';
    if (c === '}' || c === ']') {
      depth--;
      const prevc = si > 0 ? s[sig[si - 1].start] : '';
      pending = (prevc === '{' || prevc === '[') ? '' : '\n' + '  '.repeat(depth);
    }
    if (pending !== null && pieces.length) {
      const start = gap && gap.end === t.start ? gap.start : t.start;
      if (pending) pieces.push({ ws: pending, start, end: t.start });
    }
    pieces.push(t);
    pending = null;
    gap = null;
    if (c === '{' || c === '[') {
      depth++;
      pending = (nc === '}' || nc === ']') ? '' : '\n' + '  '.repeat(depth);
    } else if (c === ',') {
      pending = '\n' + '  '.repeat(depth);
    } else if (c === ':') {
      pending = ' ';
    } else {
      pending = '';
    }
  }
  return pieces;
}

// tokenizeGraphQL splits a GraphQL document into tokens.
export function tokenizeGraphQL(s) {
  const out = [];
  const re = /[\s,\uFEFF]+|#[^\n\r]*|"""[\s\S]*?(?:"""|$)|"(?:[^"\\\n]|\\.)*"?|-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?|[_A-Za-z][_0-9A-Za-z]*|\.\.\.|[!$&()\:=@[\]{}|]|[\s\S]/y;
  let i = 0;
  while (i < s.length) {
    re.lastIndex = i;
    const m = re.exec(s);
    const v = m[0];
    let type = 'op';
    if (/^[\s,\uFEFF]/.test(v)) type = 'ws';
    else if (v[0] === '#') type = 'comment';
    else if (v[0] === '"') type = 'string';
    else if (/^-?\d/.test(v)) type = 'number';
    else if (/^[_A-Za-z]/.test(v)) type = /^(query|mutation|subscription|fragment|on|true|false|null)$/.test(v) ? 'keyword' : 'name';
    out.push({ type, start: i, end: i + v.length });
    i += v.length;
  }
  return out;
}

// render draws pieces of text with findings marked. marks are
// {s, e, sev, n} in string indices. A piece of replaced whitespace is
// marked when the same finding covers the tokens on both sides.
export function render(text, pieces, marks) {
  const frag = document.createDocumentFragment();
  const covering = (a, b) => marks.filter((m) => m.s <= a && m.e >= b && m.e > m.s);
  for (const p of pieces) {
    if (p.ws !== undefined) {
      const ms = p.start > 0 ? marks.filter((m) => m.s < p.start && m.e > p.end) : [];
      frag.append(ms.length ? markEl(ms, p.ws) : p.ws);
      continue;
    }
    const cuts = new Set([p.start, p.end]);
    for (const m of marks) {
      if (m.s > p.start && m.s < p.end) cuts.add(m.s);
      if (m.e > p.start && m.e < p.end) cuts.add(m.e);
    }
    const pts = [...cuts].sort((a, b) => a - b);
    for (let k = 0; k + 1 < pts.length; k++) {
      const a = pts[k], b = pts[k + 1];
      const span = h('span', { class: 't-' + p.type }, text.slice(a, b));
      const ms = covering(a, b);
      frag.append(ms.length ? markEl(ms, span) : span);
    }
  }
  return frag;
}

const SEVERITY = ['none', 'low', 'medium', 'high', 'critical'];

function markEl(ms, child) {
  const worst = ms.reduce((w, m) => (SEVERITY.indexOf(m.sev) > SEVERITY.indexOf(w) ? m.sev : w), 'none');
  return h('mark', {
    class: `finding sev-${worst}`,
    dataset: { findings: ms.map((m) => m.n).join(' ') },
    title: ms.map((m) => `${m.n}. ${m.code}: ${m.message}`).join('\n'),
  }, child);
}

// exactPieces is the text's tokens as they are.
export function exactPieces(tokens) { return tokens; }
