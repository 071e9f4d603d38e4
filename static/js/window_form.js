/* The maintenance window form: show only the recurrence controls that go with the
 * chosen "Repeats" (every control is there without this script), and name the unit of
 * "Every". Elements with data-repeat="weekly monthly" show for those choices; those with
 * data-approval only while "Approval required" is checked. */
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

  // The job kinds an approval is about show only while "Approval required" is checked.
  function approval(form) {
    var box = form.querySelector("input[name='approval_required']");
    form.querySelectorAll("[data-approval]").forEach(function (el) {
      el.hidden = !(box && box.checked);
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
      if (event.target && event.target.name === "approval_required") {
        approval(form);
      }
    });
    update(form);
    approval(form);
  });
})();
