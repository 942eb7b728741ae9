// The review page: one queued frame at a time, scaled to the window (zoom: review_zoom.js), its boxes
// editable over it (review_boxes.js); the next frame's image is loaded while this one is reviewed. Each
// decision is posted as the API's review body ({action, detections, comment, review_ms}) to
// /ui/review/<id>/decision, review_ms being the time from showing the frame to the decision. Back (B) shows the frames of this session again,
// skipped or decided: a new decision on one is a new review that replaces the earlier one (the history keeps
// both; the retrain's count takes a frame once, by its latest review). Keys: review_keys.js (and the legend).
(function () {
  "use strict";
  const $ = (id) => document.getElementById(id);
  const data = JSON.parse($("review-data").textContent);
  const PALETTE = ["#e6194b", "#3cb44b", "#4363d8", "#f58231", "#911eb4", "#42d4f4", "#f032e6", "#bfef45",
    "#fabed4", "#469990", "#dcbeff", "#9a6324", "#800000", "#aaffc3", "#808000", "#000075"];
  const PREFETCH = 2; // images loaded ahead
  const REFILL_AT = 3; // frames left in the batch when the next batch is asked for
  const app = $("review-app");
  const main = $("rv-main");
  const frame = $("rv-frame");
  const stage = $("rv-stage");
  const accept = $("rv-accept");
  const comment = $("rv-comment");
  const st = {
    items: data.items.slice(), pos: 0, seen: new Set(data.items.map((i) => i.event_id)),
    remaining: data.remaining, capped: data.capped, decided: 0, decidedAtCount: 0, skipped: new Set(),
    decisions: new Map(), // event id -> what this session decided on it (shown when going back to it)
    times: [], busy: false, shownAt: 0, fetching: null, exhausted: !data.items.length, img: null,
  };
  const current = () => st.items[st.pos];
  const editor = new window.FLReview.Editor($("rv-svg"), { changed: renderSide, colour: colour });

  function colour(name) {
    const item = current();
    let i = item ? item.classes.indexOf(name) : -1;
    if (i < 0) i = [...name].reduce((h, c) => (h * 31 + c.charCodeAt(0)) >>> 0, 7);
    return PALETTE[i % PALETTE.length];
  }
  function el(tag, props, text) {
    const n = Object.assign(document.createElement(tag), props || {});
    if (text !== undefined) n.textContent = text;
    return n;
  }
  function nearestRank(sorted, q) { return sorted[Math.max(0, Math.ceil((q / 100) * sorted.length) - 1)]; }

  // ---- layout: the page never scrolls; the frame takes what the side panel leaves
  // (zoomed, the stage scrolls: its outer size, scrollbars included, is what the whole frame fits in)
  function layout() {
    const top = app.getBoundingClientRect().top + window.scrollY;
    app.style.height = Math.max(300, window.innerHeight - top - 17) + "px";
    const img = st.img;
    if (!img || !img.naturalWidth || main.hidden) return;
    const r = stage.getBoundingClientRect();
    const s = Math.min(r.width / img.naturalWidth, r.height / img.naturalHeight) * zoom.level();
    img.style.width = Math.floor(img.naturalWidth * s) + "px";
    img.style.height = Math.floor(img.naturalHeight * s) + "px";
    editor.render();
  }
  window.addEventListener("resize", layout);
  const zoom = new window.FLReview.Zoom(stage, frame, layout, (z) => {
    $("rv-zoom").textContent = z === 1 ? "whole frame" : z.toFixed(1) + "x";
  }, () => editor.cancelPress());
  // + / - zoom about the selected box's middle, else about the middle of the view
  function zoomBy(factor) {
    const b = editor.boxes[editor.sel];
    if (!b) return zoom.by(factor);
    const r = $("rv-svg").getBoundingClientRect();
    return zoom.by(factor, r.left + ((b.x1 + b.x2) / 2 / editor.w) * r.width,
      r.top + ((b.y1 + b.y2) / 2 / editor.h) * r.height);
  }

  function renderCounter() {
    const left = Math.max(0, st.remaining - (st.decided - st.decidedAtCount));
    $("rv-left").textContent = left + (st.capped ? "+" : "") + " left";
    const skipped = st.skipped.size;
    $("rv-skipped").textContent = skipped ? skipped + " skipped (B goes back to them)" : "";
    if (st.times.length) {
      const sorted = st.times.slice().sort((a, b) => a - b);
      const med = sorted.length % 2 ? sorted[(sorted.length - 1) / 2]
        : (sorted[sorted.length / 2 - 1] + sorted[sorted.length / 2]) / 2;
      $("rv-session").textContent = "· this session median " + (med / 1000).toFixed(1) + " s, p90 " +
        (nearestRank(sorted, 90) / 1000).toFixed(1) + " s (" + sorted.length + ")";
    }
  }
  // Decisions wait for the frame to be shown (its time starts then).
  function decidable(on) {
    accept.disabled = !on;
    $("rv-reject").disabled = !on;
  }
  function showError(text) {
    const e = $("rv-error");
    e.textContent = text || "";
    e.hidden = !text;
    layout();
  }

  // ---- the queue: batches, prefetch
  function image(item) {
    if (!item.img) {
      item.img = el("img", { alt: "frame to review", draggable: false });
      item.img.src = item.frame;
    }
    return item.img;
  }
  function prefetch() {
    for (let k = 1; k <= PREFETCH && st.pos + k < st.items.length; k++) image(st.items[st.pos + k]);
    if (st.items.length - st.pos <= REFILL_AT) refill();
  }
  function refill() {
    if (st.fetching || st.exhausted) return st.fetching;
    const limit = Math.min(200, 30 + st.seen.size); // the batch starts with frames we hold or skipped
    const decided = st.decided;
    st.fetching = fetch(data.items_url + "&limit=" + limit, { credentials: "same-origin" })
      .then((r) => (r.ok ? r.json() : Promise.reject(new Error("the queue did not load (" + r.status + ")"))))
      .then((b) => {
        const fresh = b.items.filter((i) => !st.seen.has(i.event_id));
        fresh.forEach((i) => st.seen.add(i.event_id));
        st.items.push(...fresh);
        st.exhausted = fresh.length === 0;
        Object.assign(st, { remaining: b.remaining, capped: b.capped, decidedAtCount: decided });
        renderCounter();
      })
      .catch((err) => showError(err.message))
      .finally(() => { st.fetching = null; });
    return st.fetching;
  }

  function show() {
    const item = current();
    if (!item) {
      main.hidden = true;
      if (!st.exhausted) {
        refill().then(() => {
          st.exhausted = st.exhausted || !current(); // nothing new (or the batch did not load)
          show();
        });
        return;
      }
      $("queue-empty").hidden = false;
      return;
    }
    main.hidden = false;
    $("queue-empty").hidden = true;
    const img = image(item);
    st.img = img;
    decidable(false);
    editor.load([], item.width, item.height, ""); // nothing of the previous frame while this one loads
    zoom.reset(); // each frame starts whole
    frame.replaceChildren(img, $("rv-svg"));
    const ready = () => {
      if (current() !== item) return;
      layout();
      const boxes = item.boxes.map((b) => ({
        cls: b.class_name, x1: b.box[0], y1: b.box[1], x2: b.box[2], y2: b.box[3], conf: b.confidence,
        id: b.class_id,
      }));
      const first = item.boxes.length ? item.boxes[0].class_name : item.classes[0] || "";
      editor.load(boxes, img.naturalWidth || item.width, img.naturalHeight || item.height, first);
      layout();
      renderSide();
      st.shownAt = performance.now();
      decidable(true);
      prefetch();
    };
    if (img.complete && img.naturalWidth) ready();
    else {
      img.addEventListener("load", ready, { once: true });
      const failed = () => showError("The frame's image did not load: skip it (S).");
      img.addEventListener("error", failed, { once: true });
    }
    $("rv-verdict").textContent = item.verdict;
    $("rv-where").textContent = item.line_id + "/" + item.station_id + " · " + item.ts + " UTC" +
      (item.sample_reason ? " · sampled: " + item.sample_reason : "");
    $("rv-reason").textContent = item.reason;
    const before = st.decisions.get(item.event_id);
    $("rv-again").hidden = !before;
    $("rv-again").textContent = before ? "You reviewed this frame: " + before + ". A new decision replaces it." : "";
    $("rv-priority").textContent = item.priority.toFixed(2);
    app.dataset.eventId = item.event_id;
    comment.value = "";
    renderClasses(item);
    renderSide();
  }

  function renderClasses(item) {
    const p = $("rv-product");
    p.className = "class-map" + (item.mapped ? "" : " free");
    if (item.mapped) {
      p.replaceChildren("Classes of product ", el("b", {}, item.product), ":");
    } else p.textContent = item.note;
    const keys = $("rv-class-keys");
    keys.replaceChildren(...item.classes.map((name, i) => {
      const b = el("button", { type: "button", className: "rv-class" });
      b.dataset.cls = name;
      if (i < 9) b.appendChild(el("kbd", {}, String(i + 1)));
      b.append(el("span", { className: "rv-swatch" }), " " + name);
      b.lastChild.previousSibling.style.background = colour(name);
      b.addEventListener("click", () => { editor.setClass(name); b.blur(); });
      return b;
    }));
    $("rv-free").hidden = item.mapped;
    $("rv-class-list").replaceChildren(...item.classes.map((n) => el("option", { value: n })));
  }

  function renderSide() {
    const item = current();
    if (!item) return;
    const list = $("rv-boxes");
    const originals = new Set(item.boxes.map((b) => JSON.stringify([b.class_name, ...b.box])));
    list.replaceChildren(...editor.boxes.map((b, i) => {
      const li = el("li", { className: "rv-box-row" });
      li.dataset.i = i;
      li.setAttribute("aria-selected", String(i === editor.sel));
      const sw = el("span", { className: "rv-swatch" });
      sw.style.background = colour(b.cls);
      const kept = originals.has(JSON.stringify([b.cls, b.x1, b.y1, b.x2, b.y2]));
      const how = b.conf === null ? "new" : kept ? b.conf.toFixed(2) : "edited";
      li.append(sw, el("span", { className: "rv-n" }, String(i + 1)),
        el("span", { className: "rv-cls" }, b.cls),
        el("span", { className: "rv-muted" }, how));
      li.addEventListener("click", () => editor.select(i));
      return li;
    }));
    if (!editor.boxes.length) list.appendChild(el("li", { className: "rv-muted" }, "no boxes"));
    const sel = list.querySelector('[aria-selected="true"]');
    if (sel) sel.scrollIntoView({ block: "nearest" });
    const active = editor.sel >= 0 ? editor.boxes[editor.sel].cls : editor.defaultClass;
    for (const b of $("rv-class-keys").querySelectorAll("button")) {
      b.classList.toggle("active", b.dataset.cls === active);
    }
    const changed = editor.changed();
    accept.className = changed ? "correct" : "confirm";
    accept.firstChild.textContent = changed ? "Submit correction " : "Confirm ";
    $("rv-delete").disabled = editor.sel < 0;
  }

  // ---- decisions
  async function decide(kind) {
    const item = current();
    if (!item || st.busy || !st.shownAt) return;
    const action = kind === "accept" ? (editor.changed() ? "correct" : "confirm") : kind;
    const ids = {};
    item.boxes.forEach((b) => { ids[b.class_name] = b.class_id; ids[b.model_class] = b.class_id; });
    const body = {
      action: action,
      review_ms: Math.round(performance.now() - st.shownAt),
      comment: comment.value.trim() || null,
      detections: action !== "correct" ? [] : editor.boxes.map((b) => ({
        class_id: ids[b.cls] || 0, class_name: b.cls, box: { x1: b.x1, y1: b.y1, x2: b.x2, y2: b.y2 },
      })),
    };
    st.busy = true;
    app.classList.add("busy");
    try {
      const r = await fetch("/ui/review/" + encodeURIComponent(item.event_id) + "/decision", {
        method: "POST", credentials: "same-origin", headers: { "Content-Type": "application/json" },
        body: JSON.stringify(body),
      });
      if (r.status === 401) { window.location.href = "/ui/login"; return; }
      if (!r.ok) {
        let msg = "HTTP " + r.status;
        try {
          const e = await r.json();
          msg = (e.error && e.error.message) || msg;
        } catch (_) { /* not JSON */ }
        showError("Review of this frame not saved: " + msg);
        return;
      }
      showError("");
      if (!st.decisions.has(item.event_id)) st.decided += 1; // a second decision leaves the count as it is
      const n = body.detections.length;
      st.decisions.set(item.event_id, action + (action === "correct" ? " (" + n + " box" + (n === 1 ? "" : "es") + ")" : ""));
      st.skipped.delete(item.event_id);
      st.times.push(body.review_ms);
      next();
    } catch (err) {
      showError("Review of this frame not saved: " + err.message);
    } finally {
      st.busy = false;
      app.classList.remove("busy");
    }
  }
  function next() {
    const done = current();
    if (done) done.img = null;
    st.pos += 1;
    st.shownAt = 0;
    renderCounter();
    show();
  }
  function skip() {
    if (!current() || st.busy) return;
    if (!st.decisions.has(current().event_id)) st.skipped.add(current().event_id);
    showError("");
    next();
  }
  function back() {
    if (st.busy || st.pos === 0) return;
    st.pos -= 1;
    st.shownAt = 0;
    showError("");
    renderCounter();
    show();
  }

  // ---- buttons and keys
  function button(id, fn) {
    $(id).addEventListener("click", (e) => { e.currentTarget.blur(); fn(); });
  }
  button("rv-accept", () => decide("accept"));
  button("rv-reject", () => decide("reject"));
  button("rv-skip", skip);
  button("rv-back", back);
  button("rv-undo", () => editor.undo());
  button("rv-delete", () => editor.deleteSelected());

  window.FLReview.bindKeys({
    editor: editor,
    active: () => Boolean(current()) && !main.hidden,
    decide: decide,
    skip: skip,
    back: back,
    classAt: (n) => current().classes[n],
    zoom: zoomBy,
    fit: () => zoom.fit(),
    space: (held) => zoom.setSpace(held),
  });

  renderCounter();
  layout();
  show();
})();
