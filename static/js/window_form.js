/* The maintenance window form: show only the recurrence controls that go with the
 * chosen "Repeats" (every control is there without this script), and name the unit of
 * "Every". Elements with data-repeat="weekly monthly" show for those choices. */
(function () {
  "use strict";

  var UNITS = { daily: "day(s)", weekly: "week(s)", monthly: "month(s)", yearly: "year(s)" };

  function chosen(form) {
    var input = form.querySelector("input[name='repeat']:checked");
    return input ? input.value : "none";
  }

  function update(form) {
    var repeat = chosen(form);
    form.querySelectorAll("[data-repeat]").forEach(function (el) {
      var wanted = el.getAttribute("data-repeat").split(" ");
      el.hidden = wanted.indexOf(repeat) === -1;
    });
    form.querySelectorAll("[data-unit]").forEach(function (el) {
      el.textContent = UNITS[repeat] || "";
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var form = document.getElementById("window-form");
    if (!form) {
      return;
    }
    form.addEventListener("change", function (event) {
      if (event.target && event.target.name === "repeat") {
        update(form);
      }
    });
    update(form);
  });
})();
