// Building elements. Every value goes in as text (append of a string makes a text
// node) or as an attribute, never as HTML, so nothing an API answers can inject markup.
const SVG_NS = 'http://www.w3.org/2000/svg';

function fill(e, attrs, kids) {
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null) continue;
    if (k === 'class' && !(e instanceof SVGElement)) e.className = v;
    else if (k.startsWith('on') && typeof v === 'function') e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v);
  }
  for (const k of kids) if (k !== null && k !== undefined && k !== false) e.append(k);
  return e;
}

export const el = (tag, attrs = {}, ...kids) => fill(document.createElement(tag), attrs, kids);
export const svgEl = (tag, attrs = {}, ...kids) => fill(document.createElementNS(SVG_NS, tag), attrs, kids);
export const short = (id) => (id ? String(id).slice(0, 8) : '–');
