// The tank view (#/tanks/{id}): the live stream drawn on a canvas, a header with the
// tank's figures, a fish card on click, and the controls.
import { api, openEvents, toast, token } from './api.js';
import {
  Backdrop, FishSprites, PlantSprites, daylight, drawCastle, drawCrab, drawFish, drawFishDot,
  drawFood, drawNightTint, drawPlant, drawSelection,
} from './draw.js';
import { el, short } from './dom.js';
import { familyTree } from './family.js';
import { historyPanel } from './plots.js';

// The time a draw may spend painting sprites, fish and plants (ms). A sprite takes 1-4 ms
// in a software-rendered browser, so the first draw of a tank opened with thousands of
// fish froze the page for seconds (4.7 s for 1,338 fish in headless Chromium); now the
// fish wait for their sprites a few draws, drawn meanwhile as dots in their colour.
const SPRITE_BUDGET_MS = 8;
// The zoom steps of the tank view (1: the whole world).
const ZOOMS = [1, 1.5, 2, 3, 4, 6, 8, 12, 16];

const fmt = (n, d = 0) => (typeof n === 'number' ? n.toFixed(d) : '–');
// A count as people read one: 12,489.
const count = (n) => (typeof n === 'number' ? n.toLocaleString('en-US') : '–');

// The world of a tank that holds `fish` at the original's density (100 fish in
// 1088 × 612 px): its food, plants and crabs grow with it (simd), so a big tank stays alive.
// simd warns when a world smaller than this is asked to hold many more fish.
export function worldFor(fish) {
  const k = Math.sqrt(Math.max(fish, 100) / 100);
  return { width: Math.round(1088 * k), height: Math.round(612 * k) };
}

export function createTankDialog(onCreated) {
  const dlg = document.getElementById('create-dialog');
  const form = dlg.querySelector('form');
  form.reset();
  const hint = form.querySelector('.size-hint');
  // Standard leaves the world and max_fish to the server's configuration (the original's
  // tank unless its operator changed it); a larger size asks for a world scaled to it.
  const sized = () => {
    const max = parseInt(form.elements.size.value, 10) || 0, w = worldFor(max);
    form.elements.fish.max = String(max || 100);
    form.elements.fish.value = String(max ? max / 10 : 10);
    hint.textContent = max ? `A world of ${w.width.toLocaleString('en')} × ${w.height.toLocaleString('en')} px, ` +
      'with food, plants and crabs for that many fish.' : '';
  };
  form.elements.size.onchange = sized;
  sized();
  form.onsubmit = async (e) => {
    e.preventDefault();
    const name = form.elements.name.value.trim();
    const fish = parseInt(form.elements.fish.value, 10);
    const max = parseInt(form.elements.size.value, 10) || 0;
    try {
      const body = max ? { name, max_fish: max, ...worldFor(max) } : { name };
      if (fish >= 0) body.initial_fish = max ? Math.min(fish, max) : fish;
      const r = await api('/api/tanks', { method: 'POST', body });
      dlg.close();
      toast(`Tank “${r.tank.name}” created`);
      for (const w of r.warnings || []) toast(w, 'error');
      onCreated(r.tank.tank_id);
    } catch (err) {
      toast('Cannot create the tank: ' + err.message, 'error');
    }
  };
  dlg.querySelector('.cancel').onclick = () => dlg.close();
  dlg.showModal();
}

export function tankView(root, tankId) {
  const canvas = el('canvas', { id: 'tank-canvas', tabindex: '0', 'data-fish-count': '0', 'data-frame': '0',
                                'aria-label': 'The tank, live' });
  const head = {
    name: el('h2', { class: 'tank-name' }, 'Tank'),
    server: el('span', { class: 'pill server', hidden: '' }, ''),
    state: el('span', { class: 'pill state' }, 'connecting'),
  };
  const stat = {};
  const stats = el('dl', { class: 'stats' });
  for (const [k, label] of [['frame', 'frame'], ['fish', 'fish'], ['generation', 'generation'],
                            ['births', 'births'], ['deaths', 'deaths'], ['food', 'food'],
                            ['plants', 'plants']]) {
    stat[k] = el('dd', { id: 'stat-' + k }, '–');
    stats.append(el('div', {}, el('dt', {}, label), stat[k]));
  }
  const card = el('aside', { class: 'fish-card', id: 'fish-card', hidden: '' });
  const btnPause = el('button', { id: 'btn-pause', type: 'button' }, 'Pause');
  const btnFood = el('button', { id: 'btn-food', type: 'button' }, 'Add food');
  const btnFish = el('button', { id: 'btn-fish', type: 'button' }, 'Spawn fish');
  const btnNew = el('button', { id: 'btn-new-tank', type: 'button', class: 'secondary' }, 'New tank');
  const controls = el('div', { class: 'controls' }, btnPause, btnFood, btnFish, btnNew,
                      el('a', { href: '#/network', class: 'button secondary' }, 'Network map'));
  const stage = el('div', { class: 'stage' }, canvas, card);
  const plots = historyPanel(tankId);
  root.replaceChildren(el('section', { class: 'tank-view' },
    el('header', { class: 'tank-head' }, el('div', { class: 'title' }, head.name, head.server, head.state), stats),
    stage, controls,
    el('p', { class: 'hint' }, 'Click a fish to see its card. Colours, shapes and patterns come from each fish’s genome, so lineages look alike. Scroll, pinch (or + and −) to zoom, drag (or the arrows) to move, double-click (or 0) to see the whole tank.')),
    plots.el);

  let meta = null, paused = false, closed = false;
  const looks = new Map();
  let cur = null, prev = null, tCur = 0, tPrev = 0;
  let selected = null; // fish id
  const fishSprites = new FishSprites(), plantSprites = new PlantSprites();
  const backdrop = new Backdrop();
  const drawTimes = [];
  let lastPos = []; // [key, x, y] of the fish in view drawn last, for clicks and keys
  // The view: zoom z (1: the whole world) around the world point (cx, cy). A wheel notch
  // moves one step of ZOOMS, around the pointer; a drag moves the view; a double click
  // shows the whole world again. A big tank's fish are dots at z = 1 and sprites close up.
  const view = { z: 1, cx: 0, cy: 0, drag: null };

  async function loadMeta() {
    try {
      meta = await api(`/api/tanks/${tankId}`);
      head.name.textContent = meta.tank.name;
      head.server.textContent = 'server ' + meta.tank.server_id;
      head.server.hidden = false;
      document.title = `${meta.tank.name} · tankworld`;
      learnPaused(meta);
    } catch (err) {
      head.name.textContent = err.status === 401 ? 'A private tank' : 'Unknown tank';
      head.state.textContent = err.status === 404 ? 'not found' : err.status === 401 ? 'needs the token' : 'unreachable';
      head.state.className = 'pill state bad';
    }
  }

  // Paused or not: said by each frame, by this page's own pause and resume, and by the
  // tank when the stream goes quiet. A frame made before this page's pause can arrive
  // after its answer; it would say live again, and a paused tank sends no frame to
  // correct it (the pill said live, and the button paused it again). So the frames
  // say it only after the frame (stateFrame) at which the state was last learnt.
  let stateFrame = -1;
  function learnPaused(r) {
    stateFrame = r.frame;
    setPaused(r.paused);
  }
  function setPaused(p) {
    paused = p;
    btnPause.textContent = p ? 'Resume' : 'Pause';
    btnPause.dataset.paused = p ? 'true' : 'false';
    head.state.textContent = p ? 'paused' : 'live';
    head.state.className = 'pill state ' + (p ? 'paused' : 'live');
  }

  // The stream. After a break (simd restarted, the connection dropped, or the server
  // went silent: openEvents) the new stream numbers its entities afresh and sends every
  // looks again in its first event: what was kept by key (looks, sprites) is dropped, or
  // fish would wear other fish's looks. Each break asks for the tank: one gone says so
  // and the page stops asking, one that needs the token says that; otherwise the stream
  // is opened again a few seconds later.
  let es = null, broken = false;
  function openStream() {
    es = openEvents(`/api/tanks/${tankId}/stream?fps=15`, {
      onOpen: () => {
        if (!broken) return;
        canvas.dataset.streamResets = +(canvas.dataset.streamResets || 0) + 1;
        looks.clear();
        fishSprites.reset();
        plantSprites.forget(new Set());
        cur = prev = null;
      },
      onEvent: onFrame,
      onEnd: onStreamEnd,
    });
  }
  function onStreamEnd() {
    if (closed) return;
    broken = true;
    head.state.textContent = 'reconnecting';
    head.state.className = 'pill state bad';
    api(`/api/tanks/${tankId}`, { timeout: 4000 }).then(() => 0, (err) => err.status).then((status) => {
      if (closed) return;
      if (status === 404) {
        gone(meta ? 'deleted' : 'not found');
      } else if (status === 401) {
        head.state.textContent = 'needs the token';
        canvas.dataset.needsToken = 'true';
      } else {
        setTimeout(() => { if (!closed) openStream(); }, 3000);
      }
    });
  }
  // A tank paused elsewhere (tankctl, another page) sends no more frames: a stream quiet
  // for QUIET_MS asks the tank whether it is paused.
  const QUIET_MS = 2000;
  const quietTimer = setInterval(async () => {
    if (closed || broken || paused || !cur || performance.now() - tCur < QUIET_MS) return;
    try {
      const r = await api(`/api/tanks/${tankId}`, { timeout: 4000 });
      if (!closed && r.frame >= cur.frame) learnPaused(r);
    } catch { /* the stream's end says what went wrong */ }
  }, QUIET_MS);
  // A tank that is not there (deleted while watched, or never was): nothing more to ask,
  // nothing to do with it.
  function gone(why) {
    head.state.textContent = why;
    head.state.className = 'pill state bad';
    canvas.dataset.gone = 'true';
    clearInterval(quietTimer);
    plots.close();
    hideCard();
    for (const b of [btnPause, btnFood, btnFish]) b.disabled = true;
  }
  function onFrame(data) {
    const f = JSON.parse(data);
    if (f.looks) for (const l of f.looks) looks.set(l.k, l);
    prev = cur;
    tPrev = tCur;
    cur = f;
    tCur = performance.now();
    cur.fishMap = new Map();
    for (const fi of f.fish) cur.fishMap.set(fi[0], fi);
    if (broken) stateFrame = -1; // a restored tank may count from an older frame
    if ((f.paused !== paused && f.frame > stateFrame) || broken) setPaused(f.paused);
    broken = false;
    const s = f.stats;
    stat.frame.textContent = f.frame;
    stat.fish.textContent = count(s.fish_count);
    stat.generation.textContent = s.generation; // the living fish's highest, as tankctl's GEN
    stat.births.textContent = count(s.births);
    stat.deaths.textContent = count(s.deaths);
    stat.food.textContent = count(s.food_count);
    stat.plants.textContent = count(s.plant_count);
    canvas.dataset.frame = f.frame;
    if (looks.size > f.fish.length + f.plants.length + 500) {
      const live = new Set([...f.fish.map((x) => x[0]), ...f.plants.map((x) => x[0])]);
      for (const k of looks.keys()) if (!live.has(k)) looks.delete(k);
      fishSprites.forget(live);
      plantSprites.forget(live);
    }
  }
  openStream();

  function draw(now) {
    if (closed) return;
    requestAnimationFrame(draw);
    if (!cur) return;
    const t0 = performance.now();
    const W = cur.width, H = cur.height;
    const cssW = stage.clientWidth || 800;
    const dpr = window.devicePixelRatio || 1;
    const pw = Math.round(cssW * dpr), ph = Math.round((cssW * H / W) * dpr);
    if (canvas.width !== pw || canvas.height !== ph) {
      canvas.width = pw;
      canvas.height = ph;
      canvas.style.height = (cssW * H / W) + 'px';
    }
    const ctx = canvas.getContext('2d', { alpha: false });
    const fit = pw / W;
    view.z = Math.min(view.z, maxZoom(fit));
    const s = fit * view.z, org = viewOrigin(W, H);
    ctx.baseScale = s;
    ctx.baseX = -org.x * s;
    ctx.baseY = -org.y * s;
    canvas.dataset.zoom = view.z;
    canvas.style.touchAction = view.z > 1 ? 'none' : '';
    canvas.dataset.viewX = Math.round(org.x);
    canvas.dataset.viewY = Math.round(org.y);
    fishSprites.setScale(s);
    plantSprites.setScale(s);
    const time = now / 1000;
    const light = daylight(cur.day_time);
    backdrop.draw(ctx, W, H, light, time, view.z);
    canvas.dataset.backdropZoom = backdrop.zoom;
    drawCastle(ctx, cur.castle, light, time);
    // Sprites are painted for SPRITE_BUDGET_MS a draw (at least one), plants first: a
    // plant waiting for its sprite shows its older one, or comes a few draws later. The
    // budget counts painting only: with 20,000 fish the rest of a draw takes 100 ms in
    // headless Chromium, and a budget from the draw's start left one sprite a draw.
    let made = 0, spent = 0;
    const mayPaint = () => made === 0 || spent < SPRITE_BUDGET_MS;
    const paint = (make) => {
      const p0 = performance.now();
      const sp = make();
      made++;
      spent += performance.now() - p0;
      return sp;
    };
    // What is out of view is not drawn, and gets no sprite until it comes into view
    // (margins: a plant grows up to 150 px above its root, a fish is up to 60 px long,
    // food is a few px across).
    const x0 = org.x, x1v = org.x + W / view.z, y0 = org.y, y1v = org.y + H / view.z;
    const inView = (x, y, m) => x > x0 - m && x < x1v + m && y > y0 - m && y < y1v + m;
    for (const [k, growth] of cur.plants) {
      const l = looks.get(k);
      if (!l || !inView(l.x, l.y, 200)) continue;
      const sp = plantSprites.fresh(k, growth) || !mayPaint()
        ? plantSprites.peek(k) : paint(() => plantSprites.get(k, l, growth));
      if (sp) drawPlant(ctx, sp, l.x, l.y, time, k);
    }
    canvas.dataset.food = cur.food.length;
    canvas.dataset.foodDrawn = drawFood(ctx, cur.food, cur.food_types, time, inView);
    // A crab reaches about 35 px from its centre with its claws.
    for (const [x, y, vx, e] of cur.crabs) if (inView(x, y, 40)) drawCrab(ctx, x, y, vx, e, time);
    // Fish, moved smoothly from the previous frame to this one.
    const span = Math.min(250, Math.max(30, tCur - tPrev));
    const a = Math.min(1, (now - tCur) / span);
    let n = 0;
    const pos = [];
    let sel = null;
    // The fish's sprites before any fish is drawn (an atlas drawn from in this frame
    // must not be written to), with what is left of the budget.
    const tiny = fishSprites.tiny;
    let pending = 0;
    if (!tiny) {
      for (const fi of cur.fish) {
        if (fishSprites.peek(fi[0]) || !inView(fi[1], fi[2], 60)) continue;
        const l = looks.get(fi[0]);
        if (!l) continue;
        if (!mayPaint()) {
          pending++;
          continue;
        }
        paint(() => fishSprites.get(fi[0], l));
      }
    }
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    for (const fi of cur.fish) {
      const [k, x1, y1, vx, vy, size] = fi;
      const l = looks.get(k);
      if (!l) continue;
      const p = prev && prev.fishMap.get(k);
      let x = x1, y = y1;
      if (p && Math.abs(p[1] - x1) < 60 && Math.abs(p[2] - y1) < 60) {
        x = p[1] + (x1 - p[1]) * a;
        y = p[2] + (y1 - p[2]) * a;
      }
      n++;
      if (!inView(x, y, 60)) continue;
      pos.push([k, x, y]); // what a click or a key may pick: the fish in view
      const sp = fishSprites.peek(k);
      const grow = size / (l.size_modifier || 1);
      if (sp) drawFish(ctx, sp, x, y, vx, grow, time, k);
      else drawFishDot(ctx, l, x, y, vx, grow);
      if (l.id === selected) sel = [l, x, y, grow];
    }
    lastPos = pos;
    if (sel) drawSelection(ctx, ...sel);
    drawNightTint(ctx, pw, ph, light);
    canvas.dataset.fishCount = n;
    canvas.dataset.spritesPending = pending; // fish drawn as dots until theirs is made
    canvas.dataset.sprites = fishSprites.cache.size;
    if (!canvas.dataset.firstDrawMs) {
      canvas.dataset.firstDrawMs = (performance.now() - t0).toFixed(2);
      canvas.dataset.firstDrawPending = pending;
    }
    drawTimes.push(performance.now() - t0);
    if (drawTimes.length > 60) drawTimes.shift();
    // The median of the last 60 draws: the one that makes a new fish's sprites is rare.
    const sorted = drawTimes.slice().sort((x, y) => x - y);
    canvas.dataset.drawMs = sorted[sorted.length >> 1].toFixed(2);
    canvas.dataset.drawMinMs = sorted[0].toFixed(2);
  }
  requestAnimationFrame(draw);

  // The world's top left corner in view, kept inside the world.
  function viewOrigin(W, H) {
    const vw = W / view.z, vh = H / view.z;
    if (view.z === 1) { view.cx = W / 2; view.cy = H / 2; }
    view.cx = Math.min(Math.max(view.cx, vw / 2), W - vw / 2);
    view.cy = Math.min(Math.max(view.cy, vh / 2), H - vh / 2);
    return { x: view.cx - vw / 2, y: view.cy - vh / 2 };
  }
  // No closer than 4 device px a world px: a fish is then a large sprite already. At 2,
  // a standard tank on a desktop screen stopped at 1.5x (a new user's audit).
  const maxZoom = (fit) => ZOOMS.filter((z) => z === 1 || fit * z <= 4).pop();
  // Where a pointer event is, in fractions of the canvas's width and height.
  function fractionAt(ev) {
    const r = canvas.getBoundingClientRect();
    return [(ev.clientX - r.left) / r.width, (ev.clientY - r.top) / r.height];
  }
  // The world point at fractions fx, fy of the canvas.
  function worldAt(fx, fy) {
    const org = viewOrigin(cur.width, cur.height);
    return { x: org.x + fx * cur.width / view.z, y: org.y + fy * cur.height / view.z };
  }
  // One zoom step in (dir 1) or out (-1); the world point at fx, fy stays where it is.
  // False when the view is already as near or as far as it goes.
  function zoomStep(dir, fx, fy) {
    const i = ZOOMS.indexOf(view.z) + dir;
    const z = ZOOMS[Math.min(Math.max(i, 0), ZOOMS.length - 1)];
    if (z === view.z || z > maxZoom(canvas.width / cur.width)) return false;
    const p = worldAt(fx, fy);
    view.z = z;
    view.cx = p.x + (0.5 - fx) * cur.width / z;
    view.cy = p.y + (0.5 - fy) * cur.height / z;
    return true;
  }
  // A notch that cannot zoom further scrolls the page as usual (down to the plots).
  canvas.addEventListener('wheel', (ev) => {
    if (cur && zoomStep(ev.deltaY < 0 ? 1 : -1, ...fractionAt(ev))) ev.preventDefault();
  }, { passive: false });
  // The keyboard, once the tank has the focus: + and - zoom around the middle, the arrows
  // move the view by an eighth of it, 0 shows the whole world; Enter or n and p step
  // through the fish's cards.
  canvas.addEventListener('keydown', (ev) => {
    if (!cur) return;
    const pan = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1] }[ev.key];
    if (ev.key === 'Enter' || ev.key === 'n' || ev.key === 'p') {
      // The fish card without a pointer: the next (or, with p, the previous) fish in
      // view after the one shown, in the order of their ids; Escape closes it.
      const ids = lastPos.map(([k]) => looks.get(k)).filter(Boolean).map((l) => l.id).sort();
      if (!ids.length) return;
      const at = ids.indexOf(selected), step = ev.key === 'p' ? -1 : 1;
      showCard(ids[at < 0 ? (step > 0 ? 0 : ids.length - 1) : (at + step + ids.length) % ids.length]);
    } else if (ev.key === 'Escape' && selected) {
      hideCard();
    } else if (ev.key === '+' || ev.key === '=') zoomStep(1, 0.5, 0.5);
    else if (ev.key === '-') zoomStep(-1, 0.5, 0.5);
    else if (ev.key === '0') view.z = 1;
    else if (pan && view.z > 1) {
      view.cx += (pan[0] * cur.width) / view.z / 8;
      view.cy += (pan[1] * cur.height) / view.z / 8;
    } else return;
    ev.preventDefault();
  });
  // Pointers: one drags the view once zoomed in; two (a pinch on a touch screen, where
  // there is no wheel) zoom a step each time their distance grows or shrinks by a
  // quarter, around their middle. The pointer is captured, so a drag that leaves the
  // canvas goes on, and the browser's own panning is off while zoomed in (touch-action),
  // or it took the gesture over after a few pixels.
  const touch = new Map(); // pointerId -> [clientX, clientY]
  let pinch = null;
  const spread = () => { const [a, b] = [...touch.values()]; return Math.hypot(a[0] - b[0], a[1] - b[1]); };
  canvas.addEventListener('pointerdown', (ev) => {
    touch.set(ev.pointerId, [ev.clientX, ev.clientY]);
    try { canvas.setPointerCapture(ev.pointerId); } catch { /* a synthetic pointer */ }
    if (touch.size === 2) {
      pinch = { d: spread() };
      view.drag = null;
    } else if (touch.size === 1 && view.z > 1) {
      view.drag = { x: ev.clientX, y: ev.clientY, cx: view.cx, cy: view.cy, moved: false };
    }
  });
  canvas.addEventListener('pointermove', (ev) => {
    if (!touch.has(ev.pointerId) || !cur) return;
    touch.set(ev.pointerId, [ev.clientX, ev.clientY]);
    if (pinch && touch.size === 2) {
      const d = spread(), r = canvas.getBoundingClientRect();
      const [a, b] = [...touch.values()];
      const fx = ((a[0] + b[0]) / 2 - r.left) / r.width, fy = ((a[1] + b[1]) / 2 - r.top) / r.height;
      if (d > pinch.d * 1.25 || d < pinch.d * 0.8) {
        zoomStep(d > pinch.d ? 1 : -1, fx, fy);
        pinch.d = d;
        canvas.dataset.pinched = +(canvas.dataset.pinched || 0) + 1;
      }
      return;
    }
    const dr = view.drag;
    if (!dr) return;
    const r = canvas.getBoundingClientRect();
    const dx = ev.clientX - dr.x, dy = ev.clientY - dr.y;
    if (Math.abs(dx) + Math.abs(dy) > 4) dr.moved = true;
    view.cx = dr.cx - (dx / r.width) * cur.width / view.z;
    view.cy = dr.cy - (dy / r.height) * cur.height / view.z;
  });
  const endPointer = (ev) => {
    touch.delete(ev.pointerId);
    if (touch.size < 2) pinch = null;
    if (touch.size === 0) setTimeout(() => { view.drag = null; }, 0);
  };
  canvas.addEventListener('pointerup', endPointer);
  canvas.addEventListener('pointercancel', endPointer);
  canvas.addEventListener('dblclick', () => { view.z = 1; });

  canvas.addEventListener('click', async (ev) => {
    if (!cur || (view.drag && view.drag.moved)) return;
    const { x: wx, y: wy } = worldAt(...fractionAt(ev));
    let best = null, bd = (40 / Math.sqrt(view.z)) ** 2;
    for (const [k, x, y] of lastPos) {
      const d = (x - wx) ** 2 + (y - wy) ** 2;
      if (d < bd) { bd = d; best = k; }
    }
    if (best === null) { hideCard(); return; }
    showCard(looks.get(best).id);
  });

  // An open card follows its fish: energy and age every CARD_REFRESH_MS, and a fish that
  // has left the tank (died, or swum to another) is said to be gone.
  const CARD_REFRESH_MS = 2000;
  let cardTimer = 0;
  function hideCard() {
    card.hidden = true;
    selected = null;
    clearInterval(cardTimer);
  }
  function followCard(fishId, energy, age) {
    clearInterval(cardTimer);
    cardTimer = setInterval(async () => {
      if (card.hidden || card.dataset.fishId !== fishId) return;
      let f;
      try {
        f = await api(`/api/tanks/${tankId}/fish/${fishId}`, { timeout: 4000 });
      } catch (err) {
        if (err.status !== 404 || card.dataset.fishId !== fishId) return;
        clearInterval(cardTimer);
        card.dataset.gone = 'true';
        card.querySelector('.card-state').textContent = 'no longer in this tank: it died or swam on';
        return;
      }
      energy.textContent = `${fmt(f.energy)} / ${fmt(f.max_energy)}`;
      age.textContent = `${f.age} of ${f.max_age} frames · ${f.life_stage}`;
    }, CARD_REFRESH_MS);
  }

  async function showCard(fishId) {
    selected = fishId;
    let f;
    try {
      f = await api(`/api/tanks/${tankId}/fish/${fishId}`);
    } catch (err) {
      toast(err.status === 404 ? 'That fish has just left the tank.' : err.message, 'error');
      return;
    }
    const g = f.genome, b = g.behavior_algorithm, ps = g.poker_strategy_algorithm;
    const rows = (obj) => Object.entries(obj).map(([k, v]) =>
      el('li', {}, el('span', {}, k.replace(/_/g, ' ')), el('b', {}, fmt(v, Number.isInteger(v) ? 0 : 2))));
    const swatch = el('span', { class: 'swatch', style: `background:hsl(${g.color_hue * 360},78%,56%)` });
    const energy = el('dd', {}, `${fmt(f.energy)} / ${fmt(f.max_energy)}`);
    const age = el('dd', {}, `${f.age} of ${f.max_age} frames · ${f.life_stage}`);
    card.replaceChildren(
      el('button', { class: 'close', type: 'button', 'aria-label': 'Close', onclick: hideCard }, '×'),
      el('h3', {}, swatch, 'Fish ', el('code', { class: 'fish-id' }, short(f.id))),
      el('p', { class: 'card-state', role: 'status' }, ''),
      el('dl', {},
        el('dt', {}, 'id'), el('dd', { class: 'full-id' }, f.id),
        el('dt', {}, 'generation'), el('dd', {}, String(f.generation)),
        el('dt', {}, 'parents'), el('dd', {}, f.mother_id ? `${short(f.mother_id)} × ${short(f.father_id)}` : 'none (spawned)'),
        el('dt', {}, 'energy'), energy,
        el('dt', {}, 'age'), age,
        el('dt', {}, 'behaviour'), el('dd', {}, `${b.algorithm_id} (${b.family})`)),
      familyTree(tankId, meta ? meta.tank.server_id : '', f.id),
      el('ul', { class: 'params one' }, ...rows(b.parameters)),
      el('dl', {}, el('dt', {}, 'poker'), el('dd', {}, ps.strategy_id)),
      el('ul', { class: 'params one' }, ...rows(ps.parameters)),
      el('h4', {}, 'genome'),
      el('ul', { class: 'params' }, ...rows({
        speed: g.speed_modifier, size: g.size_modifier, vision: g.vision_range,
        metabolism: g.metabolism_rate, aggression: g.aggression, template: g.template_id,
        pattern: g.pattern_type, fins: g.fin_size, tail: g.tail_size,
      })));
    card.dataset.fishId = f.id;
    delete card.dataset.gone;
    card.hidden = false;
    followCard(f.id, energy, age);
    // Its last poker hands, where the server keeps them (shown when they come).
    try {
      const p = await api(`/api/tanks/${tankId}/poker?fish_id=${fishId}&limit=3`);
      if (card.dataset.fishId !== fishId || !p.hands || !p.hands.length) return;
      card.append(el('h4', {}, 'last poker hands'), el('ul', { class: 'params one' }, ...p.hands.map((hd) => {
        // What this fish did, then what it came to: the winners' hand is theirs, so a
        // loser's line says "lost to" it (it read as if the loser held it).
        const me = hd.players.find((x) => x.fish_id === fishId) || {};
        const cards = (me.hole || []).join(' ');
        const won = (hd.winners || []).includes(fishId);
        const hand = (hd.winning_hand || '').replace(/_/g, ' ');
        const how = me.folded ? 'folded'
          : won ? (hd.showdown && hand ? `won with ${hand}` : 'won, no showdown')
            : hd.showdown && hand ? `lost to ${hand}` : 'no showdown';
        const net = me.net || 0;
        const res = net > 0 ? `+${fmt(net, 1)}` : net < 0 ? `−${fmt(-net, 1)}` : 'even';
        return el('li', {}, el('span', {}, `${cards} · ${how}`), el('b', {}, res));
      })));
    } catch { /* an older server, or no hands yet */ }
  }

  btnPause.onclick = async () => {
    try {
      learnPaused(await api(`/api/tanks/${tankId}/${paused ? 'resume' : 'pause'}`, { method: 'POST' }));
    } catch (err) {
      toast('Cannot ' + (paused ? 'resume' : 'pause') + ': ' + err.message, 'error');
    }
  };
  btnFood.onclick = async () => {
    const x = cur ? cur.width * (0.15 + 0.7 * Math.random()) : undefined;
    try {
      const r = await api(`/api/tanks/${tankId}/food`, { method: 'POST', body: { x, count: 6 } });
      toast(`${r.added} flakes dropped`);
    } catch (err) {
      toast('Cannot add food: ' + err.message, 'error');
    }
  };
  btnFish.onclick = async () => {
    const body = cur ? { x: cur.width * (0.1 + 0.8 * Math.random()), y: cur.height * (0.2 + 0.4 * Math.random()) } : {};
    try {
      const r = await api(`/api/tanks/${tankId}/fish`, { method: 'POST', body });
      toast(`Fish ${short(r.fish.id)} added`);
    } catch (err) {
      toast(err.status === 409 ? 'The tank is full.' : 'Cannot add a fish: ' + err.message, 'error');
    }
  };
  btnNew.onclick = () => createTankDialog((id) => { location.hash = `#/tanks/${id}`; });

  loadMeta();
  return () => {
    closed = true;
    es.close();
    plots.close();
    clearInterval(cardTimer);
    clearInterval(quietTimer);
  };
}

// "/" : this server's tanks.
export function tankList(root) {
  const list = el('div', { class: 'tank-list' });
  const btnNew = el('button', { id: 'btn-new-tank', type: 'button' }, 'New tank');
  root.replaceChildren(el('section', {},
    el('header', { class: 'list-head' }, el('h2', {}, 'Tanks on this server'), btnNew), list));
  btnNew.onclick = () => createTankDialog((id) => { location.hash = `#/tanks/${id}`; });
  let closed = false;
  async function load() {
    try {
      // With the token kept, the private tanks too (a token refused: the public ones).
      const r = token() ? await api('/api/tanks?include_private=true').catch((err) => {
        if (err.status === 401) return api('/api/tanks');
        throw err;
      }) : await api('/api/tanks');
      list.replaceChildren(...r.tanks.map((t) => el('a', { class: 'tank-card', href: `#/tanks/${t.tank.tank_id}`, 'data-tank-id': t.tank.tank_id },
        el('h3', {}, t.tank.name, t.tank.is_public === false ? el('span', { class: 'pill' }, 'private') : ''),
        el('p', {}, `${count(t.stats.fish_count)} fish · generation ${t.stats.generation} · ${t.paused ? 'paused' : fmt(t.fps) + ' ticks/s'}`),
        el('p', { class: 'muted' }, `server ${t.tank.server_id} · ${count(t.stats.births)} births · ${count(t.stats.deaths)} deaths`))));
      if (!r.tanks.length) list.replaceChildren(el('p', {}, 'No tanks yet: create one.'));
    } catch (err) {
      list.replaceChildren(el('p', { class: 'error' }, 'Cannot list the tanks: ' + err.message));
    }
    if (!closed) setTimeout(load, 3000);
  }
  load();
  return () => { closed = true; };
}
