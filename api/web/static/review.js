// Review page: draw boxes on the frame (mouse drag), choose their class, remove wrong boxes. Each drawn box
// becomes two form fields, new_box_<k> = "x1,y1,x2,y2" in frame pixels and new_class_<k>; a removed model box
// gets an empty class_<i> (the server drops it). Without this script the form still confirms/rejects/relabels
// (and the server measures the review time from the render instead of review_ms).
(function () {
  "use strict";
  const MIN_PX = 4;
  const shownAt = performance.now(); // the review time: from showing the queue to a frame's submit

  document.querySelectorAll("article.review-item form").forEach(function (form) {
    form.addEventListener("submit", function () {
      const field = form.querySelector("input[name=review_ms]");
      if (field) field.value = String(Math.round(performance.now() - shownAt));
    });
  });

  function el(tag, props) {
    const node = document.createElement(tag);
    Object.assign(node, props || {});
    return node;
  }

  function enhance(item) {
    const stage = item.querySelector(".annotate");
    const form = item.querySelector("form");
    if (!stage || !form) return;
    const img = stage.querySelector("img");
    const list = form.querySelector("ul.new-boxes");
    // Boxes are in the pixels of the stored JPEG (as the overlay draws them); the outcome's size until loaded.
    const frameW = () => img.naturalWidth || Number(stage.dataset.width);
    const frameH = () => img.naturalHeight || Number(stage.dataset.height);
    const defaultClass = stage.dataset.defaultClass || "";
    const classList = stage.dataset.classList || "classes"; // the <datalist> of this frame's product
    let next = 0;
    img.src = stage.dataset.raw; // the boxes are drawn as elements on top of the plain frame
    stage.classList.add("live");

    const scaleX = () => frameW() / img.clientWidth; // frame pixels per CSS pixel
    const scaleY = () => frameH() / img.clientHeight;
    function place(node, b) {
      node.style.left = b[0] / scaleX() + "px";
      node.style.top = b[1] / scaleY() + "px";
      node.style.width = (b[2] - b[0]) / scaleX() + "px";
      node.style.height = (b[3] - b[1]) / scaleY() + "px";
    }
    function rect(b, kind) {
      const node = el("div", { className: "box " + kind });
      stage.appendChild(node);
      if (img.complete && img.clientWidth) place(node, b);
      else img.addEventListener("load", () => place(node, b), { once: true });
      return node;
    }
    function removeButton(onRemove) {
      const button = el("button", { type: "button", className: "remove", textContent: "Remove" });
      button.addEventListener("click", onRemove);
      return button;
    }

    form.querySelectorAll("li.model-box").forEach(function (li) {
      const drawn = rect(li.dataset.box.split(",").map(Number), "model");
      const input = li.querySelector("input");
      const button = removeButton(function () {
        input.value = "";
        li.classList.add("removed");
        drawn.remove();
        button.disabled = true;
      });
      li.appendChild(button);
    });

    function addBox(b) {
      const k = next++;
      const drawn = rect(b, "new");
      const li = el("li", { className: "new-box" });
      li.append("new box " + (k + 1) + " → ");
      li.appendChild(
        el("input", {
          type: "text", name: "new_class_" + k, value: defaultClass, maxLength: 64, size: 12,
        })
      );
      li.lastChild.setAttribute("list", classList);
      li.lastChild.setAttribute("aria-label", "class of new box " + (k + 1));
      li.appendChild(el("input", { type: "hidden", name: "new_box_" + k, value: b.join(",") }));
      li.appendChild(removeButton(function () { li.remove(); drawn.remove(); }));
      list.appendChild(li);
      li.querySelector("input").focus();
    }

    let start = null;
    let ghost = null;
    function point(e) {
      const r = img.getBoundingClientRect();
      return [
        Math.min(Math.max(e.clientX - r.left, 0), r.width),
        Math.min(Math.max(e.clientY - r.top, 0), r.height),
      ];
    }
    function css(a, b) {
      return [Math.min(a[0], b[0]), Math.min(a[1], b[1]), Math.abs(a[0] - b[0]), Math.abs(a[1] - b[1])];
    }
    stage.addEventListener("mousedown", function (e) {
      if (e.button !== 0) return;
      e.preventDefault();
      start = point(e);
      ghost = el("div", { className: "box new drawing" });
      stage.appendChild(ghost);
    });
    window.addEventListener("mousemove", function (e) {
      if (!start) return;
      const [x, y, w, h] = css(start, point(e));
      Object.assign(ghost.style, { left: x + "px", top: y + "px", width: w + "px", height: h + "px" });
    });
    window.addEventListener("mouseup", function (e) {
      if (!start) return;
      const [x, y, w, h] = css(start, point(e));
      start = null;
      ghost.remove();
      if (w < MIN_PX || h < MIN_PX) return;
      const sx = scaleX();
      const sy = scaleY();
      addBox([
        Math.round(x * sx), Math.round(y * sy),
        Math.min(frameW(), Math.round((x + w) * sx)), Math.min(frameH(), Math.round((y + h) * sy)),
      ]);
    });
  }

  document.querySelectorAll("article.review-item").forEach(enhance);
})();
