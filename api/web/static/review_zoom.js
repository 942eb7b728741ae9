// The review page's zoom and pan: a small defect on a large frame is judged and boxed at up to 8x. The frame
// is drawn larger (its image and SVG resized, not transformed) inside the stage, which scrolls: the box editor
// keeps mapping the pointer through the SVG's rectangle, so drawing, moving and resizing work at any zoom.
// Wheel over the frame: zoom about the pointer. Keys (review_keys.js): + / - about the selected box (else the
// middle of the view), 0 back to the whole frame. Pan: drag with Space held or with the middle button, or the
// scrollbars. Touch: one finger edits boxes as the mouse does; two fingers pinch to zoom about their middle
// and pan as that middle moves (a box edit the first finger began is undone). Each frame starts whole.
(function () {
  "use strict";
  const MAX = 8;
  const STEP = 1.25;

  // stage: the scrolling element; frame: the image + SVG; relayout(): review.js sizes the frame at level();
  // cancelEdit(): called when a pinch starts, to undo what the first finger began in the box editor
  function Zoom(stage, frame, relayout, onChange, cancelEdit) {
    this.stage = stage;
    this.frame = frame;
    this.relayout = relayout;
    this.onChange = onChange || function () {};
    this.cancelEdit = cancelEdit || function () {};
    this.z = 1;
    this.space = false;
    this.pan = null;
    this.touches = new Map(); // pointerId -> [clientX, clientY] of the fingers on the stage
    this.pinch = null;
    stage.addEventListener("wheel", (e) => {
      if (!frame.contains(e.target)) return;
      e.preventDefault();
      this.by(e.deltaY < 0 ? STEP : 1 / STEP, e.clientX, e.clientY);
    }, { passive: false });
    // capture: a pan press never reaches the box editor (which would draw or move a box)
    stage.addEventListener("pointerdown", (e) => this.down(e), true);
    stage.addEventListener("pointermove", (e) => this.move(e), true);
    stage.addEventListener("pointerup", (e) => this.up(e), true);
    stage.addEventListener("pointercancel", (e) => this.up(e), true);
  }

  Zoom.prototype.level = function () { return this.z; };

  // Zoom by ``factor`` keeping the frame point under (cx, cy) (client pixels; default: the view's middle) there.
  Zoom.prototype.by = function (factor, cx, cy) {
    const next = Math.min(MAX, Math.max(1, this.z * factor));
    if (Math.abs(next - this.z) < 1e-6) return false;
    const s = this.stage.getBoundingClientRect();
    if (cx === undefined) {
      cx = s.left + s.width / 2;
      cy = s.top + s.height / 2;
    }
    const before = this.frame.getBoundingClientRect();
    const fx = (cx - before.left) / before.width;
    const fy = (cy - before.top) / before.height;
    this.z = next;
    this.relayout();
    const after = this.frame.getBoundingClientRect();
    this.stage.scrollLeft += after.left + fx * after.width - cx;
    this.stage.scrollTop += after.top + fy * after.height - cy;
    this.onChange(this.z);
    return true;
  };

  // a new frame: whole, no relayout (review.js lays the frame out once its image is loaded)
  Zoom.prototype.reset = function () {
    this.z = 1;
    this.stage.scrollLeft = this.stage.scrollTop = 0;
    this.onChange(this.z);
  };

  Zoom.prototype.fit = function () {
    if (this.z === 1) return false;
    this.z = 1;
    this.relayout();
    this.stage.scrollLeft = this.stage.scrollTop = 0;
    this.onChange(this.z);
    return true;
  };

  // Space held (review_keys.js): the next press pans
  Zoom.prototype.setSpace = function (held) {
    this.space = held;
    this.stage.classList.toggle("rv-pannable", held);
  };

  Zoom.prototype.down = function (e) {
    if (e.pointerType === "touch" && this.touch(e)) return;
    if (!(e.button === 1 || (e.button === 0 && this.space))) return;
    e.preventDefault();
    e.stopPropagation();
    const s = this.stage;
    this.pan = { id: e.pointerId, x: e.clientX, y: e.clientY, left: s.scrollLeft, top: s.scrollTop };
    this.stage.setPointerCapture(e.pointerId);
    this.stage.classList.add("rv-panning");
  };
  Zoom.prototype.move = function (e) {
    if (this.touches.has(e.pointerId)) {
      this.touches.set(e.pointerId, [e.clientX, e.clientY]);
      if (this.pinch) {
        e.stopPropagation();
        this.pinchTo();
      }
      return;
    }
    if (!this.pan || e.pointerId !== this.pan.id) return;
    e.stopPropagation();
    this.stage.scrollLeft = this.pan.left - (e.clientX - this.pan.x);
    this.stage.scrollTop = this.pan.top - (e.clientY - this.pan.y);
  };
  Zoom.prototype.up = function (e) {
    if (this.touches.delete(e.pointerId) && this.pinch) {
      e.stopPropagation(); // the editor's press was cancelled: this finger's lift is no click
      if (this.touches.size < 2) this.pinch = null;
      return;
    }
    if (!this.pan || e.pointerId !== this.pan.id) return;
    e.stopPropagation();
    this.pan = null;
    this.stage.classList.remove("rv-panning");
  };

  // A finger down: the second one starts a pinch (true: the event is the pinch's, not the editor's).
  Zoom.prototype.touch = function (e) {
    this.touches.set(e.pointerId, [e.clientX, e.clientY]);
    if (this.touches.size !== 2 || this.pinch) return this.pinch !== null;
    e.preventDefault();
    e.stopPropagation();
    this.cancelEdit();
    const [d, mx, my] = this.spread();
    const r = this.frame.getBoundingClientRect();
    this.pinch = { d0: Math.max(d, 1), z0: this.z, fx: (mx - r.left) / r.width, fy: (my - r.top) / r.height };
    return true;
  };

  // the two fingers' distance and middle
  Zoom.prototype.spread = function () {
    const [a, b] = Array.from(this.touches.values());
    return [Math.hypot(a[0] - b[0], a[1] - b[1]), (a[0] + b[0]) / 2, (a[1] + b[1]) / 2];
  };

  // zoom by the fingers' spread since the pinch began, the frame point first under their middle kept there
  Zoom.prototype.pinchTo = function () {
    const p = this.pinch;
    const [d, mx, my] = this.spread();
    const next = Math.min(MAX, Math.max(1, p.z0 * (d / p.d0)));
    if (Math.abs(next - this.z) > 1e-3) {
      this.z = next;
      this.relayout();
      this.onChange(this.z);
    }
    const r = this.frame.getBoundingClientRect();
    this.stage.scrollLeft += r.left + p.fx * r.width - mx;
    this.stage.scrollTop += r.top + p.fy * r.height - my;
  };

  window.FLReview = Object.assign(window.FLReview || {}, { Zoom: Zoom });
})();
