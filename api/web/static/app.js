// Small progressive enhancement: refresh the overview, fleet and rollout pages every 15 s unless typing.
(function () {
  const page = document.querySelector("nav a.active");
  if (!page || !["Lines", "Fleet", "Rollouts"].includes(page.textContent.trim())) return;
  setInterval(function () {
    if (document.activeElement && document.activeElement.tagName === "INPUT") return;
    window.location.reload();
  }, 15000);
})();
