// The console's shell: sign-in, the pages a role may use, and keyboard handling.
// The page shown is in the URL's fragment (#review, …); the token never is.

import { api, token, setToken } from './api.js';
import * as pages from './pages.js';

const PAGES = [
  { id: 'review', title: 'Review', roles: ['reviewer', 'auditor'], render: pages.renderReview },
  { id: 'appeals', title: 'Appeals', roles: ['reviewer'], render: pages.renderAppeals },
  { id: 'banks', title: 'Banks', roles: ['curator', 'reviewer', 'auditor', 'admin'], render: pages.renderBanks },
  { id: 'policies', title: 'Policies', roles: ['curator', 'auditor'], render: pages.renderPolicies },
  { id: 'decisions', title: 'Decisions', roles: ['reviewer', 'auditor', 'platform'], render: pages.renderDecisions },
  { id: 'tokens', title: 'Tokens', roles: ['admin'], render: pages.renderTokens },
  { id: 'transparency', title: 'Transparency', roles: null, render: pages.renderTransparency },
];

const ctx = { role: null, name: null };
let keyHandler = null;

const nav = document.getElementById('nav');
const main = document.getElementById('main');
const who = document.getElementById('who');

function allowed(p) {
  return p.roles === null || (ctx.role && p.roles.includes(ctx.role));
}

function drawNav(current) {
  nav.replaceChildren(
    ...PAGES.filter(allowed).map((p) =>
      pages.h('a', { href: '#' + p.id, 'aria-current': p.id === current ? 'page' : false }, p.title),
    ),
  );
}

function drawWho() {
  if (ctx.role) {
    who.replaceChildren(
      pages.h('span', { id: 'signed-in' }, `${ctx.name} (${ctx.role})`),
      pages.h('button', { id: 'sign-out', onclick: signOut }, 'Sign out'),
    );
  } else {
    who.replaceChildren(pages.h('a', { href: '#signin', id: 'sign-in-link' }, 'Sign in'));
  }
}

function signOut() {
  setToken(null);
  ctx.role = ctx.name = null;
  drawWho();
  location.hash = '#signin';
  route();
}

function renderSignIn() {
  const input = pages.h('input', { type: 'password', id: 'token', autocomplete: 'off', required: true, spellcheck: 'false' });
  const err = pages.h('p', { class: 'field-error', id: 'token-err', role: 'alert' });
  input.setAttribute('aria-describedby', 'token-err');
  main.replaceChildren(
    pages.h('h2', {}, 'Sign in'),
    pages.h('p', { class: 'hint' }, 'Paste your Candor token. It stays in this tab only (sessionStorage) and is sent in the Authorization header.'),
    pages.h(
      'form',
      {
        id: 'signin-form',
        onsubmit: async (e) => {
          e.preventDefault();
          err.textContent = '';
          setToken(input.value.trim());
          try {
            const me = await api('GET', '/v1/whoami');
            ctx.role = me.role;
            ctx.name = me.name;
            input.value = '';
            drawWho();
            location.hash = '#' + (PAGES.find((p) => p.roles && allowed(p)) || PAGES[PAGES.length - 1]).id;
          } catch (e2) {
            setToken(null);
            err.textContent = 'Not signed in: ' + e2.message;
            input.focus();
          }
        },
      },
      pages.h('div', { class: 'field' }, pages.h('label', { for: 'token' }, 'Token'), input, err),
      pages.h('button', { type: 'submit', class: 'primary' }, 'Sign in'),
    ),
  );
  input.focus();
}

async function route() {
  const id = (location.hash || '').slice(1);
  keyHandler = null;
  if (id === 'signin' || (!ctx.role && id !== 'transparency' && id !== '')) {
    drawNav('signin');
    renderSignIn();
    return;
  }
  let page = PAGES.find((p) => p.id === id && allowed(p));
  if (!page) page = PAGES.find((p) => p.roles && allowed(p)) || PAGES[PAGES.length - 1];
  drawNav(page.id);
  document.title = page.title + ' — Candor';
  main.replaceChildren(pages.h('p', { role: 'status' }, 'Loading…'));
  try {
    keyHandler = (await page.render(main, ctx)) || null;
  } catch (e) {
    main.replaceChildren(pages.h('p', { class: 'status error', role: 'alert' }, String(e.message || e)));
  }
  const hd = main.querySelector('h2');
  if (hd && !main.contains(document.activeElement)) {
    hd.setAttribute('tabindex', '-1');
    hd.focus();
  }
}

document.addEventListener('keydown', (e) => {
  if (e.ctrlKey || e.metaKey || e.altKey) return;
  const t = e.target;
  if (t && (t.tagName === 'INPUT' || t.tagName === 'TEXTAREA' || t.tagName === 'SELECT')) return;
  if (keyHandler && keyHandler(e)) e.preventDefault();
});

window.addEventListener('hashchange', route);

// The skip link moves focus to the page's content; it is not a page of its own (#main).
document.querySelector('.skip').addEventListener('click', (e) => {
  e.preventDefault();
  main.focus();
});

(async () => {
  if (token()) {
    try {
      const me = await api('GET', '/v1/whoami');
      ctx.role = me.role;
      ctx.name = me.name;
    } catch (_) {
      setToken(null);
    }
  }
  drawWho();
  route();
})();
