// A fish's family on its card: parents and grandparents from
// GET /api/tanks/{id}/lineage?fish_id=F&depth=2, each with its generation, where and when
// it was born, its algorithm and whether it lives or how it died. An ancestor this tank
// has no record of (born in another tank, here or on another server, before the fish
// swam over) is shown with where to look: the server and tank where its child was born.
// This server's tanks are named (a tank id alone told a watcher nothing).
import { api } from './api.js';
import { el, short } from './dom.js';

const DEPTH = 2;
const words = (s) => String(s).replace(/_/g, ' ');
// Today's times as 14:05, older ones with their day.
function when(t) {
  const d = new Date(t * 1000), hm = d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
  return d.toDateString() === new Date().toDateString() ? hm : d.toLocaleDateString([], { month: 'short', day: 'numeric' }) + ' ' + hm;
}

const tankName = (ctx, id) => (ctx.names.has(id) ? ctx.names.get(id) : `tank ${short(id)}`);

function place(r, ctx) {
  if (!r.born_tank_id && !r.born_server_id) return 'birth unknown';
  if (r.born_tank_id === ctx.tankId) return 'born here';
  if (!r.born_server_id || r.born_server_id === ctx.serverId) return `born in ${tankName(ctx, r.born_tank_id)}`;
  return `born on ${r.born_server_id}, tank ${short(r.born_tank_id)}`;
}

function born(r, ctx) {
  let s = place(r, ctx);
  if (typeof r.born_frame === 'number') s += `, frame ${r.born_frame}`;
  if (typeof r.born_at === 'number') s += ` at ${when(r.born_at)}`;
  return s;
}

function fate(r) {
  if (r.living) return el('span', { class: 'fate alive' }, 'alive');
  if (r.cause) return el('span', { class: 'fate dead', title: `died at frame ${r.died_frame}` }, 'died: ' + words(r.cause));
  return el('span', { class: 'fate gone' }, 'gone elsewhere');
}

function node(role, id, depth, ctx) {
  const r = ctx.records.get(id);
  const attrs = { class: 'node', 'data-role': role, 'data-fish-id': id, 'data-depth': depth };
  if (!r) {
    const m = ctx.missing.get(id) || {};
    const remote = m.child_born_server_id && m.child_born_server_id !== ctx.serverId;
    const local = !remote && m.child_born_tank_id && m.child_born_tank_id !== ctx.tankId;
    const where = remote
      ? `recorded where its child was born: server ${m.child_born_server_id}, tank ${short(m.child_born_tank_id)}`
      : local ? `recorded where its child was born: ${tankName(ctx, m.child_born_tank_id)} on this server`
        : 'no record kept here';
    attrs.class += ' missing';
    return el('li', attrs,
      el('div', { class: 'who' }, el('span', { class: 'role' }, role), el('code', { title: id }, short(id)),
        el('span', { class: 'fate gone' }, 'unknown here')),
      el('div', { class: 'meta' }, where),
      remote || local ? el('div', { class: 'meta hint-cmd' }, el('code', {}, `tankctl lineage ${id}`)) : null);
  }
  const li = el('li', attrs,
    el('div', { class: 'who' }, el('span', { class: 'role' }, role), el('code', { title: id }, short(id)), fate(r)),
    el('div', { class: 'meta', title: 'poker: ' + words(r.poker_strategy || '?') }, `gen ${r.generation} · ${words(r.algorithm || '?')}`),
    el('div', { class: 'meta' }, born(r, ctx)));
  if (depth < DEPTH) li.append(parents(r, depth + 1, ctx) || el('div', { class: 'meta' }, 'spawned: no parents'));
  return li;
}

function parents(r, depth, ctx) {
  const items = [];
  if (r.mother_id) items.push(node('mother', r.mother_id, depth, ctx));
  if (r.father_id) items.push(node('father', r.father_id, depth, ctx));
  return items.length ? el('ul', { class: 'tree' }, ...items) : null;
}

// Returns the section at once and fills it when the answer comes.
export function familyTree(tankId, serverId, fishId) {
  const box = el('section', { class: 'family', id: 'family-tree', 'data-fish-id': fishId },
    el('h4', {}, 'family'), el('p', { class: 'muted' }, 'Loading…'));
  (async () => {
    let r;
    try {
      r = await api(`/api/tanks/${tankId}/lineage?fish_id=${fishId}&depth=${DEPTH}`);
    } catch (err) {
      box.lastChild.textContent = err.status === 404 ? 'No lineage record of this fish here.' : 'Lineage unavailable: ' + err.message;
      return;
    }
    const ctx = { tankId, serverId, records: new Map(), missing: new Map(), names: new Map() };
    try {
      for (const t of (await api('/api/tanks')).tanks) ctx.names.set(t.tank.tank_id, t.tank.name);
    } catch { /* ids then */ }
    for (const x of r.records || []) ctx.records.set(x.fish_id, x);
    for (const m of r.missing || []) ctx.missing.set(m.fish_id, m);
    const me = ctx.records.get(fishId);
    if (!me) { box.lastChild.textContent = 'No lineage record of this fish here.'; return; }
    box.lastChild.replaceWith(el('p', { class: 'meta self' }, born(me, ctx)),
      parents(me, 1, ctx) || el('p', { class: 'muted none' }, 'No parents: spawned into the tank.'));
    box.dataset.loaded = 'true';
  })();
  return box;
}
