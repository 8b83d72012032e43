// The browse page's filters are folded (a <details>) so that on a phone the results come first.
// Beside the results, on a screen as wide as site.css's two-column layout, they start open.
(() => {
  "use strict";

  const panel = document.getElementById("filters-panel");
  if (panel && window.matchMedia("(min-width: 801px)").matches) panel.open = true;
})();
