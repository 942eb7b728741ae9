// Small progressive enhancement: refresh the overview, fleet, product and rollout pages every 15 s unless
// the user is typing or choosing a filter.
(function () {
  const page = document.querySelector("nav a.active");
  if (!page || !["Lines", "Fleet", "Products", "Rollouts"].includes(page.textContent.trim())) return;
  setInterval(function () {
    const busy = document.activeElement && ["INPUT", "SELECT"].includes(document.activeElement.tagName);
    if (busy || document.querySelector("details[open]")) return;
    window.location.reload();
  }, 15000);
})();
