// The console's pages. Each `render*` fills `main` and returns an optional key handler.
// Everything shown from the API goes in as text (textContent), never as HTML.

import { api, upload, ApiError } from './api.js';
import { verifyProof } from './proof.js';
import { barChart, pairsOf, stackedChart } from './chart.js';
import { readBundle, sizeOf, summary } from './log.js';

export function h(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else if (k === 'class') e.className = v;
    else if (v === true) e.setAttribute(k, '');
    else e.setAttribute(k, String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    e.appendChild(typeof c === 'string' || typeof c === 'number' ? document.createTextNode(String(c)) : c);
  }
  return e;
}

let uid = 0;
// A labelled input; returns [wrapper, input, errorSlot].
function field(label, input, hint) {
  const id = input.id || 'f' + ++uid;
  input.id = id;
  const err = h('p', { class: 'field-error', id: id + '-err', role: 'alert' });
  input.setAttribute('aria-describedby', id + '-err');
  return [h('div', { class: 'field' }, h('label', { for: id }, label), input, hint ? h('p', { class: 'hint' }, hint) : null, err), input, err];
}

function status(msg, kind) {
  return h('p', { class: 'status ' + (kind || ''), role: kind === 'error' ? 'alert' : 'status' }, msg);
}

function say(slot, msg, kind) {
  slot.replaceChildren(status(msg, kind));
}

function errText(e) {
  return e instanceof ApiError ? `${e.message} (${e.code})` : String(e.message || e);
}

function table(headers, rows, caption) {
  return h(
    'table',
    {},
    caption ? h('caption', {}, caption) : null,
    h('thead', {}, h('tr', {}, headers.map((x) => h('th', { scope: 'col' }, x)))),
    h('tbody', {}, rows),
  );
}

function dl(pairs) {
  return h('dl', { class: 'kv' }, pairs.filter(([, v]) => v !== undefined && v !== null && v !== '').flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]));
}

function statementView(d) {
  const s = d.statement || {};
  return h(
    'section',
    { class: 'statement', 'aria-label': 'Statement of reasons' },
    h('h3', {}, 'Statement of reasons'),
    dl([
      ['Decision', `${d.action} by policy ${d.policy}`],
      ['Status', d.status],
      ['Decided by', d.decided_by],
      ['Where', (d.jurisdictions || []).join(', ')],
      ['Ground', s.decision_ground],
      ['Legal ground', s.illegal_content_legal_ground || s.incompatible_content_ground],
      ['Explanation', s.illegal_content_explanation || s.incompatible_content_explanation],
      ['Category', s.category],
      ['Visibility', (s.decision_visibility || []).join(', ')],
      ['Territorial scope', (s.territorial_scope || []).join(', ')],
      ['Automated detection', s.automated_detection],
      ['Automated decision', s.automated_decision],
      ['Log entry', d.log_index === null || d.log_index === undefined ? '' : String(d.log_index)],
    ]),
  );
}

function matchesView(matches) {
  const list = Array.isArray(matches) ? matches : [];
  if (!list.length) return h('p', {}, 'No bank matches (sampled or unhashable).');
  return table(
    ['Bank', 'Signal', 'Distance', 'Orientation', 'Trimmed'],
    list.map((m) => h('tr', {}, h('td', {}, m.bank || ''), h('td', {}, m.signal || ''), h('td', {}, String(m.distance ?? '')), h('td', {}, m.orientation || 'orig'), h('td', {}, m.trimmed ? 'yes' : 'no'))),
    'Matches that caused the hold',
  );
}

// ---------------------------------------------------------------- Review

export async function renderReview(main, ctx) {
  const canAct = ctx.role === 'reviewer';
  let items = [];
  let banks = [];
  let sel = 0;
  const picked = new Set();
  const out = h('div', { id: 'review-status', 'aria-live': 'polite' });
  const [reasonField, reason] = field('Reason for the next decision', h('input', { type: 'text', value: 'Reviewed against the policy', maxlength: 2000 }));
  const order = h('select', { id: 'queue-order' }, h('option', { value: 'oldest' }, 'Oldest first'), h('option', { value: 'priority' }, 'Highest priority first'));
  const [orderField] = field('Order', order);
  order.addEventListener('change', async () => {
    sel = 0;
    await load();
  });
  // A plain list (its items hold checkboxes, which an ARIA option may not): the current item is
  // marked aria-current, and the keys are named in the list's label.
  const list = h('ol', { class: 'queue', id: 'queue', 'aria-label': 'Review queue: j and k move, x selects, a confirms, r rejects, b confirms and adds to a bank, ? shows the keys', tabindex: 0 });
  const detail = h('section', { class: 'detail', id: 'review-detail', 'aria-label': 'Selected item' });
  const bankPick = h('select', { id: 'bank-pick' });
  const [bankField] = field('Add to bank', bankPick);
  const dialog = h(
    'dialog',
    { id: 'bank-dialog', 'aria-label': 'Confirm and add to a bank' },
    h('form', { method: 'dialog' }, h('h3', {}, 'Confirm and add to a bank'), bankField, h('div', { class: 'row' }, h('button', { value: 'ok', class: 'primary', id: 'bank-ok' }, 'Confirm and add'), h('button', { value: 'cancel', formnovalidate: true }, 'Cancel'))),
  );
  const help = h(
    'dialog',
    { id: 'help-dialog', 'aria-label': 'Keyboard help' },
    h('h3', {}, 'Keyboard'),
    dl([['j / k', 'next / previous item'], ['a', 'confirm the hold'], ['r', 'reject (lift the hold)'], ['b', 'confirm and add the content to a bank'], ['x', 'select for a bulk action'], ['?', 'this help']]),
    h('form', { method: 'dialog' }, h('button', { class: 'primary' }, 'Close')),
  );

  async function load() {
    try {
      items = await api('GET', '/v1/review?status=open&order=' + order.value);
    } catch (e) {
      say(out, errText(e), 'error');
      items = [];
    }
    if (sel >= items.length) sel = Math.max(0, items.length - 1);
    for (const id of [...picked]) if (!items.some((i) => i.id === id)) picked.delete(id);
    draw();
  }

  function draw() {
    list.replaceChildren(
      ...items.map((it, i) =>
        h(
          'li',
          { id: 'item-' + it.id, 'aria-current': i === sel ? 'true' : false, class: i === sel ? 'current' : '', 'data-id': it.id, onclick: () => { sel = i; draw(); } },
          // Picking is not moving: the item's own click (which moves) is not run.
          h('input', { type: 'checkbox', 'aria-label': 'select ' + it.puid, checked: picked.has(it.id), tabindex: -1, onclick: (e) => { e.stopPropagation(); e.target.checked ? picked.add(it.id) : picked.delete(it.id); } }),
          h('span', { class: 'kind' }, it.kind),
          h('span', { class: 'puid' }, it.puid),
          h('time', {}, it.created_at),
          h('span', { class: 'prio', title: 'review priority' }, 'priority ' + it.priority),
        ),
      ),
    );
    if (!items.length) list.appendChild(h('li', { class: 'empty' }, 'The queue is empty.'));
    showDetail();
  }

  async function showDetail() {
    const it = items[sel];
    if (!it) {
      detail.replaceChildren();
      return;
    }
    const parts = [h('h3', {}, it.puid), dl([['Item', it.id], ['Kind', it.kind], ['Priority', String(it.priority)], ['Queued', it.created_at], ['Preview', it.signals && it.signals.preview_url ? it.signals.preview_url : '']])];
    const sig = it.signals || {};
    parts.push(h('details', { open: true }, h('summary', {}, 'Signals'), h('pre', {}, JSON.stringify(sig, null, 2))));
    detail.replaceChildren(...parts);
    if (it.decision) {
      try {
        const d = await api('GET', '/v1/decisions/' + encodeURIComponent(it.decision));
        if (items[sel] !== it) return;
        detail.append(matchesView(d.matches), statementView(d));
      } catch (e) {
        detail.append(status(errText(e), 'error'));
      }
    }
  }

  async function act(ids, verb, bank) {
    if (!canAct) {
      say(out, 'Only a reviewer decides review items.', 'error');
      return;
    }
    const body = { reason: reason.value };
    if (bank) body.add_to_bank = bank;
    let done = 0;
    for (const id of ids) {
      try {
        const r = await api('POST', `/v1/review/${encodeURIComponent(id)}/${verb}`, { json: body });
        done++;
        say(out, `${r.puid}: ${r.status}${r.bank_content ? ' and added to ' + bank : ''}`, 'ok');
      } catch (e) {
        say(out, errText(e), 'error');
        break;
      }
    }
    if (ids.length > 1) say(out, `${done} of ${ids.length} items ${verb === 'confirm' ? 'confirmed' : 'rejected'}`, done === ids.length ? 'ok' : 'error');
    ids.forEach((i) => picked.delete(i));
    await load();
    list.focus();
  }

  function addToBank() {
    const it = items[sel];
    if (!it) return;
    bankPick.replaceChildren(...banks.map((b) => h('option', { value: b.name }, `${b.name} (${b.category})`)));
    dialog.returnValue = '';
    dialog.onclose = () => {
      if (dialog.returnValue === 'ok' && bankPick.value) act([it.id], 'confirm', bankPick.value);
      else list.focus();
    };
    dialog.showModal();
    bankPick.focus();
  }

  const bulk = h(
    'div',
    { class: 'row' },
    h('button', { onclick: () => act([...picked], 'confirm'), disabled: !canAct }, 'Confirm selected'),
    h('button', { onclick: () => act([...picked], 'reject'), disabled: !canAct }, 'Reject selected'),
    h('button', { onclick: () => help.showModal() }, 'Keyboard help (?)'),
  );
  main.replaceChildren(h('h2', {}, 'Review'), h('p', { class: 'hint' }, 'Held and sampled items, oldest first or highest priority first (the holding policy\'s review_priority; sampled content 0). Candor stores no content: the platform reference and hashes only.'), h('div', { class: 'cols' }, orderField, reasonField), bulk, out, h('div', { class: 'split' }, list, detail), dialog, help);
  try {
    banks = await api('GET', '/v1/banks');
  } catch (_) {
    banks = [];
  }
  await load();
  list.focus();

  return (e) => {
    if (e.target !== list && e.target !== document.body) return false;
    if (dialog.open || help.open) return false;
    const it = items[sel];
    switch (e.key) {
      case 'j':
        if (sel < items.length - 1) sel++;
        draw();
        break;
      case 'k':
        if (sel > 0) sel--;
        draw();
        break;
      case 'x':
        if (it) (picked.has(it.id) ? picked.delete(it.id) : picked.add(it.id), draw());
        break;
      case 'a':
        if (it) act([it.id], 'confirm');
        break;
      case 'r':
        if (it) act([it.id], 'reject');
        break;
      case 'b':
        addToBank();
        break;
      case '?':
        help.showModal();
        break;
      default:
        return false;
    }
    return true;
  };
}

// ---------------------------------------------------------------- Appeals

export async function renderAppeals(main, ctx) {
  const box = h('div', { id: 'appeals' });
  main.replaceChildren(h('h2', {}, 'Appeals'), h('p', { class: 'hint' }, 'Open appeals with the decision they contest. The reviewer who took a decision cannot decide its appeal.'), box);
  let appeals;
  try {
    appeals = await api('GET', '/v1/appeals?status=open');
  } catch (e) {
    box.replaceChildren(status(errText(e), 'error'));
    return;
  }
  if (!appeals.length) box.replaceChildren(h('p', {}, 'No open appeals.'));
  for (const a of appeals) {
    const out = h('div', { 'aria-live': 'polite' });
    const outcome = h('select', {}, h('option', { value: 'upheld' }, 'Uphold the decision'), h('option', { value: 'reversed' }, 'Reverse the decision'));
    const [of] = field('Outcome', outcome);
    const [rf, reason] = field('Reason', h('input', { type: 'text', required: true, maxlength: 2000 }));
    // Reversing a decision can also retract the bank content it matched (the bank was wrong).
    const retract = h('input', { type: 'checkbox', class: 'retract-matched' });
    const retractRow = a.decision ? h('label', { class: 'check' }, retract, ' When reversing, also retract the bank content the decision matched') : null;
    const card = h(
      'article',
      { class: 'card appeal', 'data-id': a.id, 'aria-label': 'Appeal ' + a.id },
      h('h3', {}, 'Appeal by ' + a.account),
      dl([['Appeal', a.id], ['Filed', a.created_at], ['Contests', a.decision ? 'decision ' + a.decision : 'bank addition by review ' + a.review_item], ['Their reason', a.reason]]),
      h(
        'form',
        {
          class: 'decide',
          onsubmit: async (e) => {
            e.preventDefault();
            try {
              const r = await api('POST', `/v1/appeals/${encodeURIComponent(a.id)}/decide`, { json: { outcome: outcome.value, reason: reason.value, retract_matched: outcome.value === 'reversed' && retract.checked } });
              const gone = (r.retracted || []).map((c) => `${c.bank}/${c.content_id}`);
              say(out, `Appeal ${r.outcome}.` + (gone.length ? ` Retracted: ${gone.join(', ')}.` : ''), 'ok');
              card.classList.add('done');
              card.querySelectorAll('button,input,select').forEach((x) => (x.disabled = true));
            } catch (err) {
              say(out, errText(err), 'error');
            }
          },
        },
        of,
        rf,
        ...(retractRow ? [retractRow] : []),
        h('button', { class: 'primary', type: 'submit', disabled: ctx.role !== 'reviewer' }, 'Decide'),
      ),
      out,
    );
    box.appendChild(card);
    if (a.decision) {
      api('GET', '/v1/decisions/' + encodeURIComponent(a.decision))
        .then((d) => card.insertBefore(statementView(d), card.querySelector('form')))
        .catch(() => {});
    }
  }
}

// ---------------------------------------------------------------- Banks

const PDQ = /^[0-9a-fA-F]{64}$/;

export async function renderBanks(main, ctx) {
  const curator = ctx.role === 'curator';
  const listBox = h('div', { id: 'bank-list' });
  const contentBox = h('section', { id: 'bank-content', 'aria-label': 'Bank content' });
  main.replaceChildren(h('h2', {}, 'Banks'), listBox, contentBox, compareSection());

  async function loadList() {
    let banks;
    try {
      banks = await api('GET', '/v1/banks');
    } catch (e) {
      listBox.replaceChildren(status(errText(e), 'error'));
      return;
    }
    listBox.replaceChildren(
      table(
        ['Bank', 'Category', 'Provenance', 'Enabled', 'PDQ threshold', 'Entries', ''],
        banks.map((b) =>
          h('tr', {}, h('td', {}, b.name), h('td', {}, b.category), h('td', {}, b.provenance), h('td', {}, b.enabled ? 'yes' : 'no'), h('td', {}, String(b.pdq_threshold)), h('td', {}, String(b.content_count)), h('td', {}, h('button', { onclick: () => openBank(b.name), 'aria-label': 'Open bank ' + b.name }, 'Open'))),
        ),
        'Banks',
      ),
    );
  }

  async function openBank(name) {
    const out = h('div', { 'aria-live': 'polite', id: 'bank-status' });
    const rows = h('tbody');
    const [hf, hashIn, hashErr] = field('PDQ hash (64 hex digits)', h('input', { type: 'text', spellcheck: 'false', autocomplete: 'off' }));
    const [nf, note] = field('Note', h('input', { type: 'text', maxlength: 500 }));
    const [ff, fileIn] = field('Or upload an image or file (hashed by the server, then discarded)', h('input', { type: 'file' }));
    const [sf, searchIn, searchErr] = field('Search this bank by PDQ hash', h('input', { type: 'search', spellcheck: 'false' }));
    const [lf, listIn] = field('Import a hash list (one per line: <pdq> or <signal> <hex>)', h('input', { type: 'file' }));
    const progress = h('progress', { max: 100, value: 0, 'aria-label': 'Import progress' });
    const searchOut = h('div', { 'aria-live': 'polite' });

    async function loadContent() {
      let page;
      try {
        page = await api('GET', `/v1/banks/${encodeURIComponent(name)}/content?limit=200`);
      } catch (e) {
        say(out, errText(e), 'error');
        return;
      }
      rows.replaceChildren(
        ...page.items.map((c) => {
          const [rsf, rin] = field('Retraction reason', h('input', { type: 'text', maxlength: 2000 }));
          const state = c.retracted_at ? 'retracted: ' + (c.retraction_reason || '') : c.enabled ? 'enabled' : 'disabled';
          return h(
            'tr',
            { 'data-id': c.id },
            h('td', {}, h('code', {}, c.id)),
            h('td', {}, c.signals.map((s) => h('div', {}, h('code', {}, `${s.signal} ${s.value}`)))),
            h('td', { class: 'state' }, state),
            h('td', {}, c.note),
            h(
              'td',
              {},
              c.retracted_at || !curator
                ? null
                : [
                    h('button', { onclick: () => change(c.id, 'PATCH', '', { enabled: !c.enabled }) }, c.enabled ? 'Disable' : 'Enable'),
                    h(
                      'form',
                      {
                        class: 'inline',
                        onsubmit: (e) => {
                          e.preventDefault();
                          change(c.id, 'POST', '/retract', { reason: rin.value });
                        },
                      },
                      rsf,
                      h('button', { type: 'submit' }, 'Retract'),
                    ),
                  ],
            ),
          );
        }),
      );
      if (!page.items.length) rows.appendChild(h('tr', {}, h('td', { colspan: 5 }, 'No entries.')));
    }

    async function change(id, method, suffix, json) {
      try {
        const c = await api(method, `/v1/banks/${encodeURIComponent(name)}/content/${encodeURIComponent(id)}${suffix}`, { json });
        say(out, `${c.id}: ${c.retracted_at ? 'retracted' : c.enabled ? 'enabled' : 'disabled'}`, 'ok');
      } catch (e) {
        say(out, errText(e), 'error');
      }
      await loadContent();
      loadList();
    }

    const addForm = h(
      'form',
      {
        id: 'add-content',
        onsubmit: async (e) => {
          e.preventDefault();
          hashErr.textContent = '';
          try {
            let c;
            if (fileIn.files.length) {
              c = await api('POST', `/v1/banks/${encodeURIComponent(name)}/content`, { body: fileIn.files[0], type: 'application/octet-stream' });
            } else {
              if (!PDQ.test(hashIn.value.trim())) {
                hashErr.textContent = 'A PDQ hash is 64 hex digits (or choose a file).';
                hashIn.focus();
                return;
              }
              c = await api('POST', `/v1/banks/${encodeURIComponent(name)}/content`, { json: { pdq: hashIn.value.trim(), note: note.value } });
            }
            say(out, `Added ${c.id}`, 'ok');
            hashIn.value = '';
            fileIn.value = '';
          } catch (err) {
            say(out, errText(err), 'error');
          }
          await loadContent();
          loadList();
        },
      },
      h('h4', {}, 'Add'),
      hf,
      nf,
      ff,
      h('button', { type: 'submit', class: 'primary', disabled: !curator }, 'Add to ' + name),
    );

    const searchForm = h(
      'form',
      {
        role: 'search',
        onsubmit: async (e) => {
          e.preventDefault();
          searchErr.textContent = '';
          const q = searchIn.value.trim();
          if (!PDQ.test(q)) {
            searchErr.textContent = 'A PDQ hash is 64 hex digits.';
            return;
          }
          try {
            const r = await api('GET', '/v1/lookup?pdq=' + q.toLowerCase());
            const found = r.matches.filter((m) => m.bank === name);
            searchOut.replaceChildren(found.length ? table(['Entry', 'Distance'], found.map((m) => h('tr', {}, h('td', {}, m.content_id), h('td', {}, String(m.distance)))), 'Entries within the bank threshold') : status('No entry of this bank within its threshold.'));
          } catch (err) {
            searchOut.replaceChildren(status(errText(err), 'error'));
          }
        },
      },
      sf,
      h('button', { type: 'submit' }, 'Search'),
    );

    const importForm = h(
      'form',
      {
        onsubmit: async (e) => {
          e.preventDefault();
          if (!listIn.files.length) return;
          progress.value = 0;
          try {
            const r = await upload('POST', `/v1/banks/${encodeURIComponent(name)}/import`, listIn.files[0], 'text/plain', (d, t) => (progress.value = Math.round((100 * d) / t)));
            progress.value = 100;
            say(out, `Imported ${r.imported} hashes`, 'ok');
          } catch (err) {
            say(out, errText(err), 'error');
          }
          await loadContent();
          loadList();
        },
      },
      h('h4', {}, 'Import'),
      lf,
      progress,
      h('button', { type: 'submit', disabled: !curator }, 'Import'),
    );

    const enabled = h('button', {
      onclick: async () => {
        try {
          const b = await api('GET', `/v1/banks/${encodeURIComponent(name)}`);
          await api('PATCH', `/v1/banks/${encodeURIComponent(name)}`, { json: { enabled: !b.enabled } });
          say(out, `${name} ${b.enabled ? 'disabled' : 'enabled'}`, 'ok');
        } catch (err) {
          say(out, errText(err), 'error');
        }
        loadList();
      },
      disabled: !curator,
    }, 'Enable / disable this bank');

    contentBox.replaceChildren(
      h('h3', { tabindex: -1, id: 'bank-title' }, 'Bank ' + name),
      enabled,
      out,
      h('table', {}, h('caption', {}, 'Entries'), h('thead', {}, h('tr', {}, ['Entry', 'Signals', 'State', 'Note', 'Actions'].map((x) => h('th', { scope: 'col' }, x)))), rows),
      h('div', { class: 'cols' }, addForm, h('div', {}, searchForm, searchOut), importForm),
    );
    await loadContent();
    contentBox.querySelector('#bank-title').focus();
  }

  await loadList();
}

// Two images or hashes compared by the server (POST /v1/compare, candor-signal's hashes): the
// distance of every orientation of the image side, and of its trimmed picture, to the other.
function compareSection() {
  const sideFields = (n, label) => {
    const [hf, hashIn, err] = field(label + ': PDQ hash (64 hex digits)', h('input', { type: 'text', spellcheck: 'false', autocomplete: 'off', id: 'compare-' + n + '-hash' }));
    const [ff, fileIn] = field(label + ': or an image (hashed by the server, then discarded)', h('input', { type: 'file', id: 'compare-' + n + '-file', accept: 'image/*' }));
    return { hf, ff, hashIn, fileIn, err };
  };
  const A = sideFields('a', 'First');
  const B = sideFields('b', 'Second');
  const [tf, thr, thrErr] = field('Threshold (empty: the service\'s)', h('input', { type: 'text', inputmode: 'numeric', id: 'compare-threshold' }));
  const out = h('div', { 'aria-live': 'polite', id: 'compare-out' });
  const part = (fd, name, s) => {
    s.err.textContent = '';
    if (s.fileIn.files.length) fd.append(name, s.fileIn.files[0], s.fileIn.files[0].name || name);
    else if (PDQ.test(s.hashIn.value.trim())) fd.append(name, s.hashIn.value.trim().toLowerCase());
    else {
      s.err.textContent = 'Give a PDQ hash of 64 hex digits or choose an image.';
      return false;
    }
    return true;
  };
  return h(
    'section',
    { 'aria-labelledby': 'compare-title', id: 'compare' },
    h('h3', { id: 'compare-title' }, 'Compare two images or hashes'),
    h('p', { class: 'hint' }, 'The distance of each rotation and flip of the image side, and of its picture inside a uniform border (trimmed), to the other side.'),
    h(
      'form',
      {
        id: 'compare-form',
        onsubmit: async (e) => {
          e.preventDefault();
          thrErr.textContent = '';
          const fd = new FormData();
          const okA = part(fd, 'a', A);
          const okB = part(fd, 'b', B);
          if (!okA || !okB) return;
          const t = thr.value.trim();
          if (t && !/^[0-9]+$/.test(t)) {
            thrErr.textContent = 'A whole number of bits, 0 to 256.';
            return;
          }
          out.replaceChildren(status('Comparing…'));
          try {
            const r = await api('POST', '/v1/compare' + (t ? '?threshold=' + t : ''), { body: fd });
            out.replaceChildren(compareView(r));
          } catch (err) {
            out.replaceChildren(status(errText(err), 'error'));
          }
        },
      },
      h('div', { class: 'cols' }, h('fieldset', {}, h('legend', {}, 'First'), A.hf, A.ff), h('fieldset', {}, h('legend', {}, 'Second'), B.hf, B.ff)),
      tf,
      h('button', { type: 'submit', class: 'primary' }, 'Compare'),
    ),
    out,
  );
}

function compareView(r) {
  const b = r.best;
  const name = (v) => v.orientation + (v.trimmed ? ' (trimmed)' : '');
  const sideDl = (label, s) => dl([[label, s.kind === 'image' ? `image, quality ${s.quality}` : 'hash'], ['PDQ', h('code', {}, s.pdq)], ['Trimmed PDQ', s.pdq_trimmed ? h('code', {}, s.pdq_trimmed) : '']]);
  const rows = r.variants.map((v) =>
    h(
      'tr',
      { class: v.within ? 'within' : 'over', 'data-orientation': v.orientation, 'data-trimmed': v.trimmed ? 'true' : 'false', 'data-against': v.against },
      h('td', {}, name(v)),
      h('td', {}, v.against === 'pdq' ? 'hash' : 'trimmed hash'),
      h('td', { class: 'num' }, String(v.distance)),
      h('td', {}, v.within ? `within (≤ ${r.threshold})` : `over ${r.threshold}`),
      h('td', {}, distanceBar(v.distance, r.threshold)),
    ),
  );
  const of = r.varied === 'b' ? 'second' : 'first';
  return h(
    'div',
    {},
    status(`${r.matches ? 'A match' : 'No match'}: closest is ${name(b)} at distance ${b.distance} of 256 bits (threshold ${r.threshold}, ${r.threshold_from}).`, r.matches ? 'ok' : ''),
    h('div', { class: 'cols' }, sideDl('First', r.a), sideDl('Second', r.b)),
    table(['Variant of the ' + of, 'Against the other\'s', 'Distance', 'Threshold', ''], rows, r.varied ? `Each orientation of the ${of} side against the other side` : 'Hash against hash'),
  );
}

// A bar of the distance out of 64 bits shown, with the threshold as a line (text says the same).
function distanceBar(d, t) {
  const NS = 'http://www.w3.org/2000/svg';
  const max = Math.max(64, t + 8);
  const w = 160;
  const svg = document.createElementNS(NS, 'svg');
  svg.setAttribute('viewBox', `0 0 ${w} 12`);
  svg.setAttribute('class', 'dbar');
  svg.setAttribute('aria-hidden', 'true');
  const bar = document.createElementNS(NS, 'rect');
  bar.setAttribute('x', 0);
  bar.setAttribute('y', 2);
  bar.setAttribute('height', 8);
  bar.setAttribute('width', Math.max(1, (Math.min(d, max) / max) * w));
  bar.setAttribute('class', d <= t ? 'dbar-in' : 'dbar-out');
  const line = document.createElementNS(NS, 'line');
  const x = (t / max) * w;
  line.setAttribute('x1', x);
  line.setAttribute('x2', x);
  line.setAttribute('y1', 0);
  line.setAttribute('y2', 12);
  line.setAttribute('class', 'dbar-t');
  svg.append(bar, line);
  return svg;
}

// ---------------------------------------------------------------- Policies

const FIELDS = [
  ['id', 'Id', 'text'],
  ['name', 'Name', 'text'],
  ['action', 'Action (block, withhold, hold_for_review)', 'text'],
  ['banks', 'Banks (comma-separated)', 'list'],
  ['categories', 'Categories (comma-separated)', 'list'],
  ['jurisdictions', 'Jurisdictions (comma-separated ISO codes; none = everywhere)', 'list'],
  ['surfaces', 'Surfaces (comma-separated; none = all)', 'list'],
  ['max_distance', 'Max PDQ distance', 'number'],
  ['review_priority', 'Review priority (0–100, higher reviewed first; hold_for_review only)', 'number'],
  ['decision_ground', 'Decision ground', 'text'],
  ['legal_ground', 'Legal ground', 'text'],
  ['explanation', 'Explanation', 'textarea'],
];

export async function renderPolicies(main, ctx) {
  const out = h('div', { id: 'policy-status', 'aria-live': 'polite' });
  const box = h('div', { id: 'policy-editor' });
  main.replaceChildren(h('h2', {}, 'Policies'), out, box);
  let set;
  try {
    set = await api('GET', '/v1/policies', { anonymous: true });
  } catch (e) {
    say(out, errText(e), 'error');
    return;
  }
  const lints = set.lints || [];
  delete set.lints;
  const policies = set.policies || [];
  const picker = h('select', { id: 'policy-pick' }, policies.map((p, i) => h('option', { value: i }, p.id)));
  const [pf] = field('Policy', picker);
  const form = h('form', { id: 'policy-form', novalidate: true });
  const preview = h('section', { id: 'policy-preview', 'aria-live': 'polite', 'aria-label': 'What the change does' });
  const inputs = {};
  const errs = {};

  function fill() {
    const p = policies[Number(picker.value)] || {};
    form.replaceChildren();
    for (const [key, label, kind] of FIELDS) {
      const v = p[key];
      const input = kind === 'textarea' ? h('textarea', { name: key, rows: 3 }) : h('input', { name: key, type: 'text', spellcheck: 'false' });
      input.value = v === undefined || v === null ? '' : Array.isArray(v) ? v.join(', ') : String(v);
      const [f, , err] = field(label, input);
      inputs[key] = input;
      errs[key] = err;
      form.appendChild(f);
    }
    form.append(
      h('div', { class: 'row' }, h('button', { type: 'button', id: 'simulate', onclick: simulate }, 'Show what it will do'), h('button', { type: 'submit', class: 'primary', disabled: ctx.role !== 'curator' }, 'Save')),
    );
  }

  function proposed() {
    const i = Number(picker.value);
    const p = { ...policies[i] };
    for (const [key, , kind] of FIELDS) {
      const raw = inputs[key].value.trim();
      if (kind === 'list') {
        const l = raw ? raw.split(',').map((s) => s.trim()).filter(Boolean) : [];
        if (l.length) p[key] = l;
        else delete p[key];
      } else if (kind === 'number') {
        if (raw === '') delete p[key];
        else p[key] = /^-?[0-9]+$/.test(raw) ? Number(raw) : raw;
      } else if (raw === '') delete p[key];
      else p[key] = raw;
    }
    const all = policies.slice();
    all[i] = p;
    return { ...set, policies: all };
  }

  function clearErrors() {
    for (const k of Object.keys(errs)) {
      errs[k].textContent = '';
      inputs[k].removeAttribute('aria-invalid');
    }
  }

  // The server's message names what is wrong; show it at that field when it names one.
  function showError(e) {
    const msg = errText(e);
    const hit = FIELDS.map(([k]) => k)
      .filter((k) => new RegExp('(^|[^a-z_`])`?' + k + '`?([^a-z_]|$)').test(msg))
      .sort((a, b) => msg.indexOf(a) - msg.indexOf(b))[0];
    const known = ['block', 'withhold', 'hold_for_review'];
    const key = hit || (msg.includes('variant') && !known.includes(inputs.action.value.trim()) ? 'action' : null);
    if (key) {
      errs[key].textContent = msg;
      inputs[key].setAttribute('aria-invalid', 'true');
      inputs[key].focus();
    }
    say(out, 'Not saved: ' + msg, 'error');
  }

  // What saving would change, from the server (POST /v1/policies/preview): the policies and
  // fields, and the answers per bank, surface and jurisdiction.
  async function simulate() {
    clearErrors();
    let r;
    try {
      r = await api('POST', '/v1/policies/preview', { json: proposed() });
    } catch (e) {
      preview.replaceChildren();
      showError(e);
      return;
    }
    preview.replaceChildren(h('h3', {}, 'What this change does'), ...previewView(r));
  }

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearErrors();
    try {
      const r = await api('PUT', '/v1/policies', { json: proposed() });
      say(out, 'Saved. ' + (r.policies || []).length + ' policies in force.', 'ok');
      set = r;
      delete set.lints;
      policies.splice(0, policies.length, ...(r.policies || []));
    } catch (err) {
      showError(err);
    }
  });

  picker.addEventListener('change', fill);
  box.replaceChildren(pf, lints.length ? h('ul', { class: 'lints' }, lints.map((l) => h('li', {}, `${l.level}: ${l.message}`))) : null, form, preview);
  fill();
}

const shown = (v) => (v === null || v === undefined ? '—' : Array.isArray(v) ? (v.length ? v.join(', ') : '—') : String(v));
const answer = (c) => (c.policy ? `${c.action} (${c.policy})` : c.action);

// The preview as tables: policies and fields that change, then the answers that change.
function previewView(r) {
  const parts = [];
  const frows = [];
  for (const p of r.policies) {
    p.fields.forEach((f, i) =>
      frows.push(
        h(
          'tr',
          { 'data-policy': p.policy, 'data-field': f.field },
          i === 0 ? h('th', { scope: 'rowgroup', rowspan: p.fields.length }, p.policy) : null,
          i === 0 ? h('td', { rowspan: p.fields.length }, p.change) : null,
          h('td', {}, f.field),
          h('td', {}, shown(f.from)),
          h('td', {}, shown(f.to)),
          h('td', { class: 'added' }, (f.added || []).join(', ')),
          h('td', { class: 'removed' }, (f.removed || []).join(', ')),
        ),
      ),
    );
  }
  for (const f of r.sampling) frows.push(h('tr', { 'data-policy': '[sampling]', 'data-field': f.field }, h('th', { scope: 'row' }, '[sampling]'), h('td', {}, 'updated'), h('td', {}, f.field), h('td', {}, shown(f.from)), h('td', {}, shown(f.to)), h('td', {}, ''), h('td', {}, '')));
  parts.push(frows.length ? Object.assign(table(['Policy', 'Change', 'Field', 'Now', 'After', 'Added', 'Removed'], frows, 'Policies that change'), { id: 'preview-policies' }) : h('p', { id: 'preview-policies' }, 'No policy changes.'));
  const erows = r.effects.map((g) =>
    h(
      'tr',
      { 'data-subject': g.subject },
      h('td', {}, g.subject === 'unhashable' ? 'content that cannot be hashed' : g.subject),
      h('td', {}, g.surfaces.join(', ')),
      h('td', {}, g.senders.join(', ')),
      h('td', {}, g.targets.join(', ')),
      h('td', { class: 'from' }, answer(g.from)),
      h('td', { class: 'to' }, answer(g.to)),
    ),
  );
  parts.push(
    erows.length
      ? Object.assign(table(['Bank', 'Surfaces', 'Sent from', 'To (recipients, audiences)', 'Now', 'After'], erows, `Answers that change (${r.changed_cells} cells; "other" is any jurisdiction no policy names)`), { id: 'preview-effects' })
      : h('p', { id: 'preview-effects' }, 'No answer changes for an exact match in any bank.'),
  );
  if ((r.lints || []).length) parts.push(h('ul', { class: 'lints' }, r.lints.map((l) => h('li', {}, `${l.level}: ${l.message}`))));
  return parts;
}

// ---------------------------------------------------------------- Decisions

// The notices about a decision as each person received them (the server's texts, verbatim).
async function noticesView(d) {
  const box = h('section', { class: 'notices', 'aria-label': 'Notices as the people affected see them' }, h('h4', {}, 'Notices as the people affected see them'));
  let ns;
  try {
    ns = await api('GET', `/v1/decisions/${encodeURIComponent(d.id)}/notices`);
  } catch (e) {
    box.append(status(errText(e), 'error'));
    return box;
  }
  if (!ns.length) box.append(h('p', {}, 'No notices.'));
  for (const n of ns) {
    const who = n.role === 'sender' ? 'the sender' : n.role === 'recipient' ? 'a recipient' : n.role;
    box.append(
      h(
        'article',
        { class: 'notice', 'data-id': n.id, 'data-role': n.role, 'data-kind': n.kind },
        h('h5', {}, `To ${who} (${n.account}), ${n.kind === 'decision' ? 'the decision' : n.kind.replace(/_/g, ' ')}, ${n.created_at}`),
        n.deferred_legal_basis && !n.released_at ? status(`Deferred (not yet shown to them): ${n.deferred_legal_basis}`) : null,
        h('pre', { class: 'note notice-text' }, n.text),
        n.appeal ? h('p', { class: 'hint' }, n.appeal) : null,
      ),
    );
  }
  return box;
}

export async function renderDecisions(main) {
  const by = h('select', { id: 'decision-by' }, h('option', { value: 'id' }, 'decision id'), h('option', { value: 'puid' }, 'content id (the platform\'s)'));
  const [bf] = field('Find by', by);
  const [f, input, err] = field('Decision id or content id', h('input', { type: 'search', spellcheck: 'false' }));
  const out = h('div', { id: 'decision-out', 'aria-live': 'polite' });
  const one = (d) => {
    const card = h('article', { class: 'card decision', 'data-id': d.id }, h('h3', {}, 'Decision ' + d.id + ' on ' + d.puid), dl([['Surface', d.surface], ['Made', d.created_at], ['Review item', d.review_item || '']]), matchesView(d.matches), statementView(d));
    noticesView(d).then((n) => card.append(n));
    return card;
  };
  main.replaceChildren(
    h('h2', {}, 'Decisions'),
    h(
      'form',
      {
        role: 'search',
        onsubmit: async (e) => {
          e.preventDefault();
          err.textContent = '';
          const id = input.value.trim();
          if (!id) {
            err.textContent = by.value === 'id' ? 'Give a decision id.' : 'Give a content id.';
            return;
          }
          try {
            if (by.value === 'id') {
              out.replaceChildren(one(await api('GET', '/v1/decisions/' + encodeURIComponent(id))));
            } else {
              const ds = await api('GET', '/v1/decisions?puid=' + encodeURIComponent(id));
              out.replaceChildren(h('p', { class: 'hint', id: 'decision-count' }, ds.length ? `${ds.length} decision(s) about content ${id}, newest first` : `No decision about content ${id}.`), ...ds.map(one));
            }
          } catch (e2) {
            out.replaceChildren(status(errText(e2), 'error'));
          }
        },
      },
      bf,
      f,
      h('button', { type: 'submit' }, 'Find'),
    ),
    out,
  );
  input.focus();
}

// ---------------------------------------------------------------- Transparency

export async function renderTransparency(main) {
  const cp = h('pre', { id: 'checkpoint', class: 'note' }, '…');
  const [kf, key] = field('Log key', h('input', { type: 'text', spellcheck: 'false', id: 'log-key' }));
  const [tf, proofText] = field('Notice proof file (paste, or choose the file)', h('textarea', { rows: 8, id: 'proof-text', spellcheck: 'false' }));
  const [uf, proofFile] = field('Proof file', h('input', { type: 'file', id: 'proof-file' }));
  const result = h('div', { id: 'proof-result', 'aria-live': 'polite' });
  const dash = h('div', { id: 'dashboard', class: 'charts' });
  const fromLog = h('div', { id: 'log-charts', class: 'charts' });
  const entriesBox = h('div', { id: 'entries' });
  proofFile.addEventListener('change', async () => {
    if (proofFile.files.length) proofText.value = await proofFile.files[0].text();
  });
  main.replaceChildren(
    h('h2', {}, 'Transparency'),
    h('p', { class: 'hint' }, 'No sign-in needed. Proofs are checked here, in your browser, with WebCrypto: the same checks as candor log verify-proof.'),
    h('section', { 'aria-label': 'Checkpoint' }, h('h3', {}, 'Latest checkpoint'), cp),
    h(
      'section',
      { 'aria-label': 'Verify a notice proof' },
      h('h3', {}, 'Verify a notice proof'),
      h(
        'form',
        {
          id: 'proof-form',
          onsubmit: async (e) => {
            e.preventDefault();
            try {
              const v = await verifyProof(proofText.value, key.value);
              result.replaceChildren(status(`Proof verified: entry ${v.index} is in the log ${v.origin} (checkpoint of ${v.size} entries, leaf ${v.leafHash.slice(0, 16)}…)`, 'ok verified'));
            } catch (err) {
              result.replaceChildren(status('Proof refused: ' + err.message, 'error refused'));
            }
          },
        },
        kf,
        tf,
        uf,
        h('button', { type: 'submit', class: 'primary' }, 'Verify'),
      ),
      result,
    ),
    h('section', { 'aria-label': 'Numbers' }, h('h3', {}, 'Numbers'), dash),
    h('section', { 'aria-label': 'From the log' }, h('h3', {}, 'From the log'), fromLog),
    h('section', { 'aria-label': 'Log entries' }, h('h3', {}, 'Log entries'), entriesBox),
  );
  let size = 0;
  try {
    cp.textContent = await api('GET', '/log/checkpoint', { text: true, anonymous: true });
    size = sizeOf(cp.textContent);
    key.value = (await api('GET', '/log/key', { text: true, anonymous: true })).trim();
  } catch (e) {
    cp.textContent = errText(e);
  }
  try {
    const n = await api('GET', '/v1/numbers', { anonymous: true });
    const d = n.decisions || {};
    const r = n.reviews || {};
    const a = n.appeals || {};
    const decided = (a.upheld || 0) + (a.reversed || 0);
    const reversal = decided ? Math.round((100 * a.reversed) / decided) : 0;
    const short = (o) => Object.fromEntries(Object.entries(o || {}).map(([k, v]) => [k.replace(/^STATEMENT_CATEGORY_/, ''), v]));
    dash.replaceChildren(
      dl([['Log entries', String(n.tree_size)], ['Decisions', String(d.total)], ['Automated / by a person', `${d.automated} / ${d.human}`], ['Appeals', String(a.total)], ['Appeals decided', String(decided)], ['Reversal rate (of decided appeals)', decided ? reversal + ' %' : '—']]),
      barChart('Actions', pairsOf(d.by_action)),
      barChart('By policy', pairsOf(d.by_policy)),
      barChart('By category', pairsOf(short(d.by_category))),
      barChart('By jurisdiction', pairsOf(d.by_jurisdiction)),
      barChart('By surface', pairsOf(d.by_surface)),
      barChart('Reviews and appeals', [['reviews confirmed', r.confirmed || 0], ['reviews rejected', r.rejected || 0], ['samples', (n.samples || {}).total || 0], ['appeals upheld', a.upheld || 0], ['appeals reversed', a.reversed || 0]]),
    );
  } catch (e) {
    dash.replaceChildren(status(errText(e), 'error'));
  }
  if (size > 0) {
    await logCharts(fromLog, size);
    await showEntries(entriesBox, size, Math.floor((size - 1) / 256));
  } else {
    entriesBox.replaceChildren(h('p', {}, 'The log is empty.'));
  }
}

// Charts recomputed in the browser from the newest log entries (up to 16 bundles), each entry
// checked against the log's hash tiles: anyone can redo them from the public log.
async function logCharts(box, size) {
  const last = Math.floor((size - 1) / 256);
  const first = Math.max(0, last - 15);
  let entries = [];
  try {
    for (let n = first; n <= last; n++) entries = entries.concat(await readBundle(n, size));
  } catch (e) {
    box.replaceChildren(status('The log could not be read: ' + e.message, 'error'));
    return;
  }
  const decisions = entries.filter((x) => x.entry.type === 'decision').map((x) => x.entry);
  // Decisions per day, grouped by one of the entry's own fields (a decision withheld in
  // several jurisdictions counts once in each).
  const groups = {
    policy: (d) => [d.policy],
    action: (d) => [d.action],
    category: (d) => [String(d.category).replace(/^STATEMENT_CATEGORY_/, '')],
    jurisdiction: (d) => (d.territorial_scope && d.territorial_scope.length ? d.territorial_scope : ['(none)']),
    surface: (d) => [d.surface],
  };
  const perDay = (by) => {
    const byDay = new Map();
    for (const d of decisions) {
      const day = String(d.time).slice(0, 10);
      const o = byDay.get(day) || {};
      for (const k of groups[by](d)) o[k] = (o[k] || 0) + 1;
      byDay.set(day, o);
    }
    return stackedChart('Decisions per day, by ' + by, [...byDay.entries()].sort((p, q) => p[0].localeCompare(q[0])));
  };
  const groupBy = h('select', { id: 'per-day-by' }, ...Object.keys(groups).map((k) => h('option', { value: k }, k)));
  const [groupField] = field('Group decisions per day by', groupBy);
  const perDayBox = h('div', {}, perDay('policy'));
  groupBy.addEventListener('change', () => perDayBox.replaceChildren(perDay(groupBy.value)));
  const buckets = [['exact (no distance)', 0]];
  for (let lo = 0; lo < 32; lo += 4) buckets.push([`${lo}–${lo + 3}`, 0]);
  buckets.push(['over 31', 0]);
  for (const d of decisions) {
    if (d.bank === undefined || d.bank === null) continue;
    if (d.distance === undefined || d.distance === null) buckets[0][1]++;
    else if (d.distance > 31) buckets[buckets.length - 1][1]++;
    else buckets[1 + Math.floor(d.distance / 4)][1]++;
  }
  const kinds = {};
  for (const x of entries) kinds[x.entry.type] = (kinds[x.entry.type] || 0) + 1;
  box.replaceChildren(
    h('p', { class: 'hint' }, `Recomputed here from entries ${entries[0].index}–${entries[entries.length - 1].index} of ${size} (each checked against the log's hash tiles).`),
    groupField,
    perDayBox,
    barChart('Match distance of decisions (PDQ bits)', buckets),
    barChart('Entries by type', pairsOf(kinds)),
  );
}

// One bundle of entries (up to 256), newest first, with older/newer paging.
async function showEntries(box, size, n) {
  const last = Math.floor((size - 1) / 256);
  box.replaceChildren(status('Reading the log…'));
  let rows;
  try {
    rows = await readBundle(n, size);
  } catch (e) {
    box.replaceChildren(status('The log could not be read: ' + e.message, 'error'));
    return;
  }
  const types = ['all', ...new Set(rows.map((r) => r.entry.type))];
  const pick = h('select', { id: 'entry-type' }, ...types.map((t) => h('option', { value: t }, t)));
  const [pf] = field('Show', pick);
  const tableBox = h('div');
  const draw = () => {
    const shown = rows.filter((r) => pick.value === 'all' || r.entry.type === pick.value).reverse();
    const trs = shown.map((r) => h('tr', { 'data-index': r.index }, h('td', {}, String(r.index)), h('td', {}, String(r.entry.time)), h('td', {}, r.entry.type), h('td', { class: 'summary' }, summary(r.entry))));
    const t = table(['Index', 'Time', 'Type', 'Fields'], trs, `Entries ${rows[0].index}–${rows[rows.length - 1].index} of ${size}, newest first`);
    t.classList.add('entries');
    tableBox.replaceChildren(t);
  };
  pick.addEventListener('change', draw);
  const nav = h(
    'div',
    { class: 'pager' },
    h('button', { type: 'button', id: 'entries-newer', disabled: n >= last, onclick: () => showEntries(box, size, n + 1) }, 'Newer'),
    ' ',
    h('button', { type: 'button', id: 'entries-older', disabled: n <= 0, onclick: () => showEntries(box, size, n - 1) }, 'Older'),
  );
  box.replaceChildren(h('p', { class: 'hint', id: 'entries-checked' }, `${rows.length} entries read from /log/tile, each matching its leaf hash.`), pf, nav, tableBox);
  draw();
}

// ---------------------------------------------------------------- Tokens

export async function renderTokens(main) {
  const out = h('div', { id: 'token-status', 'aria-live': 'polite' });
  const rows = h('tbody');
  const role = h('select', {}, ['reviewer', 'curator', 'platform', 'auditor', 'admin'].map((r) => h('option', { value: r }, r)));
  const [rf] = field('Role', role);
  const [nf, name] = field('Name (who holds it)', h('input', { type: 'text', required: true, maxlength: 200 }));
  async function load() {
    try {
      const list = await api('GET', '/v1/tokens');
      rows.replaceChildren(
        ...list.map((t) =>
          h('tr', {}, h('td', {}, t.name), h('td', {}, t.role), h('td', {}, t.created_at), h('td', {}, t.revoked_at || ''), h('td', {}, t.revoked_at ? null : h('button', { onclick: () => revoke(t) }, 'Revoke ' + t.name))),
        ),
      );
    } catch (e) {
      say(out, errText(e), 'error');
    }
  }
  async function revoke(t) {
    try {
      await api('DELETE', '/v1/tokens/' + encodeURIComponent(t.id));
      say(out, `Revoked ${t.name}`, 'ok');
    } catch (e) {
      say(out, errText(e), 'error');
    }
    load();
  }
  main.replaceChildren(
    h('h2', {}, 'Tokens'),
    h(
      'form',
      {
        onsubmit: async (e) => {
          e.preventDefault();
          try {
            const t = await api('POST', '/v1/tokens', { json: { role: role.value, name: name.value } });
            out.replaceChildren(status(`Token for ${t.name} (${t.role}) — shown once, copy it now:`, 'ok'), h('input', { type: 'text', readonly: true, value: t.token, 'aria-label': 'the new token', class: 'secret', onfocus: (ev) => ev.target.select() }));
          } catch (err) {
            say(out, errText(err), 'error');
          }
          load();
        },
      },
      rf,
      nf,
      h('button', { type: 'submit', class: 'primary' }, 'Create token'),
    ),
    out,
    h('table', {}, h('caption', {}, 'Tokens'), h('thead', {}, h('tr', {}, ['Name', 'Role', 'Created', 'Revoked', ''].map((x) => h('th', { scope: 'col' }, x)))), rows),
  );
  await load();
}
