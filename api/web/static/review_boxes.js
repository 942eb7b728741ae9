// The review page's box editor: a frame's boxes drawn over it in an SVG whose viewBox is the frame's pixels.
// Select (click; clicking again where boxes overlap cycles through them, smallest first), move (drag the
// selected box), resize (drag one of its 8 handles), draw (drag on empty space), delete, class change,
// nudge, undo / redo. No network: review.js owns the queue and the posting.
(function () {
  "use strict";
  const NS = "http://www.w3.org/2000/svg";
  const HANDLE_PX = 10; // a handle's size on screen
  const GRAB_PX = 9; // how near a handle counts as on it
  const DRAG_PX = 3; // movement before a press becomes a drag
  const MIN_DRAW_PX = 6; // a smaller drawn box is a click
  const LABEL_ALL_MAX = 8; // above this many boxes only the selected one is labelled
  const HANDLES = {
    nw: [0, 0], n: [0.5, 0], ne: [1, 0], e: [1, 0.5], se: [1, 1], s: [0.5, 1], sw: [0, 1], w: [0, 0.5],
  };

  function node(tag, attrs) {
    const n = document.createElementNS(NS, tag);
    for (const k in attrs) n.setAttribute(k, attrs[k]);
    return n;
  }
  const area = (b) => (b.x2 - b.x1) * (b.y2 - b.y1);
  const copy = (boxes) => boxes.map((b) => Object.assign({}, b));
  const key = (boxes) => JSON.stringify(boxes.map((b) => [b.cls, b.x1, b.y1, b.x2, b.y2]));
  const clamp = (v, lo, hi) => Math.min(Math.max(v, lo), hi);

  // hooks: changed() after every edit or selection, colour(className) -> CSS colour
  function Editor(svg, hooks) {
    this.svg = svg;
    this.hooks = hooks;
    this.w = 1;
    this.h = 1;
    this.boxes = [];
    this.sel = -1;
    this.undos = [];
    this.redos = [];
    this.press = null;
    this.defaultClass = "";
    svg.addEventListener("pointerdown", (e) => this.down(e));
    svg.addEventListener("pointermove", (e) => this.move(e));
    svg.addEventListener("pointerup", (e) => this.up(e));
    svg.addEventListener("pointercancel", () => { this.press = null; this.render(); });
  }

  // boxes: [{cls, x1, y1, x2, y2, conf, id}] in frame pixels (w x h)
  Editor.prototype.load = function (boxes, w, h, defaultClass) {
    this.w = w;
    this.h = h;
    this.boxes = copy(boxes);
    this.original = key(boxes);
    this.sel = -1;
    this.undos = [];
    this.redos = [];
    this.press = null;
    this.defaultClass = defaultClass || "";
    this.svg.setAttribute("viewBox", "0 0 " + w + " " + h);
    this.render();
  };
  Editor.prototype.changed = function () { return key(this.boxes) !== this.original; };
  Editor.prototype.scale = function () { return this.svg.getBoundingClientRect().width / this.w || 1; };
  Editor.prototype.point = function (e) {
    const r = this.svg.getBoundingClientRect();
    return [clamp(((e.clientX - r.left) / r.width) * this.w, 0, this.w),
      clamp(((e.clientY - r.top) / r.height) * this.h, 0, this.h)];
  };
  Editor.prototype.snapshot = function () {
    this.undos.push({ boxes: copy(this.boxes), sel: this.sel });
    this.redos = [];
  };
  function restore(ed, from, to) {
    if (!from.length) return false;
    to.push({ boxes: copy(ed.boxes), sel: ed.sel });
    const s = from.pop();
    ed.boxes = s.boxes;
    ed.sel = s.sel < ed.boxes.length ? s.sel : -1;
    ed.render();
    ed.hooks.changed();
    return true;
  }
  Editor.prototype.undo = function () { return restore(this, this.undos, this.redos); };
  Editor.prototype.redo = function () { return restore(this, this.redos, this.undos); };

  Editor.prototype.select = function (i) {
    this.sel = i >= 0 && i < this.boxes.length ? i : -1;
    this.render();
    this.hooks.changed();
  };
  Editor.prototype.selectNext = function (step) {
    const n = this.boxes.length;
    if (!n) return;
    this.select(this.sel < 0 ? (step > 0 ? 0 : n - 1) : (this.sel + step + n) % n);
  };
  Editor.prototype.deleteSelected = function () {
    if (this.sel < 0) return false;
    this.snapshot();
    this.boxes.splice(this.sel, 1);
    this.sel = Math.min(this.sel, this.boxes.length - 1);
    this.render();
    this.hooks.changed();
    return true;
  };
  // The class of the selected box, else of the next drawn box.
  Editor.prototype.setClass = function (name) {
    if (!name) return;
    if (this.sel < 0) {
      this.defaultClass = name;
      this.hooks.changed();
      return;
    }
    if (this.boxes[this.sel].cls === name) return;
    this.snapshot();
    this.boxes[this.sel].cls = name;
    this.render();
    this.hooks.changed();
  };
  // Arrow keys: move the selected box by (dx, dy) frame pixels, or (resize) its right / bottom edge.
  Editor.prototype.nudge = function (dx, dy, resize) {
    if (this.sel < 0) return false;
    this.snapshot();
    const b = this.boxes[this.sel];
    if (resize) {
      b.x2 = clamp(b.x2 + dx, b.x1 + 1, this.w);
      b.y2 = clamp(b.y2 + dy, b.y1 + 1, this.h);
    } else {
      const mx = clamp(dx, -b.x1, this.w - b.x2);
      const my = clamp(dy, -b.y1, this.h - b.y2);
      Object.assign(b, { x1: b.x1 + mx, x2: b.x2 + mx, y1: b.y1 + my, y2: b.y2 + my });
    }
    this.render();
    this.hooks.changed();
    return true;
  };

  // Boxes under a point, smallest first (the one a click on overlapping boxes selects first).
  Editor.prototype.hits = function (p, tol) {
    const out = [];
    this.boxes.forEach((b, i) => {
      if (p[0] >= b.x1 - tol && p[0] <= b.x2 + tol && p[1] >= b.y1 - tol && p[1] <= b.y2 + tol) out.push(i);
    });
    return out.sort((a, b) => area(this.boxes[a]) - area(this.boxes[b]) || a - b);
  };
  // The handles a box shows: a small one on screen only its corners (the edge ones would hide it).
  Editor.prototype.handles = function (b) {
    const small = Math.min(b.x2 - b.x1, b.y2 - b.y1) * this.scale() < 3 * HANDLE_PX;
    return Object.keys(HANDLES).filter((name) => !small || name.length === 2);
  };
  // The selected box's handle near p; on a small box only very near (a click inside it still selects).
  Editor.prototype.handleAt = function (p) {
    if (this.sel < 0) return null;
    const b = this.boxes[this.sel];
    const s = this.scale();
    const tol = Math.min(GRAB_PX, (Math.min(b.x2 - b.x1, b.y2 - b.y1) * s) / 4) / s;
    for (const name of this.handles(b)) {
      const [fx, fy] = HANDLES[name];
      const hx = b.x1 + fx * (b.x2 - b.x1);
      const hy = b.y1 + fy * (b.y2 - b.y1);
      if (Math.abs(p[0] - hx) <= tol && Math.abs(p[1] - hy) <= tol) return name;
    }
    return null;
  };

  Editor.prototype.down = function (e) {
    if (e.button !== 0) return;
    e.preventDefault();
    this.svg.setPointerCapture(e.pointerId);
    const p = this.point(e);
    const s = this.scale();
    const handle = this.handleAt(p);
    const hits = handle ? [] : this.hits(p, 2 / s);
    const pr = { start: p, client: [e.clientX, e.clientY], handle, hits, was: this.sel, dragging: false };
    pr.mode = handle ? "resize" : hits.length ? "move" : "draw";
    this.press = pr;
    if (pr.mode === "move" && !hits.includes(this.sel)) this.select(hits[0]);
  };
  Editor.prototype.move = function (e) {
    const pr = this.press;
    if (!pr) {
      const p = this.point(e);
      const h = this.handleAt(p);
      this.svg.style.cursor = h ? h + "-resize" : this.hits(p, 0).includes(this.sel) ? "move" : "crosshair";
      return;
    }
    if (!pr.dragging) {
      if (Math.hypot(e.clientX - pr.client[0], e.clientY - pr.client[1]) < DRAG_PX) return;
      pr.dragging = true;
      if (pr.mode !== "draw") {
        this.snapshot();
        pr.orig = Object.assign({}, this.boxes[this.sel]);
      }
    }
    const p = this.point(e);
    const dx = p[0] - pr.start[0];
    const dy = p[1] - pr.start[1];
    if (pr.mode === "draw") {
      pr.ghost = [Math.min(pr.start[0], p[0]), Math.min(pr.start[1], p[1]),
        Math.max(pr.start[0], p[0]), Math.max(pr.start[1], p[1])];
    } else if (pr.mode === "move") {
      const o = pr.orig;
      const mx = clamp(dx, -o.x1, this.w - o.x2);
      const my = clamp(dy, -o.y1, this.h - o.y2);
      Object.assign(this.boxes[this.sel], { x1: o.x1 + mx, x2: o.x2 + mx, y1: o.y1 + my, y2: o.y2 + my });
    } else {
      const o = pr.orig;
      const [fx, fy] = HANDLES[pr.handle];
      const x1 = fx === 0 ? o.x1 + dx : o.x1;
      const x2 = fx === 1 ? o.x2 + dx : o.x2;
      const y1 = fy === 0 ? o.y1 + dy : o.y1;
      const y2 = fy === 1 ? o.y2 + dy : o.y2;
      // dragged past the opposite edge: the box flips; at least 1 px, inside the frame
      Object.assign(this.boxes[this.sel], {
        x1: clamp(Math.min(x1, x2), 0, this.w - 1),
        x2: clamp(Math.max(x1, x2, Math.min(x1, x2) + 1), 1, this.w),
        y1: clamp(Math.min(y1, y2), 0, this.h - 1),
        y2: clamp(Math.max(y1, y2, Math.min(y1, y2) + 1), 1, this.h),
      });
    }
    this.render();
  };
  // a pinch began (review_zoom.js): what this press did is undone, as if it never happened
  Editor.prototype.cancelPress = function () {
    const pr = this.press;
    this.press = null;
    if (!pr) return;
    if (pr.dragging && pr.mode !== "draw") {
      this.boxes[this.sel] = Object.assign({}, pr.orig);
      this.undos.pop();
    } else if (!pr.dragging && pr.mode === "move" && pr.was !== this.sel) this.sel = pr.was;
    this.render();
  };
  Editor.prototype.up = function () {
    const pr = this.press;
    this.press = null;
    if (!pr) return;
    if (!pr.dragging) {
      // a click: again on the selected box cycles through the boxes under the point; on nothing deselects
      if (pr.mode === "move" && pr.hits.includes(pr.was) && pr.hits.length > 1) {
        this.select(pr.hits[(pr.hits.indexOf(pr.was) + 1) % pr.hits.length]);
      } else if (pr.mode === "draw") this.select(-1);
      return;
    }
    if (pr.mode === "draw") {
      const g = pr.ghost;
      const s = this.scale();
      if (g && (g[2] - g[0]) * s >= MIN_DRAW_PX && (g[3] - g[1]) * s >= MIN_DRAW_PX && this.defaultClass) {
        this.snapshot();
        this.boxes.push({
          cls: this.defaultClass, x1: Math.round(g[0]), y1: Math.round(g[1]), x2: Math.round(g[2]),
          y2: Math.round(g[3]), conf: null, id: null,
        });
        this.sel = this.boxes.length - 1;
      }
    } else {
      const b = this.boxes[this.sel];
      ["x1", "y1", "x2", "y2"].forEach((k) => { b[k] = Math.round(b[k]); });
    }
    this.render();
    this.hooks.changed();
  };

  Editor.prototype.render = function () {
    const svg = this.svg;
    while (svg.firstChild) svg.removeChild(svg.firstChild);
    const s = this.scale();
    const font = 13 / s;
    svg.classList.toggle("crowded", this.sel >= 0 && this.boxes.length > LABEL_ALL_MAX);
    const order = this.boxes.map((_, i) => i);
    order.sort((a, b) => area(this.boxes[b]) - area(this.boxes[a]) || a - b); // the small ones on top
    if (this.sel >= 0) order.push(order.splice(order.indexOf(this.sel), 1)[0]); // the selected one on top
    for (const i of order) {
      const b = this.boxes[i];
      const selected = i === this.sel;
      const g = node("g", { class: "rv-box" + (selected ? " selected" : ""), "data-i": i });
      const geo = { x: b.x1, y: b.y1, width: b.x2 - b.x1, height: b.y2 - b.y1 };
      if (selected) g.appendChild(node("rect", Object.assign({ class: "halo" }, geo)));
      g.appendChild(node("rect", Object.assign({ class: "edge", stroke: this.hooks.colour(b.cls) }, geo)));
      if (selected || this.boxes.length <= LABEL_ALL_MAX) {
        const t = node("text", { x: b.x1 + 2 / s, y: Math.max(font, b.y1 - 3 / s), "font-size": font });
        t.textContent = i + 1 + " " + b.cls;
        g.appendChild(t);
      }
      svg.appendChild(g);
    }
    if (this.sel >= 0) {
      const b = this.boxes[this.sel];
      const hs = HANDLE_PX / s;
      for (const name of this.handles(b)) {
        const [fx, fy] = HANDLES[name];
        svg.appendChild(node("rect", {
          class: "handle", "data-handle": name, width: hs, height: hs,
          x: b.x1 + fx * (b.x2 - b.x1) - hs / 2, y: b.y1 + fy * (b.y2 - b.y1) - hs / 2,
        }));
      }
    }
    const g = this.press && this.press.ghost;
    if (g) {
      const geo = { x: g[0], y: g[1], width: g[2] - g[0], height: g[3] - g[1] };
      svg.appendChild(node("rect", Object.assign({ class: "ghost" }, geo)));
    }
  };

  window.FLReview = Object.assign(window.FLReview || {}, { Editor: Editor });
})();
