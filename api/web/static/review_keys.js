// The review page's keyboard (the legend on the page lists it). Keys typed into a text field stay there,
// except Enter (the comment: decide; the class name: apply it) and Esc (leave the field).
(function () {
  "use strict";
  const ARROWS = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1] };
  const REPEATS = new Set(["Tab", "+", "=", "-", "_", " "]); // keys that may repeat while held

  // page: {editor, active() -> a frame is shown, decide(kind), skip(), back(), classAt(index) -> class name,
  //        zoom(factor), fit(), space(held): Space held turns a drag into a pan (review_zoom.js)}
  function bindKeys(page) {
    const editor = page.editor;
    document.addEventListener("keyup", (e) => { if (e.key === " ") page.space(false); });
    window.addEventListener("blur", () => page.space(false));
    document.addEventListener("keydown", (e) => {
      const t = e.target;
      if (t && (t.tagName === "INPUT" || t.tagName === "TEXTAREA")) {
        if (e.key === "Escape") t.blur();
        else if (e.key === "Enter" && t.id === "rv-comment") page.decide("accept");
        else if (e.key === "Enter" && t.id === "rv-class-name") {
          editor.setClass(t.value.trim());
          t.blur();
        } else return;
        e.preventDefault();
        return;
      }
      if ((e.key === "b" || e.key === "B") && !e.ctrlKey && !e.metaKey && !e.altKey && !e.repeat) {
        page.back(); // also from the end of the queue (nothing shown)
        e.preventDefault();
        return;
      }
      if (!page.active()) return;
      const k = e.key;
      if (e.repeat && !ARROWS[k] && !REPEATS.has(k)) return; // a held key decides one frame, not the queue
      if (e.ctrlKey || e.metaKey) {
        if (k === "z" || k === "Z") e.shiftKey ? editor.redo() : editor.undo();
        else if (k === "y" || k === "Y") editor.redo();
        else return;
      } else if (ARROWS[k]) {
        const [dx, dy] = ARROWS[k].map((v) => v * (e.shiftKey ? 10 : 1));
        if (!editor.nudge(dx, dy, e.altKey)) return;
      } else if (e.altKey) return;
      else if (k === "Enter" || k === "c" || k === "C") page.decide("accept");
      else if (k === "r" || k === "R") page.decide("reject");
      else if (k === "s" || k === "S") page.skip();
      else if (k === "Tab") editor.selectNext(e.shiftKey ? -1 : 1);
      else if (k === "Delete" || k === "Backspace") editor.deleteSelected();
      else if (k === "Escape") editor.select(-1);
      else if (k === " ") page.space(true); // and no button under the focus is pressed
      else if (k === "+" || k === "=") page.zoom(1.25);
      else if (k === "-" || k === "_") page.zoom(0.8);
      else if (k === "0") page.fit();
      else if (/^[1-9]$/.test(k)) {
        const name = page.classAt(Number(k) - 1);
        if (!name) return;
        editor.setClass(name);
      } else return;
      e.preventDefault();
    });
  }

  window.FLReview = Object.assign(window.FLReview || {}, { bindKeys: bindKeys });
})();
