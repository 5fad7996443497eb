// A tank's history as plots: population with births and deaths, one trait's mean with
// its spread, and the shares of poker strategies or behaviour algorithms, over simulated
// time. From GET /api/tanks/{id}/history: the newest WINDOW samples first, then every few
// seconds only the samples after the last one (since=FRAME). Inline SVG, redrawn when
// samples come or a chooser changes, never per animation frame, so the tank's canvas
// keeps its time.
import { api } from './api.js';
import { el, svgEl } from './dom.js';

const WINDOW = 1500; // samples kept
const MAX_POINTS = 800; // a longer series is thinned to this many points
const REFRESH_MS = 4000;
const SIM_FPS = 30; // frames per simulated second (the core's SIM_FPS)
const VW = 400, VH = 215; // the SVG's own units, about its size on screen
const M = { l: 44, r: 10, t: 10, b: 38 };
const PALETTE = ['#4cc3ff', '#ffb84d', '#5fd46a', '#ff6b6b', '#b28dff', '#ffd27a', '#4de0c8', '#ff8fd0'];
const OTHER = '#5b6b7d';
const words = (s) => s.replace(/_/g, ' ');

// About n round values covering [lo, hi]; whole numbers only for counts (a population
// axis read 2.5 and 7.5 fish).
function ticks(lo, hi, n = 4, whole = false) {
  if (!(hi > lo)) hi = lo + 1;
  const raw = (hi - lo) / n, mag = 10 ** Math.floor(Math.log10(raw));
  const step = Math.max(whole ? 1 : 0, (whole ? [1, 2, 5, 10] : [1, 2, 2.5, 5, 10]).map((m) => m * mag)
    .find((s) => s >= raw * 0.999));
  const list = [];
  for (let v = Math.ceil(lo / step - 1e-9) * step; v <= hi + step * 1e-9; v += step) list.push(+v.toPrecision(12));
  const dec = Math.max(0, -Math.floor(Math.log10(step) + 1e-9) + (String(step / mag).includes('.') ? 1 : 0));
  return { list, fmt: (v) => v.toFixed(Math.min(dec, 6)) };
}

function timeUnit(seconds) {
  if (seconds <= 180) return [1, 's'];
  if (seconds <= 3 * 3600) return [60, 'min'];
  return [3600, 'h'];
}

const span = (sec) => (sec < 120 ? `${+sec.toFixed(1)} s` : sec < 7200 ? `${+(sec / 60).toFixed(1)} min` : `${+(sec / 3600).toFixed(1)} h`);

// Which samples are drawn: all of them, or evenly thinned with the newest kept.
function pick(n) {
  if (n <= MAX_POINTS) return [...Array(n).keys()];
  const out = [], step = (n - 1) / (MAX_POINTS - 1);
  for (let i = 0; i < MAX_POINTS; i++) out.push(Math.round(i * step));
  return out;
}

// A single sample is drawn as a dot: a zero-length segment with round caps.
const pathD = (pts) => 'M' + (pts.length === 1 ? [pts[0], pts[0]] : pts).map(([x, y]) => `${x.toFixed(1)},${y.toFixed(1)}`).join('L');

// One plot: a figure with a title, an optional chooser, the SVG and a legend.
class Plot {
  constructor(id, title, chooser) {
    this.svg = svgEl('svg', { viewBox: `0 0 ${VW} ${VH}`, class: 'plot', role: 'img', 'aria-label': title });
    this.legend = el('div', { class: 'plot-legend' });
    this.box = el('figure', { class: 'plot-box', id },
      el('figcaption', {}, el('span', { class: 'plot-title' }, title), chooser), this.svg, this.legend);
  }

  empty(msg, sub) {
    this.svg.dataset.samples = '0';
    this.svg.replaceChildren(
      svgEl('text', { x: VW / 2, y: VH / 2 - 6, class: 'plot-empty' }, msg),
      svgEl('text', { x: VW / 2, y: VH / 2 + 14, class: 'plot-empty sub' }, sub));
    this.legend.replaceChildren();
  }

  // Axes and grid for frames [f0, f1] and values [lo, hi]; returns the scales. A single
  // sample is drawn at the right end of the ten simulated seconds before it (a span of
  // one frame read as 9.97-10.0 s).
  axes(samples, lo, hi, yfmt, whole = false) {
    const f0 = samples[0].frame, f1 = samples[samples.length - 1].frame;
    const x0 = f1 > f0 ? f0 : Math.max(0, f1 - 10 * SIM_FPS), x1 = x0 < f1 ? f1 : f1 + 1;
    const yt = ticks(lo, hi, 5, whole);
    lo = Math.min(lo, yt.list[0]);
    hi = Math.max(hi, yt.list[yt.list.length - 1]);
    const pw = VW - M.l - M.r, ph = VH - M.t - M.b;
    const X = (f) => M.l + ((f - x0) / (x1 - x0)) * pw;
    const Y = (v) => M.t + ph - ((v - lo) / (hi - lo || 1)) * ph;
    const g = svgEl('g', { class: 'axes' });
    for (const v of yt.list) {
      g.append(svgEl('line', { x1: M.l, x2: VW - M.r, y1: Y(v), y2: Y(v), class: 'grid' }),
        svgEl('text', { x: M.l - 6, y: Y(v) + 4, class: 'tick y' }, yfmt ? yfmt(v) : yt.fmt(v)));
    }
    const [div, unit] = timeUnit((x1 - x0) / SIM_FPS);
    const xt = ticks(x0 / SIM_FPS / div, x1 / SIM_FPS / div, 5);
    for (const v of xt.list) {
      const x = X(v * div * SIM_FPS);
      if (x < M.l - 0.5 || x > VW - M.r + 0.5) continue;
      g.append(svgEl('line', { x1: x, x2: x, y1: M.t, y2: M.t + ph, class: 'grid' }),
        svgEl('text', { x, y: VH - M.b + 15, class: 'tick x' }, xt.fmt(v)));
    }
    g.append(svgEl('line', { x1: M.l, x2: VW - M.r, y1: M.t + ph, y2: M.t + ph, class: 'axis' }),
      svgEl('text', { x: VW - M.r, y: VH - 4, class: 'axis-label' }, `simulated time (${unit})`));
    this.svg.dataset.samples = String(samples.length);
    this.svg.replaceChildren(g);
    return { X, Y, top: M.t, bottom: M.t + ph };
  }

  line(name, pts, colour, extra = {}) {
    this.svg.append(svgEl('path', { d: pathD(pts), class: 'series', stroke: colour, 'data-series': name,
                                    'data-points': pts.length, ...extra }));
  }

  // A single sample is a band a few units wide at its place, not a line no one sees.
  area(name, upper, lower, colour, extra = {}) {
    const n = upper.length;
    if (n === 1) {
      upper = [[upper[0][0] - 4, upper[0][1]], upper[0]];
      lower = [[lower[0][0] - 4, lower[0][1]], lower[0]];
    }
    const d = pathD(upper) + 'L' + lower.slice().reverse().map(([x, y]) => `${x.toFixed(1)},${y.toFixed(1)}`).join('L') + 'Z';
    this.svg.append(svgEl('path', { d, class: 'area', fill: colour, 'data-series': name,
                                    'data-points': n, ...extra }));
  }

  keys(items) {
    this.legend.replaceChildren(...items.map(([label, colour, value]) =>
      el('span', { class: 'key', style: `--c:${colour}` }, label, value !== undefined ? el('b', {}, value) : null)));
  }
}

function drawPopulation(p, s, deathCols) {
  const deaths = (x) => deathCols.reduce((a, c) => a + (x[c] || 0), 0);
  const hi = Math.max(1, ...s.map((x) => Math.max(x.population, x.births, deaths(x))));
  const idx = pick(s.length);
  const { X, Y } = p.axes(s, 0, hi, null, true);
  const series = [['population', PALETTE[0], (x) => x.population], ['births', PALETTE[2], (x) => x.births],
                  ['deaths', PALETTE[3], deaths]];
  for (const [name, colour, get] of series) p.line(name, idx.map((i) => [X(s[i].frame), Y(get(s[i]))]), colour);
  const last = s[s.length - 1];
  p.keys(series.map(([name, colour, get]) => [name === 'population' ? name : name + ' per sample', colour, String(get(last))]));
}

// Over the samples that had fish: the mean of no fish is no value (it read 0.000).
function drawTrait(p, all, trait) {
  const s = all.filter((x) => x.population > 0);
  if (!s.length) {
    p.empty('No fish yet', 'a trait is measured over the living fish');
    return;
  }
  const m = trait + '_mean', sd = trait + '_std';
  const hasSd = sd in s[0];
  const lo = Math.min(...s.map((x) => x[m] - (hasSd ? x[sd] : 0)));
  const hi = Math.max(...s.map((x) => x[m] + (hasSd ? x[sd] : 0)));
  const pad = (hi - lo) * 0.05 || 0.05;
  const idx = pick(s.length);
  const { X, Y } = p.axes(s, lo - pad, hi + pad);
  if (hasSd) {
    p.area(trait + '_std', idx.map((i) => [X(s[i].frame), Y(s[i][m] + s[i][sd])]),
      idx.map((i) => [X(s[i].frame), Y(s[i][m] - s[i][sd])]), PALETTE[1], { class: 'area band' });
  }
  p.line(trait + '_mean', idx.map((i) => [X(s[i].frame), Y(s[i][m])]), PALETTE[1]);
  const last = all[all.length - 1], none = !(last.population > 0);
  p.keys([['mean', PALETTE[1], none ? '– (no fish)' : last[m].toFixed(3)],
          ...(hasSd ? [['± 1 sd', 'rgba(255,184,77,0.35)', none ? '–' : last[sd].toFixed(3)]] : [])]);
}

// Stacked shares; behaviour algorithms are many, so the 7 largest (over the window) and
// "other".
function drawShares(p, s, cols) {
  let groups = cols.map((c) => [c]);
  if (cols.length > PALETTE.length) {
    const sum = (c) => s.reduce((a, x) => a + (x[c] || 0), 0);
    const sorted = cols.slice().sort((a, b) => sum(b) - sum(a));
    groups = sorted.slice(0, PALETTE.length - 1).map((c) => [c]);
    groups.push(sorted.slice(PALETTE.length - 1));
  }
  const idx = pick(s.length);
  const { X, Y } = p.axes(s, 0, 1, (v) => Math.round(v * 100) + ' %');
  const base = idx.map(() => 0);
  const keys = [];
  groups.forEach((g, gi) => {
    const name = g.length === 1 ? words(g[0].replace(/^(strategy|algo)_/, '')) : 'other';
    const colour = g.length === 1 ? PALETTE[gi % PALETTE.length] : OTHER;
    const top = idx.map((i, k) => base[k] + g.reduce((a, c) => a + (s[i][c] || 0), 0));
    p.area(name, idx.map((i, k) => [X(s[i].frame), Y(top[k])]), idx.map((i, k) => [X(s[i].frame), Y(base[k])]), colour);
    top.forEach((v, k) => { base[k] = v; });
    keys.push([name, colour, g.reduce((a, c) => a + (s[s.length - 1][c] || 0), 0) * 100]);
  });
  const pct = wholePercents(keys.map((k) => k[2]));
  p.keys(keys.map((k, i) => [k[0], k[1], pct[i] + ' %']));
}

// Whole percents that add up to what the shares do (100 %): each rounded down, and the
// points left over go to the largest remainders (17+17+17+50 read 101 %).
function wholePercents(v) {
  const down = v.map(Math.floor);
  let left = Math.round(v.reduce((a, x) => a + x, 0)) - down.reduce((a, x) => a + x, 0);
  const order = v.map((x, i) => i).sort((a, b) => (v[b] - down[b]) - (v[a] - down[a]));
  for (const i of order) if (left-- > 0) down[i]++;
  return down;
}

export function historyPanel(tankId) {
  const traitPick = el('select', { id: 'trait-choice', 'aria-label': 'Trait' });
  const sharePick = el('select', { id: 'share-choice', 'aria-label': 'Shares of' },
    el('option', { value: 'strategy_' }, 'poker strategies'), el('option', { value: 'algo_' }, 'behaviour algorithms'));
  const pop = new Plot('plot-population', 'Population', null);
  const trait = new Plot('plot-trait', 'Trait mean', traitPick);
  const shares = new Plot('plot-shares', 'Shares', sharePick);
  const note = el('span', { class: 'muted', id: 'history-note' }, '');
  const section = el('section', { class: 'history', id: 'history' },
    el('header', { class: 'history-head' }, el('h3', {}, 'History'), note),
    el('div', { class: 'plots' }, pop.box, trait.box, shares.box));

  let columns = null, interval = 300, size = 0, samples = [], closed = false, timer = null;

  function draw() {
    if (!samples.length) {
      const sub = size === 0 && columns ? 'this tank keeps no history (history_size 0)'
        : `one sample every ${interval} frames (${span(interval / SIM_FPS)} of simulated time)`;
      for (const p of [pop, trait, shares]) p.empty('No samples yet', sub);
      return;
    }
    drawPopulation(pop, samples, columns.filter((c) => c.startsWith('deaths_')));
    drawTrait(trait, samples, traitPick.value || 'speed_modifier');
    drawShares(shares, samples, columns.filter((c) => c.startsWith(sharePick.value)));
    const a = samples[0].frame, b = samples[samples.length - 1].frame;
    note.textContent = `${samples.length} samples, frames ${a}–${b}, one every ${interval} frames`;
  }

  function setColumns(cols) {
    columns = cols;
    const traits = cols.filter((c) => c.endsWith('_mean')).map((c) => c.slice(0, -5));
    const keep = traitPick.value || 'speed_modifier';
    traitPick.replaceChildren(...traits.map((t) => el('option', { value: t }, words(t))));
    traitPick.value = traits.includes(keep) ? keep : traits[0];
  }

  async function load() {
    timer = null;
    if (closed) return;
    if (!document.hidden) {
      try {
        let since;
        if (!columns) {
          // The newest WINDOW samples only: a ring holds up to 100,000.
          const probe = await api(`/api/tanks/${tankId}/history?limit=1`);
          interval = probe.history_interval;
          size = probe.history_size;
          setColumns(probe.columns);
          since = Math.max(0, probe.frame - WINDOW * interval);
        } else {
          since = samples.length ? samples[samples.length - 1].frame : 0;
        }
        const r = await api(`/api/tanks/${tankId}/history?since=${since}`);
        if (closed) return;
        const fresh = r.samples.filter((x) => !samples.length || x.frame > samples[samples.length - 1].frame);
        if (fresh.length || !section.dataset.loaded) {
          samples = samples.concat(fresh).slice(-WINDOW);
          draw();
          section.dataset.loaded = 'true';
        }
      } catch (err) {
        note.textContent = 'History unavailable: ' + err.message;
      }
    }
    if (!closed) timer = setTimeout(load, REFRESH_MS);
  }
  traitPick.onchange = () => samples.length && draw();
  sharePick.onchange = () => samples.length && draw();
  load();
  return { el: section, close: () => { closed = true; if (timer) clearTimeout(timer); } };
}
