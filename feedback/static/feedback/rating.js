// Thumbs up/down on a suggestion: one rating per run, changeable; the comment goes with it.
(() => {
  "use strict";
  const box = document.getElementById("suggestion-rating");
  if (!box) return;
  const comment = document.getElementById("rating-comment");
  const status = box.querySelector(".rating-status");
  const csrf = document.querySelector("[name=csrfmiddlewaretoken]");
  const buttons = [...box.querySelectorAll(".thumb")];

  // The Sell page announces its run when a suggestion has been shown.
  document.addEventListener("prefill:suggested", (event) => {
    // A new photo's suggestion is a new run: the rating given to the previous one is not its.
    if (box.dataset.run && box.dataset.run !== event.detail.runId) {
      press(null);
      comment.value = "";
      status.textContent = "";
    }
    box.dataset.run = event.detail.runId;
    box.hidden = false;
  });
  if (box.dataset.current) press(box.dataset.current);

  // A new photo is on its way: the widget must not rate the previous run meanwhile.
  document.addEventListener("prefill:reset", () => { box.hidden = true; });

  buttons.forEach((button) => button.addEventListener("click", () => send(button.dataset.rating)));
  // A comment written after the thumb was given is saved too.
  comment.addEventListener("change", () => {
    const pressed = buttons.find((b) => b.getAttribute("aria-pressed") === "true");
    if (pressed) send(pressed.dataset.rating);
  });

  async function send(rating) {
    const url = box.dataset.urlTemplate.replace("00000000-0000-0000-0000-000000000000", box.dataset.run);
    status.textContent = "Saving…";
    try {
      const response = await fetch(url, {
        method: "POST", credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRFToken": csrf ? csrf.value : "" },
        body: JSON.stringify({ rating, comment: comment.value }),
      });
      if (!response.ok) throw new Error(String(response.status));
      press(rating);
      status.textContent = "Thanks! You can change your answer any time.";
    } catch (err) {
      status.textContent = "Your rating could not be saved. Please try again.";
    }
  }

  function press(rating) {
    buttons.forEach((b) => b.setAttribute("aria-pressed", String(b.dataset.rating === rating)));
  }
})();
