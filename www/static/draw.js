// Drawing the tank on a 2D canvas, in world coordinates (the tank's pixels).
// Fish and plants are drawn once into small off-screen canvases (sprites) from their
// genome and reused every frame: a 1,000-fish frame is then 1,000 drawImage calls.

const TAU = Math.PI * 2;

// A deterministic generator per entity, so a plant's shape is the same on every draw.
function rng(seed) {
  let s = (seed * 2654435761) >>> 0 || 1;
  return () => {
    s ^= s << 13; s >>>= 0;
    s ^= s >> 17;
    s ^= s << 5; s >>>= 0;
    return s / 4294967296;
  };
}

// 0 at midnight, 1 at noon (day_time: 0.25 dawn, 0.5 noon, 0.75 dusk).
export function daylight(dayTime) {
  return 0.5 + 0.5 * Math.sin(TAU * (dayTime - 0.25));
}

function mix(a, b, t) {
  return a.map((v, i) => Math.round(v + (b[i] - v) * t));
}
const rgb = (c, a = 1) => `rgba(${c[0]},${c[1]},${c[2]},${a})`;

// The water, sunbeams and sand change slowly: they are painted into a layer of their
// own a few times a second, or when the view moves, and copied onto every frame. The
// layer holds the part of the world in view at the canvas's resolution: zoomed in
// (tank.js), a layer of the whole world stretched over the canvas showed blurred sand.
export class Backdrop {
  constructor() {
    this.canvas = document.createElement('canvas');
    this.key = '';
    this.zoom = 0; // the zoom the layer was last painted for
  }
  draw(ctx, w, h, light, time, zoom) {
    const pw = ctx.canvas.width, ph = ctx.canvas.height;
    const s = ctx.baseScale, bx = ctx.baseX, by = ctx.baseY;
    const key = `${pw}x${ph}:${s}:${bx}:${by}:${Math.round(light * 40)}:${Math.floor(time * 4)}`;
    if (key !== this.key) {
      this.key = key;
      this.zoom = zoom;
      if (this.canvas.width !== pw || this.canvas.height !== ph) {
        this.canvas.width = pw;
        this.canvas.height = ph;
      }
      const x = this.canvas.getContext('2d');
      x.setTransform(s, 0, 0, s, bx, by);
      paintWater(x, w, h, light, time);
    }
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.drawImage(this.canvas, 0, 0);
  }
}

function paintWater(ctx, w, h, light, time) {
  const top = mix([8, 22, 52], [46, 150, 205], light);
  const bottom = mix([4, 12, 32], [12, 78, 122], light);
  const g = ctx.createLinearGradient(0, 0, 0, h);
  g.addColorStop(0, rgb(top));
  g.addColorStop(1, rgb(bottom));
  ctx.fillStyle = g;
  // A pixel past the bottom: the canvas's height is the world's rounded to a whole pixel.
  ctx.fillRect(0, 0, w, h + 1);
  // Sunbeams by day, swaying slowly.
  if (light > 0.3) {
    ctx.save();
    ctx.globalAlpha = (light - 0.3) * 0.22;
    ctx.fillStyle = '#dff6ff';
    for (let i = 0; i < 6; i++) {
      const x = ((i + 0.5) / 6) * w + Math.sin(time * 0.3 + i * 1.7) * 40;
      ctx.beginPath();
      ctx.moveTo(x - 18, 0);
      ctx.lineTo(x + 26, 0);
      ctx.lineTo(x + 140 + i * 8, h);
      ctx.lineTo(x + 40, h);
      ctx.closePath();
      ctx.fill();
    }
    ctx.restore();
  }
  // Sand.
  const sand = ctx.createLinearGradient(0, h - 34, 0, h);
  const s = mix([70, 62, 48], [214, 190, 140], light);
  sand.addColorStop(0, rgb(s, 0));
  sand.addColorStop(0.35, rgb(s));
  sand.addColorStop(1, rgb(mix(s, [0, 0, 0], 0.3)));
  ctx.fillStyle = sand;
  ctx.beginPath();
  ctx.moveTo(0, h - 22);
  for (let x = 0; x <= w; x += 40) ctx.lineTo(x, h - 22 + Math.sin(x * 0.02) * 4);
  ctx.lineTo(w, h + 1);
  ctx.lineTo(0, h + 1);
  ctx.fill();
}

export function drawNightTint(ctx, w, h, light) {
  if (light > 0.95) return;
  ctx.fillStyle = `rgba(6,10,40,${(0.5 * (1 - light)).toFixed(3)})`;
  ctx.fillRect(0, 0, w, h);
}

// ---- fish --------------------------------------------------------------------------

// Template shapes: [body height / length, head roundness, tail kind, dorsal fin height].
const TEMPLATES = [
  { h: 0.42, nose: 0.55, tail: 'fork', dorsal: 0.35 },   // classic
  { h: 0.30, nose: 0.25, tail: 'fork', dorsal: 0.22 },   // slender
  { h: 0.62, nose: 0.45, tail: 'point', dorsal: 0.75 },  // deep-bodied, tall fins
  { h: 0.52, nose: 0.85, tail: 'fan', dorsal: 0.30 },    // round
  { h: 0.38, nose: 0.10, tail: 'moon', dorsal: 0.45 },   // arrow
  { h: 0.22, nose: 0.40, tail: 'taper', dorsal: 0.15 },  // eel-like
];

const SPRITE_LEN = 46; // world px of a fish of size 1, nose to tail tip

// A fish's length in world px, nose to tail tip, from its looks.
const fishLength = (l) => SPRITE_LEN * (l.size_modifier || 1);

function fishColors(l) {
  const hue = (l.color_hue || 0) * 360;
  return {
    body: `hsl(${hue},78%,56%)`,
    dark: `hsl(${hue},70%,30%)`,
    belly: `hsl(${hue + 10},70%,82%)`,
    fin: `hsla(${(hue + 28) % 360},80%,64%,0.85)`,
    pattern: `hsla(${(hue + 180) % 360},65%,${l.pattern_type === 2 ? 92 : 22}%,${0.25 + 0.7 * (l.pattern_intensity || 0)})`,
  };
}

// One fish facing right, centred at 0,0, body length L.
function paintFish(ctx, l, L, phase) {
  const t = TEMPLATES[l.template_id % TEMPLATES.length] || TEMPLATES[0];
  const H = L * t.h * (l.body_aspect || 1);
  const c = fishColors(l);
  const fin = l.fin_size || 1, tail = l.tail_size || 1;
  const bx0 = -L * 0.32, bx1 = L * 0.5; // body from tail joint to nose
  const sway = (phase - 0.5) * 0.35;

  // Tail.
  ctx.fillStyle = c.fin;
  ctx.strokeStyle = c.dark;
  ctx.lineWidth = L * 0.015;
  const tl = L * 0.3 * tail, th = H * 0.75 * tail;
  ctx.beginPath();
  ctx.moveTo(bx0 + L * 0.04, 0);
  const tx = bx0 - tl, ty = sway * th;
  if (t.tail === 'fork' || t.tail === 'moon') {
    ctx.quadraticCurveTo(bx0 - tl * 0.5, -th * 0.2 + ty, tx, -th * 0.55 + ty);
    ctx.quadraticCurveTo(bx0 - tl * (t.tail === 'moon' ? 0.35 : 0.6), ty, tx, th * 0.55 + ty);
    ctx.quadraticCurveTo(bx0 - tl * 0.5, th * 0.2 + ty, bx0 + L * 0.04, 0);
  } else if (t.tail === 'fan') {
    ctx.bezierCurveTo(bx0 - tl * 0.4, -th * 0.6 + ty, tx - tl * 0.2, -th * 0.5 + ty, tx, ty);
    ctx.bezierCurveTo(tx - tl * 0.2, th * 0.5 + ty, bx0 - tl * 0.4, th * 0.6 + ty, bx0 + L * 0.04, 0);
  } else if (t.tail === 'taper') {
    ctx.quadraticCurveTo(bx0 - tl * 0.5, -H * 0.3 + ty, tx - tl * 0.3, ty);
    ctx.quadraticCurveTo(bx0 - tl * 0.5, H * 0.3 + ty, bx0 + L * 0.04, 0);
  } else {
    ctx.lineTo(tx, -th * 0.35 + ty);
    ctx.lineTo(tx - tl * 0.3, ty);
    ctx.lineTo(tx, th * 0.35 + ty);
  }
  ctx.closePath();
  ctx.fill();
  ctx.stroke();

  // Dorsal and ventral fins.
  const dh = H * t.dorsal * fin * 1.1;
  ctx.beginPath();
  ctx.moveTo(bx0 + L * 0.12, -H * 0.38);
  ctx.quadraticCurveTo(bx0 + L * 0.2, -H * 0.5 - dh, bx0 + L * 0.48, -H * 0.46);
  ctx.closePath();
  ctx.fill();
  ctx.beginPath();
  ctx.moveTo(bx0 + L * 0.22, H * 0.4);
  ctx.quadraticCurveTo(bx0 + L * 0.28, H * 0.5 + dh * 0.6, bx0 + L * 0.44, H * 0.42);
  ctx.closePath();
  ctx.fill();

  // Body.
  const body = new Path2D();
  const nose = t.nose;
  body.moveTo(bx1, 0);
  body.bezierCurveTo(bx1 - L * 0.08 * (1 - nose), -H * (0.45 + 0.15 * nose), bx0 + L * 0.25, -H * 0.62, bx0, -H * 0.12);
  body.quadraticCurveTo(bx0 - L * 0.03, 0, bx0, H * 0.12);
  body.bezierCurveTo(bx0 + L * 0.25, H * 0.62, bx1 - L * 0.08 * (1 - nose), H * (0.45 + 0.15 * nose), bx1, 0);
  const g = ctx.createLinearGradient(0, -H * 0.5, 0, H * 0.5);
  g.addColorStop(0, c.dark);
  g.addColorStop(0.35, c.body);
  g.addColorStop(1, c.belly);
  ctx.fillStyle = g;
  ctx.fill(body);

  // Pattern, clipped to the body.
  if ((l.pattern_intensity || 0) > 0.05 && l.pattern_type) {
    ctx.save();
    ctx.clip(body);
    ctx.fillStyle = c.pattern;
    ctx.strokeStyle = c.pattern;
    if (l.pattern_type === 1) { // bands
      const n = 3 + Math.round((l.pattern_intensity || 0) * 2);
      for (let i = 0; i < n; i++) {
        const x = bx0 + L * 0.12 + (i * (bx1 - bx0 - L * 0.25)) / n;
        ctx.fillRect(x, -H, L * 0.06, H * 2);
      }
    } else if (l.pattern_type === 2) { // spots
      const r = rng(Math.round((l.color_hue || 0) * 1e6) + l.template_id * 7);
      for (let i = 0; i < 9; i++) {
        ctx.beginPath();
        ctx.arc(bx0 + (bx1 - bx0) * (0.15 + 0.7 * r()), H * (r() - 0.5) * 0.8, L * (0.025 + 0.03 * r()), 0, TAU);
        ctx.fill();
      }
    } else { // a lateral stripe
      ctx.lineWidth = H * 0.16;
      ctx.beginPath();
      ctx.moveTo(bx0, 0);
      ctx.quadraticCurveTo((bx0 + bx1) / 2, -H * 0.12, bx1 - L * 0.08, -H * 0.02);
      ctx.stroke();
    }
    ctx.restore();
  }
  ctx.strokeStyle = c.dark;
  ctx.lineWidth = L * 0.018;
  ctx.stroke(body);

  // Gill line, pectoral fin, eye.
  ctx.beginPath();
  ctx.arc(bx1 - L * 0.2, 0, H * 0.3, -0.9, 0.9);
  ctx.stroke();
  ctx.fillStyle = c.fin;
  ctx.beginPath();
  ctx.ellipse(bx1 - L * 0.3, H * 0.12, L * 0.09 * fin, H * 0.1, 0.5, 0, TAU);
  ctx.fill();
  const er = L * 0.055 * (l.eye_size || 1);
  ctx.fillStyle = '#fff';
  ctx.beginPath();
  ctx.arc(bx1 - L * 0.13, -H * 0.12, er, 0, TAU);
  ctx.fill();
  ctx.fillStyle = '#111';
  ctx.beginPath();
  ctx.arc(bx1 - L * 0.12, -H * 0.12, er * 0.55, 0, TAU);
  ctx.fill();
}

// Sprites per looks and scale, in device pixels: two tail positions, facing right and
// left, packed into a few large atlas canvases (made before any fish of a frame is drawn:
// writing to an atlas already drawn from in that frame would copy it). Drawing a fish is then one axis-aligned
// drawImage from an atlas, the cheapest blit a 2D canvas has: thousands of small source
// canvases, or rotated draws, cost several times more in Chromium's software raster.
const ATLAS = 2048;
// A fish shorter than this on screen (device px) is drawn as a dot in its colour: a
// sprite would show nothing more (a world scaled for tens of thousands of fish).
const TINY_FISH_PX = 8;
export class FishSprites {
  constructor() {
    this.scale = 1;
    this.reset();
  }
  reset() {
    this.cache = new Map();
    this.pages = [];
  }
  setScale(s) {
    if (Math.abs(s - this.scale) > 0.01) {
      this.scale = s;
      this.reset();
    }
  }
  alloc(w, h) {
    let p = this.pages[this.pages.length - 1];
    if (p && p.x + w > ATLAS) {
      p.x = 0;
      p.y += p.row;
      p.row = 0;
    }
    if (!p || p.y + h > ATLAS) {
      const c = document.createElement('canvas');
      c.width = ATLAS;
      c.height = ATLAS;
      p = { canvas: c, ctx: c.getContext('2d'), x: 0, y: 0, row: 0 };
      this.pages.push(p);
    }
    const at = { page: p.canvas, sx: p.x, sy: p.y };
    p.x += w;
    p.row = Math.max(p.row, h);
    return [at, p.ctx];
  }
  // True when fish are too small on screen for sprites (drawFishDot instead).
  get tiny() {
    return SPRITE_LEN * this.scale < TINY_FISH_PX;
  }
  // The fish's sprite if it is made, else undefined (get makes it).
  peek(key) {
    return this.cache.get(key);
  }
  get(key, looks) {
    let sp = this.cache.get(key);
    if (sp) return sp;
    const L = fishLength(looks);
    const W = Math.ceil(L * 2.0 * this.scale), H = Math.ceil(L * 1.5 * this.scale);
    sp = { frames: [], w: W, h: H, ox: W * 0.55, oy: H / 2, L: L * this.scale };
    // Painted on a small scratch canvas, then copied into the atlas in one blit.
    if (!this.scratch) this.scratch = document.createElement('canvas');
    const sc = this.scratch;
    if (sc.width < W || sc.height < H) {
      sc.width = Math.max(sc.width, W);
      sc.height = Math.max(sc.height, H);
    }
    const x = sc.getContext('2d');
    // Facing left is the mirror image of facing right (origin at 0.45 W instead of 0.55
    // W): each tail position is painted once and blitted twice, the second time
    // mirrored, which halves the painting, most of a sprite's cost.
    const left = [];
    for (const phase of [0.2, 0.8]) {
      x.setTransform(1, 0, 0, 1, 0, 0);
      x.clearRect(0, 0, W, H);
      x.translate(W * 0.55, H / 2);
      x.scale(this.scale, this.scale);
      paintFish(x, looks, L, phase);
      const [at, ax] = this.alloc(W + 1, H + 1);
      ax.drawImage(sc, 0, 0, W, H, at.sx, at.sy, W, H);
      sp.frames.push(at);
      const [lt, lx] = this.alloc(W + 1, H + 1);
      lx.setTransform(-1, 0, 0, 1, lt.sx + W, lt.sy);
      lx.drawImage(sc, 0, 0, W, H, 0, 0, W, H);
      lx.setTransform(1, 0, 0, 1, 0, 0);
      left.push(lt);
    }
    sp.frames.push(...left); // right 0.2, right 0.8, left 0.2, left 0.8
    this.cache.set(key, sp);
    return sp;
  }
  // Drop the sprites of fish that are gone; the atlas is rebuilt once it is mostly holes.
  forget(keys) {
    let gone = 0;
    for (const k of this.cache.keys()) if (!keys.has(k)) gone++;
    if (gone > 200 && gone > this.cache.size / 2) this.reset();
  }
}

// With the identity transform: x, y centre in world px; vx its heading; grow: the fish's
// size over its genome's size (babies are smaller).
export function drawFish(ctx, sp, x, y, vx, grow, time, key) {
  const left = vx < 0;
  const frame = sp.frames[(left ? 2 : 0) + (Math.floor(time * 4 + key * 0.37) & 1)];
  const s = ctx.baseScale, cx = x * s + ctx.baseX, cy = y * s + ctx.baseY;
  const ox = left ? sp.w - sp.ox : sp.ox;
  if (grow > 0.97) {
    ctx.drawImage(frame.page, frame.sx, frame.sy, sp.w, sp.h,
                  Math.round(cx - ox), Math.round(cy - sp.oy), sp.w, sp.h);
  } else {
    ctx.drawImage(frame.page, frame.sx, frame.sy, sp.w, sp.h,
                  cx - ox * grow, cy - sp.oy * grow, sp.w * grow, sp.h * grow);
  }
}

// A fish without a sprite (not made yet, or too small on screen): its body colour in an
// ellipse and a tail, heading its way, in the sprite's proportions. One path, no image.
export function drawFishDot(ctx, l, x, y, vx, grow) {
  const s = ctx.baseScale;
  const len = fishLength(l) * grow * s;
  if (!l.dotFill) l.dotFill = fishColors(l).body;
  ctx.fillStyle = l.dotFill;
  const cx = x * s + ctx.baseX, cy = y * s + ctx.baseY;
  if (len < 4) {
    ctx.fillRect(cx - 1, cy - 1, 2, 2);
    return;
  }
  const dir = vx < 0 ? -1 : 1;
  ctx.beginPath();
  ctx.ellipse(cx + dir * len * 0.09, cy, len * 0.41, len * 0.17, 0, 0, TAU);
  ctx.moveTo(cx - dir * len * 0.25, cy);
  ctx.lineTo(cx - dir * len * 0.55, cy - len * 0.14);
  ctx.lineTo(cx - dir * len * 0.55, cy + len * 0.14);
  ctx.closePath();
  ctx.fill();
}

export function drawSelection(ctx, l, x, y, grow) {
  const s = ctx.baseScale;
  ctx.strokeStyle = '#ffe27a';
  ctx.lineWidth = 2;
  ctx.beginPath();
  ctx.arc(x * s + ctx.baseX, y * s + ctx.baseY, fishLength(l) * s * grow * 0.7, 0, TAU);
  ctx.stroke();
}

// ---- plants ------------------------------------------------------------------------

function paintPlant(ctx, l, key, growth) {
  const r = rng(key * 97 + 13);
  const type = l.fractal_type;
  const hue = (type === 'cosmic_fern' ? 0.78 : l.color_hue || 0.3) * 360;
  const sat = Math.round((l.color_saturation || 0.7) * 100);
  const stemW = 3.2 * (l.stem_thickness || 1);
  const ang = ((l.angle || 25) * Math.PI) / 180;
  const ratio = l.length_ratio || 0.7;
  const pBranch = l.branch_probability || 0.8;
  const curve = l.curve_factor || 0.1;
  const leafP = l.leaf_density || 0.5;
  const height = 150 * growth;
  const depthMax = type === 'bush' ? 5 : type === 'tree' ? 6 : 7;
  const first = height * (type === 'tree' ? 0.34 : type === 'bush' ? 0.3 : 0.26);
  ctx.lineCap = 'round';

  const leaf = (x, y, a, s) => {
    ctx.fillStyle = `hsla(${hue + (r() - 0.5) * 20},${sat}%,${38 + r() * 22}%,0.9)`;
    ctx.beginPath();
    ctx.ellipse(x, y, s, s * 0.42, a, 0, TAU);
    ctx.fill();
  };
  const branch = (x, y, a, len, depth, w) => {
    const bend = curve * (type === 'willow' ? depth * 0.35 : 1) * (r() - 0.3);
    const droop = type === 'willow' && depth < depthMax - 1 ? 0.35 * (depthMax - depth) / depthMax : 0;
    const a2 = a + bend + droop * Math.sign(Math.cos(a) || 1) * 0.6;
    const x2 = x + Math.cos(a2) * len, y2 = y + Math.sin(a2) * len;
    const mx = x + Math.cos(a) * len * 0.5, my = y + Math.sin(a) * len * 0.5;
    ctx.strokeStyle = `hsl(${hue - 10},${Math.round(sat * 0.7)}%,${22 + (depthMax - depth) * 3}%)`;
    ctx.lineWidth = Math.max(0.6, w);
    ctx.beginPath();
    ctx.moveTo(x, y);
    ctx.quadraticCurveTo(mx, my, x2, y2);
    ctx.stroke();
    if (depth <= 1 || len < 3) {
      if (r() < 0.4 + leafP) leaf(x2, y2, a2, 3 + 5 * leafP);
      return;
    }
    const nl = len * ratio;
    if (type === 'lsystem_fern' || type === 'cosmic_fern') {
      branch(x2, y2, a2 + (r() - 0.5) * 0.15, nl, depth - 1, w * 0.72);
      if (r() < pBranch) branch(x2, y2, a2 - ang, nl * 0.62, depth - 2, w * 0.55);
      if (r() < pBranch) branch(x2, y2, a2 + ang, nl * 0.62, depth - 2, w * 0.55);
    } else if (type === 'bush') {
      const n = 2 + (r() < pBranch ? 1 : 0);
      for (let i = 0; i < n; i++) branch(x2, y2, a2 + ang * (i - (n - 1) / 2) * 1.1, nl, depth - 1, w * 0.7);
    } else if (type === 'willow') {
      branch(x2, y2, a2 - ang * 0.7, nl, depth - 1, w * 0.7);
      if (r() < pBranch) branch(x2, y2, a2 + ang * 0.7, nl, depth - 1, w * 0.7);
    } else { // tree
      branch(x2, y2, a2 - ang, nl, depth - 1, w * 0.68);
      branch(x2, y2, a2 + ang, nl, depth - 1, w * 0.68);
      if (r() < pBranch * 0.4) branch(x2, y2, a2, nl * 0.8, depth - 1, w * 0.6);
    }
    if (r() < leafP * 0.5) leaf(mx, my, a + Math.PI / 2, 2.5 + 3 * leafP);
  };
  if (type === 'bush') {
    for (let i = -1; i <= 1; i++) branch(0, 0, -Math.PI / 2 + i * ang * 0.8, first, depthMax, stemW);
  } else {
    branch(0, 0, -Math.PI / 2, first, depthMax, stemW * 1.3);
  }
  if (type === 'cosmic_fern') {
    ctx.fillStyle = 'rgba(255,240,255,0.9)';
    for (let i = 0; i < 10; i++) {
      ctx.beginPath();
      ctx.arc((r() - 0.5) * height * 0.8, -r() * height, 1.2, 0, TAU);
      ctx.fill();
    }
  }
}

export class PlantSprites {
  constructor() {
    this.cache = new Map();
    this.scale = 1;
  }
  setScale(s) {
    if (Math.abs(s - this.scale) > 0.01) {
      this.scale = s;
      this.cache.clear();
    }
  }
  // A plant's sprite is re-drawn when it has grown or shrunk by a twentieth.
  static id(key, growth) {
    return key + ':' + Math.round(growth * 20);
  }
  // Whether the plant's sprite is made for this growth (get paints it otherwise).
  fresh(key, growth) {
    const sp = this.cache.get(key);
    return sp !== undefined && sp.id === PlantSprites.id(key, growth);
  }
  // The sprite as it is, maybe of an older growth, or undefined.
  peek(key) {
    return this.cache.get(key);
  }
  get(key, looks, growth) {
    const bucket = Math.round(growth * 20);
    const id = PlantSprites.id(key, growth);
    let sp = this.cache.get(key);
    if (sp && sp.id === id) return sp;
    const W = 320, H = 260;
    const c = sp ? sp.canvas : document.createElement('canvas');
    c.width = Math.ceil(W * this.scale);
    c.height = Math.ceil(H * this.scale);
    const x = c.getContext('2d');
    x.setTransform(this.scale, 0, 0, this.scale, (W / 2) * this.scale, (H - 6) * this.scale);
    paintPlant(x, looks, key, bucket / 20);
    sp = { id, canvas: c, w: W, h: H };
    this.cache.set(key, sp);
    return sp;
  }
  forget(keys) {
    for (const k of this.cache.keys()) if (!keys.has(k)) this.cache.delete(k);
  }
}

export function drawPlant(ctx, sp, x, y, time, key) {
  const s = ctx.baseScale;
  const sway = Math.sin(time * 0.8 + key) * 0.025;
  ctx.setTransform(s, 0, 0, s, x * s + ctx.baseX, (y + 6) * s + ctx.baseY);
  ctx.rotate(sway);
  ctx.drawImage(sp.canvas, -sp.w / 2, -sp.h + 6, sp.w, sp.h);
}

// ---- food, crabs, castle -------------------------------------------------------------

const FOOD_COLORS = {
  algae: '#5fd46a', protein: '#d9774a', vitamin: '#ffa53a', energy: '#ffe65c',
  rare: '#c77dff', nectar: '#fff2a8', live: '#ff8fb8',
};

// The food in view (inView(x, y, margin) from tank.js); returns how many items it drew.
export function drawFood(ctx, food, types, time, inView) {
  const s = ctx.baseScale;
  ctx.setTransform(s, 0, 0, s, ctx.baseX, ctx.baseY);
  let n = 0;
  for (const [x, y, k] of food) {
    if (!inView(x, y, 8)) continue;
    n++;
    const type = types[k];
    ctx.fillStyle = FOOD_COLORS[type] || '#fff';
    if (type === 'live') {
      const w = Math.sin(time * 10 + x) * 1.5;
      ctx.beginPath();
      ctx.ellipse(x, y, 4.5, 2.2, w * 0.2, 0, TAU);
      ctx.fill();
      ctx.fillRect(x - 6, y + w * 0.5 - 0.6, 2, 1.2);
    } else if (type === 'nectar' || type === 'rare') {
      ctx.globalAlpha = 0.35;
      ctx.beginPath();
      ctx.arc(x, y, 7, 0, TAU);
      ctx.fill();
      ctx.globalAlpha = 1;
      ctx.beginPath();
      ctx.arc(x, y, 3.2, 0, TAU);
      ctx.fill();
    } else {
      ctx.beginPath();
      ctx.arc(x, y, 3.6, 0, TAU);
      ctx.fill();
    }
  }
  return n;
}

export function drawCrab(ctx, x, y, vx, energy, time) {
  const s = ctx.baseScale;
  ctx.setTransform(s, 0, 0, s, x * s + ctx.baseX, y * s + ctx.baseY);
  const walk = Math.sin(time * 12 + x * 0.1) * (Math.abs(vx) > 0.05 ? 3 : 0.5);
  const body = `hsl(${10 + 20 * energy},75%,${38 + 14 * energy}%)`;
  ctx.strokeStyle = body;
  ctx.lineWidth = 2.4;
  for (let i = 0; i < 3; i++) {
    for (const side of [-1, 1]) {
      ctx.beginPath();
      ctx.moveTo(side * 10, 2 + i * 3);
      ctx.lineTo(side * (22 + i * 2), 8 + i * 2 + (i % 2 ? walk : -walk));
      ctx.lineTo(side * (26 + i * 2), 18);
      ctx.stroke();
    }
  }
  for (const side of [-1, 1]) {
    ctx.beginPath();
    ctx.moveTo(side * 12, -4);
    ctx.lineTo(side * 22, -14);
    ctx.stroke();
    ctx.fillStyle = body;
    ctx.beginPath();
    ctx.ellipse(side * 25, -17, 7, 5, side * 0.5, 0, TAU);
    ctx.fill();
  }
  ctx.fillStyle = body;
  ctx.beginPath();
  ctx.ellipse(0, 0, 20, 12, 0, 0, TAU);
  ctx.fill();
  ctx.fillStyle = '#fff';
  for (const side of [-1, 1]) {
    ctx.beginPath();
    ctx.arc(side * 6, -12, 3, 0, TAU);
    ctx.fill();
  }
  ctx.fillStyle = '#111';
  for (const side of [-1, 1]) {
    ctx.beginPath();
    ctx.arc(side * 6, -12, 1.5, 0, TAU);
    ctx.fill();
  }
}

export function drawCastle(ctx, c, light, time) {
  const [x, y, w, h] = c;
  const s = ctx.baseScale;
  ctx.setTransform(s, 0, 0, s, ctx.baseX, ctx.baseY);
  const stone = mix([60, 64, 78], [150, 146, 160], light);
  const dark = mix(stone, [0, 0, 0], 0.35);
  const g = ctx.createLinearGradient(x, 0, x + w, 0);
  g.addColorStop(0, rgb(dark));
  g.addColorStop(0.5, rgb(stone));
  g.addColorStop(1, rgb(dark));
  ctx.fillStyle = g;
  const base = y + h * 0.78;
  const tower = (tx, tw, top) => {
    ctx.fillRect(tx, top, tw, base - top + 12);
    for (let i = 0; i < 3; i++) ctx.fillRect(tx + (i * tw) / 3 + tw * 0.04, top - 9, tw / 3 - tw * 0.08, 10);
  };
  tower(x + w * 0.05, w * 0.22, y + h * 0.12);
  tower(x + w * 0.73, w * 0.22, y + h * 0.18);
  tower(x + w * 0.3, w * 0.4, y + h * 0.36);
  ctx.fillStyle = rgb(mix(dark, [0, 0, 0], 0.5));
  ctx.beginPath();
  ctx.moveTo(x + w * 0.42, base + 12);
  ctx.lineTo(x + w * 0.42, base - 16);
  ctx.arc(x + w * 0.5, base - 16, w * 0.08, Math.PI, 0);
  ctx.lineTo(x + w * 0.58, base + 12);
  ctx.fill();
  for (const [wx, wy] of [[0.13, 0.3], [0.81, 0.36], [0.47, 0.5]]) {
    ctx.fillStyle = light < 0.35 ? 'rgba(255,210,120,0.85)' : rgb(mix(dark, [0, 0, 0], 0.4));
    ctx.fillRect(x + w * wx, y + h * wy, w * 0.06, h * 0.09);
  }
  // Bubbles from the tallest tower.
  ctx.fillStyle = 'rgba(220,240,255,0.5)';
  for (let i = 0; i < 5; i++) {
    const p = (time * 0.25 + i / 5) % 1;
    ctx.beginPath();
    ctx.arc(x + w * 0.16 + Math.sin(p * 12 + i) * 5, y + h * 0.1 - p * (y + h * 0.1), 2 + 2 * p, 0, TAU);
    ctx.fill();
  }
}
