// The lottery form's helper: the SHA-256 of a seed typed here is written into the commitment
// field in the browser; the seed itself has no name, so it is never sent to the server.
"use strict";
(function () {
  async function commit(seedInput, target) {
    if (!window.crypto || !window.crypto.subtle || !seedInput.value) return;
    const digest = await window.crypto.subtle.digest("SHA-256", new TextEncoder().encode(seedInput.value));
    target.value = Array.from(new Uint8Array(digest)).map((b) => b.toString(16).padStart(2, "0")).join("");
  }
  document.addEventListener("DOMContentLoaded", () => {
    const seed = document.querySelector("input[data-seed-for]");
    if (!seed) return;
    const target = document.querySelector(`input[name="${seed.getAttribute("data-seed-for")}"]`);
    const wrapper = seed.closest("[hidden]");
    if (wrapper && window.crypto && window.crypto.subtle) wrapper.hidden = false;
    if (target) seed.addEventListener("input", () => commit(seed, target));
  });
})();
