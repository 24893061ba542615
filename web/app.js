// tastebud web page. Feed text is hostile input: it only ever enters the
// DOM through textContent / setAttribute on safe attributes, never as markup.
'use strict';

const $ = (id) => document.getElementById(id);
let user = localStorage.getItem('tastebud.user') || '';

function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = String(text);
  if (cls) e.className = cls;
  return e;
}

function status(msg) { $('status').textContent = msg; }

async function api(method, path, body) {
  const opt = { method, headers: {} };
  if (body !== undefined) {
    opt.headers['Content-Type'] = 'application/json';
    opt.body = JSON.stringify(body);
  }
  const r = await fetch(path, opt);
  const j = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error(j.error || ('HTTP ' + r.status));
  return j;
}

function show() {
  const signed = !!user;
  $('signup').hidden = signed;
  $('me').hidden = !signed;
  if (signed) {
    $('user-id').textContent = user;
    refresh();
  }
}

async function refresh() {
  await Promise.all([loadFeeds(), loadRecs(), loadMap()]).catch((e) => status(e.message));
}

async function loadFeeds() {
  const j = await api('GET', '/api/feeds?user=' + encodeURIComponent(user));
  const ul = $('feeds');
  ul.replaceChildren();
  for (const f of j.feeds) {
    const li = el('li');
    li.appendChild(el('strong', f.title || f.url));
    li.appendChild(el('span', ' (' + f.items + ' items, ' + f.health + ')', 'health-' + f.health));
    li.appendChild(el('br'));
    li.appendChild(el('span', f.feed_url, 'feed-url'));
    const b = el('button', 'Copy', 'copy');
    b.type = 'button';
    b.addEventListener('click', () => navigator.clipboard && navigator.clipboard.writeText(f.feed_url));
    li.appendChild(b);
    ul.appendChild(li);
  }
}

async function loadRecs() {
  const j = await api('GET', '/api/recommendations?user=' + encodeURIComponent(user) + '&limit=20');
  $('recs-note').textContent = j.cold_start
    ? 'Newest items first. tastebud starts choosing after ' + j.min_reads + ' reads (' + j.reads + ' so far).'
    : 'Chosen from ' + j.reads + ' reads in ' + j.clusters + ' interests.';
  const ol = $('recs');
  ol.replaceChildren();
  for (const it of j.items) {
    const li = el('li');
    li.dataset.item = it.id;
    const a = el('a', it.title);
    a.href = it.link;            // our own /r/ link, built by the server
    a.rel = 'noreferrer noopener';
    a.target = '_blank';
    li.appendChild(a);
    li.appendChild(el('span', it.explanation, 'why'));
    for (const kind of ['like', 'dislike']) {
      const b = el('button', kind === 'like' ? 'Like' : 'Not for me');
      b.type = 'button';
      b.className = 'fb-' + kind;
      b.addEventListener('click', async () => {
        try {
          await api('POST', '/api/feedback', { user, item: it.id, kind });
          li.classList.add(kind === 'like' ? 'liked' : 'disliked');
          status('Thanks: noted that you ' + kind + ' “' + it.title + '”.');
        } catch (e) { status(e.message); }
      });
      li.appendChild(b);
    }
    ol.appendChild(li);
  }
}

const COLORS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2',
                '#7f7f7f', '#bcbd22', '#17becf'];

async function loadMap() {
  const j = await api('GET', '/api/interests?user=' + encodeURIComponent(user));
  const svg = $('map');
  const NS = 'http://www.w3.org/2000/svg';
  svg.replaceChildren();
  $('map-note').textContent = j.points.length
    ? j.points.length + ' items you read, placed by similarity (PCA), coloured by interest.'
    : 'Read a few items through your feeds and your interests appear here.';
  if (j.points.length) {
    let x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
    for (const p of j.points) { x0 = Math.min(x0, p.x); x1 = Math.max(x1, p.x); y0 = Math.min(y0, p.y); y1 = Math.max(y1, p.y); }
    const sx = (v) => 20 + (x1 > x0 ? (v - x0) / (x1 - x0) : 0.5) * 560;
    const sy = (v) => 20 + (y1 > y0 ? (v - y0) / (y1 - y0) : 0.5) * 360;
    for (const p of j.points) {
      const c = document.createElementNS(NS, 'circle');
      c.setAttribute('cx', sx(p.x).toFixed(1));
      c.setAttribute('cy', sy(p.y).toFixed(1));
      c.setAttribute('r', '6');
      c.setAttribute('fill', p.cluster >= 0 ? COLORS[p.cluster % COLORS.length] : '#999');
      const t = document.createElementNS(NS, 'title');
      t.textContent = p.title || '';
      c.appendChild(t);
      svg.appendChild(c);
    }
  }
  const ul = $('clusters');
  ul.replaceChildren();
  for (const c of j.clusters) {
    const li = el('li');
    const sw = el('span', '■ ');
    sw.style.color = COLORS[c.id % COLORS.length];
    li.appendChild(sw);
    li.appendChild(el('span', 'Interest ' + (c.id + 1) + ' (' + c.size + ' reads): ' + c.titles.join(' · ')));
    ul.appendChild(li);
  }
}

function setUser(id) {
  user = id;
  if (id) localStorage.setItem('tastebud.user', id); else localStorage.removeItem('tastebud.user');
  show();
}

document.addEventListener('DOMContentLoaded', () => {
  $('signup-btn').addEventListener('click', async () => {
    try { setUser((await api('POST', '/api/users', {})).id); } catch (e) { alert(e.message); }
  });
  $('use-btn').addEventListener('click', () => setUser($('user-input').value.trim()));
  $('signout-btn').addEventListener('click', () => setUser(''));
  $('feed-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    status('Adding…');
    try {
      const f = await api('POST', '/api/feeds', { user, url: $('feed-url').value });
      status('Added “' + (f.title || f.url) + '”. Your filtered feed: ' + f.feed_url);
      $('feed-url').value = '';
      refresh();
    } catch (e) { status(e.message); }
  });
  $('opml-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const file = $('opml-file').files[0];
    if (!file) return;
    const fd = new FormData();
    fd.append('user', user);
    fd.append('file', file);
    const r = await fetch('/api/opml', { method: 'POST', body: fd });
    const text = await r.text();
    if (!r.ok) { status(text); return; }
    const url = URL.createObjectURL(new Blob([text], { type: 'text/x-opml' }));
    $('opml-link').href = url;
    $('opml-result').hidden = false;
    status('Subscribed. Download the new OPML below.');
    refresh();
  });
  show();
});
