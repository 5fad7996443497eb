// The network map (#/network): every server in the registry with its status and tanks,
// the connections between tanks as arrows, and each committed migration drawn as a
// fish swimming along its arrow. The registry comes from the simd that served the
// page (it relays its discoveryd); tanks, connections and transfers come from each
// server's own simd, which answers other origins' read-only GETs (CORS).
import { api } from './api.js';
import { el as h, svgEl as svg } from './dom.js';

const W = 1000, H = 620;

// A tank's name as it fits a width (about 7 px a character at the map's 12 px), cut
// with an ellipsis; the whole name is in the circle's tooltip.
function fitName(name, width) {
  const max = Math.max(4, Math.floor((width - 6) / 7));
  return name.length > max ? name.slice(0, max - 1) + '…' : name;
}

const tankTip = (t, serverId) =>
  `${t.name} on ${serverId}: ${t.stats.fish_count.toLocaleString('en-US')} fish, generation ${t.stats.generation}`;

// A tank's fish count inside its circle (about 6 px a character): "2,000 fish" was wider
// than a small tank; then "2,000", then "2k".
function fitCount(n, r) {
  const full = `${n.toLocaleString('en-US')} fish`, room = (2 * r - 4) / 6;
  if (full.length <= room) return full;
  const bare = n.toLocaleString('en-US');
  return bare.length <= room ? bare : n >= 1000 ? `${Math.round(n / 1000)}k` : String(n);
}

// The bend of an arrow from (sx,sy) to (ex,ey) that passes no other tank and no server's
// name or meta line (labels, as rectangles): the preferred one if it is clear, else a
// deeper one on the same side, else on the other side; only bends `allowed` takes (the
// side an arrow between the same tanks has not taken). An arrow drawn across a tank
// looked like two connections through it.
// The control point of the quadratic arrow from (sx,sy) to (ex,ey), bent sideways by
// `bend` along the normal (ux,uy) of its direction.
function control(sx, sy, ex, ey, ux, uy, bend) {
  return [(sx + ex) / 2 - uy * bend, (sy + ey) / 2 + ux * bend];
}

function clearBend(sx, sy, ex, ey, ux, uy, bend0, others, labels, allowed = () => true) {
  // Sample points close enough (about 10 px apart) that no circle slips between them; a
  // tank crossed counts more than a label.
  const steps = Math.max(24, Math.ceil(Math.hypot(ex - sx, ey - sy) / 10));
  const cost = (bend) => {
    const [mx, my] = control(sx, sy, ex, ey, ux, uy, bend);
    let c = 0;
    for (let i = 1; i < steps; i++) {
      const t = i / steps, u = 1 - t;
      const x = u * u * sx + 2 * u * t * mx + t * t * ex, y = u * u * sy + 2 * u * t * my + t * t * ey;
      if (others.some((p) => Math.hypot(p.x - x, p.y - y) < p.r + 6)) c += 4;
      if (labels.some((r) => x > r.x0 && x < r.x1 && y > r.y0 && y < r.y1)) c += 1;
    }
    return c;
  };
  // The first clear one; if none is, the one that crosses least.
  let best = bend0, least = Infinity;
  for (const f of [1, 2, 3, -1, -2, -3]) {
    if (!allowed(bend0 * f)) continue;
    const c = cost(bend0 * f);
    if (c === 0) return bend0 * f;
    if (c < least) [best, least] = [bend0 * f, c];
  }
  return best;
}

// Every server is asked on its own, with a deadline: one that hangs (a stopped simd
// whose discoveryd still heartbeats) or answers nonsense is drawn as unreachable, and
// the rest of the map goes on.
const PEER_TIMEOUT_MS = 4000;
const STRUCTURE_MS = 5000; // how often the registry, tanks and connections are read again
const SEEN_MAX = 2000; // transfer ids remembered, so that none is shown twice
const isStr = (x) => typeof x === 'string';
const goodTank = (x) => x && x.tank && isStr(x.tank.tank_id) && isStr(x.tank.name) && x.stats &&
  Number.isFinite(x.stats.fish_count);
const goodConn = (c) => c && isStr(c.id) && isStr(c.sourceId) && isStr(c.destinationId);
const goodTransfer = (t) => t && ['transfer_id', 'timestamp', 'state', 'entity_old_id', 'source_server_id',
  'source_tank_id', 'destination_server_id', 'destination_tank_id'].every((k) => isStr(t[k]));

function serverBase(s) {
  return s.is_local ? '' : `http://${s.host}:${s.port}`;
}
function viewerUrl(s, hash) {
  return `http://${s.host}:${s.port}/${hash}`;
}

export function networkView(root) {
  const map = svg('svg', { id: 'network-map', viewBox: `0 0 ${W} ${H}`, role: 'img',
                           'aria-label': 'The network of servers, tanks and connections' });
  const counter = h('span', { id: 'migrations-seen', 'data-count': '0' }, '0');
  const recent = h('ol', { class: 'recent' });
  const legend = h('div', { class: 'legend' },
    h('span', { class: 'online' }, 'online'), h('span', { class: 'degraded' }, 'degraded'),
    h('span', { class: 'offline' }, 'offline'), h('span', { class: 'local-arrow' }, 'local connection'),
    h('span', { class: 'remote-arrow' }, 'remote connection'),
    h('span', { class: 'held-arrow' }, 'held: refused, broken or unreachable'));
  root.replaceChildren(h('section', { class: 'network-view' },
    h('header', { class: 'list-head' }, h('h2', {}, 'Network'), legend),
    h('div', { class: 'network-stage' }, map,
      h('aside', { class: 'side' }, h('h3', {}, 'Migrations seen: ', counter),
        h('p', { class: 'muted recent-note' }, 'The latest 12, newest first:'), recent))));

  map.append(svg('defs', {},
    svg('marker', { id: 'arrow', viewBox: '0 0 10 10', refX: '9', refY: '5', markerWidth: '7', markerHeight: '7', orient: 'auto-start-reverse' },
      svg('path', { d: 'M0,0 L10,5 L0,10 z', fill: '#9fd3ff' })),
    svg('marker', { id: 'arrow-local', viewBox: '0 0 10 10', refX: '9', refY: '5', markerWidth: '7', markerHeight: '7', orient: 'auto-start-reverse' },
      svg('path', { d: 'M0,0 L10,5 L0,10 z', fill: '#ffd27a' })),
    svg('marker', { id: 'arrow-held', viewBox: '0 0 10 10', refX: '9', refY: '5', markerWidth: '7', markerHeight: '7', orient: 'auto-start-reverse' },
      svg('path', { d: 'M0,0 L10,5 L0,10 z', fill: '#8a94a3' }))));
  // Tanks sit above the arrows: an arrow that passes another tank goes behind its circle
  // instead of across its name.
  const gServers = svg('g'), gArrows = svg('g'), gTanks = svg('g'), gFish = svg('g');
  map.append(gServers, gArrows, gTanks, gFish);

  let closed = false;
  let servers = [], tanks = new Map(), conns = [];
  const tankPos = new Map(); // tank id -> {x, y, r}
  const arrows = []; // {path, conn}
  const seen = new Set();
  // A tank's name as the map knows it (its id's first 8 characters otherwise), with its
  // server when that is another.
  const tankName = (id, server) => {
    for (const ts of tanks.values()) for (const x of ts || []) if (x.tank_id === id) return x.name;
    return (server ? server + '/' : '') + String(id).slice(0, 8);
  };
  let firstPoll = true, count = 0;

  async function loadStructure() {
    let reg;
    try {
      reg = await api('/api/discovery/servers');
    } catch (err) {
      // Nothing drawn before is known now: tanks and arrows left without their servers
      // looked like a network still running.
      gServers.replaceChildren(svg('text', { x: 20, y: 40, class: 'error' }, 'Cannot read the registry: ' + err.message));
      gArrows.replaceChildren();
      gTanks.replaceChildren();
      tankPos.clear();
      arrows.length = 0;
      lastSig = '';
      servers = []; // nor are its migrations: the panel went on counting them
      return;
    }
    servers = reg.servers.slice().sort((a, b) => (b.is_local - a.is_local) || a.server_id.localeCompare(b.server_id));
    tanks = new Map();
    conns = [];
    await Promise.all(servers.map(async (s) => {
      if (s.status === 'offline') { tanks.set(s.server_id, null); return; }
      try {
        const [t, c] = await Promise.all([
          api('/api/tanks', { base: serverBase(s), timeout: PEER_TIMEOUT_MS }),
          api('/api/connections', { base: serverBase(s), timeout: PEER_TIMEOUT_MS }),
        ]);
        tanks.set(s.server_id, t.tanks.filter(goodTank).map((x) => ({ ...x.tank, stats: x.stats, paused: x.paused })));
        conns.push(...c.connections.filter(goodConn));
      } catch {
        tanks.set(s.server_id, null);
      }
    }));
    const sig = JSON.stringify([servers.map((s) => [s.server_id, s.status]),
      [...tanks].map(([k, v]) => [k, v && v.map((t) => t.tank_id + t.name)]),
      conns.map((c) => c.sourceServerId + '/' + c.id).sort()]); // the answers come in any order
    if (sig !== lastSig) {
      lastSig = sig;
      layout();
    } else {
      // The counts as they are now: the tooltips lagged the circles.
      for (const [sid, ts] of tanks)
        for (const t of ts || []) {
          const e = gTanks.querySelector(`[data-tank-id="${t.tank_id}"] .map-tank-meta`);
          if (e) e.textContent = fitCount(t.stats.fish_count, +e.closest('a').querySelector('circle').getAttribute('r'));
          const tip = gTanks.querySelector(`[data-tank-id="${t.tank_id}"] title`);
          if (tip) tip.textContent = tankTip(t, sid);
        }
      for (const a of arrows) {
        const c = conns.find((x) => x.id === a.conn.id && x.sourceServerId === a.conn.sourceServerId);
        if (c) connectionState(a.path, c);
      }
    }
  }

  // migrated's runtime state of a connection (ok, backing_off after refusals, broken,
  // unreachable): one that lets no fish through is drawn faint, and its tooltip says why.
  function connectionState(path, c) {
    const state = c.state || 'ok';
    path.classList.toggle('held', state !== 'ok');
    const local = path.classList.contains('local');
    path.setAttribute('marker-end', `url(#${state !== 'ok' ? 'arrow-held' : local ? 'arrow-local' : 'arrow'})`);
    path.dataset.state = state;
    const why = state === 'ok' ? '' : ` \u2014 ${state.replace('_', ' ')}${c.reason ? ': ' + c.reason : ''}`;
    path.querySelector('title').textContent =
      `${tankName(c.sourceId)} \u2192 ${tankName(c.destinationId, c.destinationServerId)}: ${c.probability}% ${c.direction}${why}`;
  }

  let lastSig = '';
  function layout() {
    gServers.replaceChildren();
    gArrows.replaceChildren();
    gTanks.replaceChildren();
    tankPos.clear();
    arrows.length = 0;
    const labels = [];
    const serverPos = new Map(); // server id -> where arrows to its unknown tanks end
    const n = servers.length;
    const bw = n <= 2 ? 380 : n <= 4 ? 270 : 200, bh = n <= 2 ? 260 : 190;
    servers.forEach((s, i) => {
      // Around an ellipse, the local server on the left.
      const a = Math.PI + (i * 2 * Math.PI) / Math.max(n, 1);
      const cx = n === 1 ? W / 2 : W / 2 + Math.cos(a) * (W / 2 - bw / 2 - 30);
      const cy = n <= 2 ? H / 2 : H / 2 + Math.sin(a) * (H / 2 - bh / 2 - 20);
      const ts = tanks.get(s.server_id);
      // A server that does not answer is drawn so (dashed, grey), whatever the registry
      // says of its heartbeats: its box stayed solid "online" beside the word.
      const lost = !ts && s.status !== 'offline';
      const g = svg('a', { href: viewerUrl(s, '#/network'), class: `server ${s.status}${lost ? ' unreachable' : ''}`, 'data-server-id': s.server_id });
      g.append(svg('rect', { x: cx - bw / 2, y: cy - bh / 2, width: bw, height: bh, rx: 18 }));
      g.append(svg('text', { x: cx - bw / 2 + 16, y: cy - bh / 2 + 28, class: 'server-name' }, s.server_id));
      const meta = `${lost ? 'not answering' : s.status} · ${s.host}:${s.port}${s.is_local ? ' · this server' : ''}`;
      g.append(svg('text', { x: cx - bw / 2 + 16, y: cy - bh / 2 + 48, class: 'server-meta' }, meta));
      // The server's name and meta line: arrows keep off them as they keep off tanks
      // (about 6.5 px a character of the meta line's font).
      labels.push({ x0: cx - bw / 2 + 8, x1: cx - bw / 2 + 24 + Math.max(s.server_id.length * 11, meta.length * 6.5),
                    y0: cy - bh / 2 + 8, y1: cy - bh / 2 + 56 });
      gServers.append(g);
      if (!ts) {
        gServers.append(svg('text', { x: cx, y: cy + 20, class: 'server-meta', 'text-anchor': 'middle' },
          s.status === 'offline' ? 'offline' : 'unreachable'));
        serverPos.set(s.server_id, { x: cx, y: cy + 16, r: 34 });
        return;
      }
      const m = ts.length;
      const cols = Math.min(m, 3), rows = Math.ceil(m / 3) || 1;
      let r = Math.min(36, (bw - 30) / (cols * 3.4), (bh - 80) / (rows * 2.6));
      // Names that go under their circles (below) need a line between the rows.
      const under = ts.some((t) => fitName(t.name, 2 * r) !== t.name) ? 16 : 0;
      if (under) r = Math.min(r, (bh - 80 - rows * under) / (rows * 2.6));
      // Tanks of a row spread across the box (up to 5 radii apart): the arrows of a
      // local pair then have room for their arcs and for the fish crossing them.
      // With names under the circles, as far apart as the box allows (half a name's
      // room, 50 px, kept at each side): the names need it.
      const spread = under ? (bw - 100) / (cols - 1) : (bw - 40 - 2 * r) / (cols - 1);
      const dx = cols > 1 ? Math.max(r * 3.4, under ? spread : Math.min(r * 5, spread)) : 0;
      ts.forEach((t, j) => {
        const col = j % 3, row = Math.floor(j / 3);
        const inRow = Math.min(3, m - row * 3);
        const x = cx + (col - (inRow - 1) / 2) * dx;
        const y = cy + 18 - under / 2 + (row - (rows - 1) / 2) * (r * 2.6 + under);
        tankPos.set(t.tank_id, { x, y, r });
        const ta = svg('a', { href: viewerUrl(s, `#/tanks/${t.tank_id}`), class: 'tank', 'data-tank-id': t.tank_id });
        ta.append(svg('circle', { cx: x, cy: y, r }));
        // A name too long for the circle goes under it, where it has the room between
        // its neighbours: three tanks on a server made "Tank 1" "Tank…" (a new user's
        // audit). Arrows keep off it as off the servers' names.
        if (!under || fitName(t.name, 2 * r) === t.name) {
          ta.append(svg('text', { x, y: y - 2, 'text-anchor': 'middle', class: 'map-tank-name' }, t.name));
          ta.append(svg('text', { x, y: y + 13, 'text-anchor': 'middle', class: 'map-tank-meta' }, fitCount(t.stats.fish_count, r)));
        } else {
          const name = fitName(t.name, cols > 1 ? dx - 8 : bw - 40);
          ta.append(svg('text', { x, y: y + r + 14, 'text-anchor': 'middle', class: 'map-tank-name below' }, name));
          ta.append(svg('text', { x, y: y + 4, 'text-anchor': 'middle', class: 'map-tank-meta' }, fitCount(t.stats.fish_count, r)));
          labels.push({ x0: x - name.length * 3.5 - 2, x1: x + name.length * 3.5 + 2, y0: y + r + 2, y1: y + r + 18 });
        }
        ta.append(svg('title', {}, tankTip(t, s.server_id)));
        gTanks.append(ta);
      });
    });
    const pairCount = new Map(), pairSide = new Map();
    for (const c of conns) {
      // A tank on a server that cannot be read (offline, unreachable): the arrow ends at
      // that server, drawn as its connection's state says (held, with the reason).
      const a = tankPos.get(c.sourceId), b = tankPos.get(c.destinationId) || serverPos.get(c.destinationServerId);
      if (!a || !b) continue;
      const local = !c.destinationServerId || c.destinationServerId === c.sourceServerId;
      // Two arrows between the same tanks bend to opposite sides.
      const pk = [c.sourceId, c.destinationId].sort().join('|');
      const k = pairCount.get(pk) || 0;
      pairCount.set(pk, k + 1);
      const dx = b.x - a.x, dy = b.y - a.y, d = Math.hypot(dx, dy) || 1;
      const ux = dx / d, uy = dy / d;
      const sx = a.x + ux * a.r, sy = a.y + uy * a.r, ex = b.x - ux * (b.r + 4), ey = b.y - uy * (b.r + 4);
      const bend0 = (local ? 0.35 : 0.18) * d * (k % 2 ? -1 : 1) * (c.sourceId < c.destinationId ? 1 : -1);
      const others = [...tankPos.values()].filter((p) => p !== a && p !== b);
      // Which side of the line between the pair (taken in the pair's own order) a bend
      // puts the arrow on: the second arrow of a pair takes the side the first left, or
      // both could flee the same tank to one side and be drawn as one.
      const [p0, p1] = c.sourceId < c.destinationId ? [a, b] : [b, a];
      const side = (bend) => {
        const [mx, my] = control(sx, sy, ex, ey, ux, uy, bend);
        return Math.sign((p1.x - p0.x) * (my - p0.y) - (p1.y - p0.y) * (mx - p0.x));
      };
      const taken = k % 2 ? pairSide.get(pk) : undefined;
      const bend = clearBend(sx, sy, ex, ey, ux, uy, bend0, others, labels, (x) => side(x) !== taken);
      if (k % 2 === 0) pairSide.set(pk, side(bend));
      const [mx, my] = control(sx, sy, ex, ey, ux, uy, bend);
      const path = svg('path', {
        d: `M${sx},${sy} Q${mx},${my} ${ex},${ey}`,
        class: `connection ${local ? 'local' : 'remote'}`,
        'data-connection-id': c.id, 'data-source': c.sourceId, 'data-destination': c.destinationId,
      });
      path.append(svg('title', {}));
      connectionState(path, c);
      gArrows.append(path);
      arrows.push({ path, conn: c });
    }
    map.dataset.connections = arrows.length;
  }

  function swim(t) {
    const a = arrows.find((x) => x.conn.id === t.connection_id) ||
              arrows.find((x) => x.conn.sourceId === t.source_tank_id && x.conn.destinationId === t.destination_tank_id);
    if (!a) return false;
    const fish = svg('g', { class: 'migrating-fish', 'data-fish-id': t.entity_old_id },
      svg('ellipse', { rx: 9, ry: 5, fill: '#ff9f43', stroke: '#7a3d00', 'stroke-width': 1 }),
      svg('path', { d: 'M-8,0 L-15,-5 L-15,5 z', fill: '#ffbe76' }),
      svg('circle', { cx: 4, cy: -1.5, r: 1.4, fill: '#111' }));
    gFish.append(fish);
    const len = a.path.getTotalLength();
    const start = performance.now(), dur = 1800;
    const step = (now) => {
      const p = Math.min(1, (now - start) / dur);
      const q = a.path.getPointAtLength(len * p), q2 = a.path.getPointAtLength(Math.min(len, len * p + 1));
      const ang = (Math.atan2(q2.y - q.y, q2.x - q.x) * 180) / Math.PI;
      fish.setAttribute('transform', `translate(${q.x},${q.y}) rotate(${ang})`);
      if (p < 1 && !closed) requestAnimationFrame(step);
      else setTimeout(() => fish.remove(), 300);
    };
    requestAnimationFrame(step);
    return true;
  }

  // A server whose transfers do not come within the time-out is drawn unreachable at
  // once, not at the next structure pass (12-15 s with a hung server).
  async function pollTransfers() {
    const asked = servers.filter((s) => s.status !== 'offline');
    const lists = await Promise.all(asked.map((s) =>
      api('/api/transfers?limit=50', { base: serverBase(s), timeout: PEER_TIMEOUT_MS })
        .then((r) => r.transfers.filter(goodTransfer)).catch((err) => {
          if (err.status === 0 && tanks.get(s.server_id)) {
            tanks.set(s.server_id, null);
            lastSig = '';
            layout();
          }
          return [];
        })));
    const fresh = [];
    for (const t of lists.flat()) {
      if (t.state !== 'committed' || seen.has(t.transfer_id)) continue;
      seen.add(t.transfer_id);
      if (!firstPoll) fresh.push(t);
    }
    // Only the newest transfers are asked for: the ids seen long ago can go (the set
    // grew for as long as the map was open).
    if (seen.size > SEEN_MAX) for (const id of [...seen].slice(0, seen.size - SEEN_MAX / 2)) seen.delete(id);
    firstPoll = false;
    fresh.sort((a, b) => a.timestamp.localeCompare(b.timestamp));
    fresh.forEach((t, i) => setTimeout(() => { if (!closed) swim(t); }, i * 250));
    for (const t of fresh) {
      count++;
      // Each name isolated (<bdi>): a name saved before bidi controls were refused
      // cannot reorder the arrow and the other name around it.
      recent.prepend(h('li', {}, h('code', {}, t.entity_old_id.slice(0, 8)), ' ',
        h('bdi', {}, `${t.source_server_id}/${tankName(t.source_tank_id)}`), ' → ',
        h('bdi', {}, `${t.destination_server_id}/${tankName(t.destination_tank_id)}`)));
      while (recent.children.length > 12) recent.lastChild.remove();
    }
    counter.textContent = count;
    counter.dataset.count = count;
  }

  (async function loop() {
    let last = 0;
    while (!closed) {
      // Whatever one answer did, the map keeps going: an error ended it for good. The
      // structure every STRUCTURE_MS of the clock, not every fifth pass: a pass waits
      // for the slowest server, and with a hung one the structure came every 25 s.
      if (Date.now() - last >= STRUCTURE_MS) {
        last = Date.now();
        try { await loadStructure(); } catch (err) {
          const e = svg('text', { x: 20, y: H - 20, class: 'error', id: 'map-error' }, 'Map not updated: ' + err.message);
          map.querySelector('#map-error')?.remove();
          gServers.append(e);
        }
      }
      try { await pollTransfers(); } catch { /* next time */ }
      await new Promise((r) => setTimeout(r, 1000));
    }
  })();
  return () => { closed = true; };
}
