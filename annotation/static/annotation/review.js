// The review page's verdict column follows the values as the annotator types. The server
// decides (POST to the task's verdicts/ address, the rule annotation_submit stores), so
// "the same value" keeps its one definition (ai_prefill/fields.py) instead of a copy here.
(() => {
  "use strict";
  const form = document.querySelector("form.review-form[data-verdicts-url]");
  if (!form) return;
  const WAIT_MS = 150; // after the last keystroke
  let timer = null;
  let latest = 0; // answers can overtake each other: only the newest request's is shown

  const onEdit = (event) => {
    if (!event.target.closest("td.input")) return;
    clearTimeout(timer);
    timer = setTimeout(refresh, WAIT_MS);
  };
  form.addEventListener("input", onEdit);
  form.addEventListener("change", onEdit);

  async function refresh() {
    const request = ++latest;
    let answer;
    try {
      const response = await fetch(form.dataset.verdictsUrl, {
        method: "POST", credentials: "same-origin", body: new FormData(form),
      });
      if (!response.ok) return;
      answer = await response.json();
    } catch (error) {
      return; // offline for a moment: the column is a preview, submit derives the verdicts anyway
    }
    if (request !== latest) return;
    for (const [name, right] of Object.entries(answer.verdicts)) show(name, right);
  }

  function show(name, right) {
    const output = form.querySelector(`tr.field-${name} td.verdict output`);
    if (!output) return;
    const [text, kind] = right === true ? ["AI right", "right"]
      : right === false ? ["AI corrected", "corrected"] : ["no draft", "none"];
    if (output.textContent !== text) output.textContent = text;
    output.className = kind;
  }
})();
