// kimia's small enhancements; every page works without them. No inline scripts anywhere: the
// content security policy allows only this file.
"use strict";
(function () {
  const persian = "۰۱۲۳۴۵۶۷۸۹", arabic = "٠١٢٣٤٥٦٧٨٩";
  function latin(text) {
    return text.replace(/[۰-۹]/g, (d) => String(persian.indexOf(d))).replace(/[٠-٩]/g, (d) => String(arabic.indexOf(d)));
  }
  // A Jalali date field: check the shape as the person types (the server checks the calendar).
  function checkJalali(input) {
    const value = latin(input.value.trim());
    const ok = value === "" || /^\d{4}[\/\-.]\d{1,2}[\/\-.]\d{1,2}$/.test(value);
    input.setAttribute("aria-invalid", ok ? "false" : "true");
  }
  // Forms that ask "are you sure?" carry data-confirm with the question.
  function confirmSubmit(event) {
    const question = event.target.getAttribute("data-confirm");
    if (question && !window.confirm(question)) event.preventDefault();
  }
  // Live search: a field with data-live submits its form a moment after typing stops.
  function liveSearch(input) {
    let timer = null;
    input.addEventListener("input", () => {
      clearTimeout(timer);
      timer = setTimeout(() => { if (input.value.trim().length >= 2) input.form.requestSubmit(); }, 500);
    });
  }
  document.addEventListener("DOMContentLoaded", () => {
    document.querySelectorAll("input[data-jalali]").forEach((input) => input.addEventListener("input", () => checkJalali(input)));
    document.querySelectorAll("form[data-confirm]").forEach((form) => form.addEventListener("submit", confirmSubmit));
    document.querySelectorAll("input[data-live]").forEach(liveSearch);
  });
})();
