/* Keeps --topbar-h at the height of the sticky top bar (0 where it does not stick), so a
 * target jumped to (#review, #raw-json, #field-...) stops below the bar instead of under
 * it (app.css: [id] { scroll-margin-top }). The bar wraps onto more lines as the window
 * narrows, with more links and longer names: measured, not guessed. Runs right after the
 * bar is parsed, before the browser jumps to the page's #target. No dependencies.
 */
(function () {
  "use strict";
  var bar = document.querySelector(".topbar");
  if (!bar) return;
  var root = document.documentElement;
  function measure() {
    var sticks = window.getComputedStyle(bar).position === "sticky";
    var height = sticks ? Math.ceil(bar.getBoundingClientRect().height) : 0;
    root.style.setProperty("--topbar-h", height + "px");
  }
  measure();
  window.addEventListener("resize", measure);
  if (window.ResizeObserver) new window.ResizeObserver(measure).observe(bar);
})();
