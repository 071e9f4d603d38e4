/* Confirmations and small actions without inline handlers (the content security policy
 * allows no inline script): a form with data-confirm="text" asks before it is submitted,
 * a submit button with data-confirm asks before it submits its form, and an element
 * with data-action="print" prints the page. No dependencies. */
(function () {
  "use strict";

  document.addEventListener("submit", function (event) {
    var form = event.target;
    var button = event.submitter;
    var text = (button && button.getAttribute("data-confirm")) || form.getAttribute("data-confirm");
    if (text && !window.confirm(text)) {
      event.preventDefault();
    }
  }, true);

  document.addEventListener("click", function (event) {
    var target = event.target.closest ? event.target.closest("[data-action='print']") : null;
    if (target) {
      event.preventDefault();
      window.print();
    }
  });
})();
