// tankworld's viewer: a single page with hash routes, so every view can be bookmarked.
//   #/                this server's tanks
//   #/tanks/{id}      one tank, live
//   #/network         the network map
// "#token=..." (printed by the demo) stores the cluster token for the session.
import { takeTokenFromHash } from './api.js';
import { el } from './dom.js';
import { networkView } from './network.js';
import { tankList, tankView } from './tank.js';

const root = document.getElementById('view');
let cleanup = null;

function route() {
  takeTokenFromHash();
  if (cleanup) cleanup();
  cleanup = null;
  const h = location.hash.replace(/^#/, '') || '/';
  for (const a of document.querySelectorAll('nav a')) {
    a.classList.toggle('active', h === a.getAttribute('href').slice(1) ||
      (h.startsWith('/tanks/') && a.getAttribute('href') === '#/'));
  }
  let m;
  if ((m = h.match(/^\/tanks\/([A-Za-z0-9._:>-]{1,64})$/))) {
    cleanup = tankView(root, m[1]);
  } else if (h === '/network') {
    document.title = 'Network · tankworld';
    cleanup = networkView(root);
  } else if (h === '/') {
    document.title = 'tankworld';
    cleanup = tankList(root);
  } else {
    // An address that names no view says so (it showed the tank list, as if it did).
    document.title = 'No such page · tankworld';
    root.replaceChildren(el('section', { class: 'not-found', id: 'not-found' },
      el('h2', {}, 'No such page'),
      el('p', {}, 'This address names no view of the viewer: ', el('code', {}, '#' + h)),
      el('p', {}, el('a', { href: '#/' }, 'This server\u2019s tanks'), ' · ', el('a', { href: '#/network' }, 'the network map'))));
  }
}

window.addEventListener('hashchange', route);
route();
