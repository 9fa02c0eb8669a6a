// The rules builder's small enhancements (kimia/web/panel/pages/rules.py); the builder works without them.
"use strict";
(function () {
  document.addEventListener("DOMContentLoaded", () => {
    // A button that asks "are you sure?" first (publish).
    document.querySelectorAll("button[data-confirm]").forEach((button) => {
      button.addEventListener("click", (event) => {
        if (!window.confirm(button.getAttribute("data-confirm"))) event.preventDefault();
      });
    });
    // Changing a condition's or effect's type redraws its fields from the server.
    document.querySelectorAll(".rules-builder select[name$='.type']").forEach((select) => {
      select.addEventListener("change", () => {
        const update = document.getElementById("rules-update");
        if (update) update.click();
      });
    });
    // After a dry run or a backtest, show its result.
    const result = document.getElementById("dry-result") || document.getElementById("backtest-result");
    if (result) result.scrollIntoView({ block: "start" });
  });
})();
