// The review page's zoom and pan: a small defect on a large frame is judged and boxed at up to 8x. The frame
// is drawn larger (its image and SVG resized, not transformed) inside the stage, which scrolls: the box editor
// keeps mapping the pointer through the SVG's rectangle, so drawing, moving and resizing work at any zoom.
// Wheel over the frame: zoom about the pointer. Keys (review_keys.js): + / - about the selected box (else the
// middle of the view), 0 back to the whole frame. Pan: drag with Space held or with the middle button, or the
// scrollbars. Each frame starts at the whole frame.
(function () {
  "use strict";
  const MAX = 8;
  const STEP = 1.25;

  // stage: the scrolling element; frame: the image + SVG; relayout(): review.js sizes the frame at level()
  function Zoom(stage, frame, relayout, onChange) {
    this.stage = stage;
    this.frame = frame;
    this.relayout = relayout;
    this.onChange = onChange || function () {};
    this.z = 1;
    this.space = false;
    this.pan = null;
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
    if (!(e.button === 1 || (e.button === 0 && this.space))) return;
    e.preventDefault();
    e.stopPropagation();
    const s = this.stage;
    this.pan = { id: e.pointerId, x: e.clientX, y: e.clientY, left: s.scrollLeft, top: s.scrollTop };
    this.stage.setPointerCapture(e.pointerId);
    this.stage.classList.add("rv-panning");
  };
  Zoom.prototype.move = function (e) {
    if (!this.pan || e.pointerId !== this.pan.id) return;
    e.stopPropagation();
    this.stage.scrollLeft = this.pan.left - (e.clientX - this.pan.x);
    this.stage.scrollTop = this.pan.top - (e.clientY - this.pan.y);
  };
  Zoom.prototype.up = function (e) {
    if (!this.pan || e.pointerId !== this.pan.id) return;
    e.stopPropagation();
    this.pan = null;
    this.stage.classList.remove("rv-panning");
  };

  window.FLReview = Object.assign(window.FLReview || {}, { Zoom: Zoom });
})();
