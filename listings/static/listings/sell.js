// The Sell page: photo first, then the AI pre-fill fills the details the seller has not touched.
// Every failure ends in the same place: a usable form the seller can finish by hand.
// A seller without AI (data-ai="off": a "no AI" experiment arm, or AI off in production) gets the
// plain form: the photo is an ordinary file field posted with it, and nothing asks for a draft.
// Either way the page tells its sell session when a photo is chosen (and, with AI, when the
// draft is shown), so time to publish is measured alike in every arm.
(() => {
  "use strict";

  const form = document.getElementById("sell-form");
  if (!form) return;
  const photoInput = document.getElementById("id_photo");
  const preview = document.getElementById("photo-preview");
  const csrfToken = form.querySelector("[name=csrfmiddlewaretoken]").value;
  const eventsUrl = form.dataset.eventsUrl;

  photoInput.addEventListener("change", () => {
    const file = photoInput.files[0];
    if (!file) { preview.hidden = true; return; }
    preview.src = URL.createObjectURL(file);
    preview.hidden = false;
    tellSession({ event: "photo_chosen" });
  });

  // Only a measurement: whatever happens to it, the seller goes on (no wait, no message).
  // keepalive lets it finish when the seller publishes at once and the page unloads.
  function tellSession(body) {
    if (!eventsUrl) return;
    fetch(eventsUrl, {
      method: "POST", credentials: "same-origin", keepalive: true, body: JSON.stringify(body),
      headers: { "X-CSRFToken": csrfToken, "Content-Type": "application/json", Accept: "application/json" },
    }).catch(() => {});
  }

  if (form.dataset.ai === "off") return;

  const runInput = document.getElementById("id_prefill_run");
  const statusBox = document.getElementById("prefill-status");
  const createUrl = form.dataset.prefillUrl;
  const budgetMs = Number(form.dataset.budgetMs || 15000);
  // The page stops asking about a run this long after the photo was chosen (the budget plus a
  // margin for a draft that is only a little late): a stalled run must not poll for minutes.
  const pollStopMs = Number(form.dataset.pollStopMs || budgetMs + 15000);
  // Between two questions about a run, the server's poll_after_ms (about when the draft is due)
  // is followed; this is only the fallback when an answer carries none.
  const pollMs = Number(form.dataset.pollMs || 700);
  // Once the draft is overdue (the page waited as long as the server said and the run is still
  // working), it waits longer each time: 0.5 s, then 1.5 times the last wait, at most 5 s.
  const OVERDUE_FIRST_MS = 500;
  const OVERDUE_FACTOR = 1.5;
  const POLL_MAX_MS = 5000;
  const photoMaxSide = Number(form.dataset.photoMaxSide || 1600);
  // The site's price format, as the server shows it in the field (marketplace/money.py): "1.250,00".
  const PRICE_FORMAT = new Intl.NumberFormat("de-DE", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
  const DRAFT_FIELDS = ["title", "description", "category", "condition", "brand", "color", "price_eur"];

  let currentRun = null; // only the latest photo's run may fill the form
  let photoCount = 0; // a photo chosen while the previous one is still on its way replaces it
  let startedAt = 0;
  let tick = null;

  // A field the seller typed in or chose is theirs: suggestions never overwrite it.
  for (const name of DRAFT_FIELDS) {
    const input = fieldInput(name);
    if (!input) continue;
    const markTouched = () => {
      input.dataset.touched = "1";
      fieldBox(name).classList.remove("suggested");
    };
    input.addEventListener("input", markTouched);
    input.addEventListener("change", markTouched);
  }

  photoInput.addEventListener("change", () => {
    const file = photoInput.files[0];
    if (!file) return;
    runInput.value = "";
    document.dispatchEvent(new CustomEvent("prefill:reset"));
    clearPhotoError();
    clearStaleSuggestions();
    startPrefill(file);
  });

  // The photo already went to the server with the pre-fill: do not upload it a second time.
  // (Dropping it from the submitted data, rather than disabling the input, survives the
  // back-button cache.)
  form.addEventListener("formdata", (event) => {
    if (runInput.value) event.formData.delete("photo");
  });

  async function startPrefill(file) {
    showStatus("working", "Reading your photo… the details will appear here in a few seconds.");
    startedAt = Date.now();
    startTicker();
    const photoNumber = ++photoCount;
    const body = new FormData();
    body.append("image", await shrunkForUpload(file));
    let response;
    try {
      response = await fetch(createUrl, {
        method: "POST", body, credentials: "same-origin",
        headers: { "X-CSRFToken": csrfToken, Accept: "application/json" },
      });
    } catch (err) {
      if (photoNumber !== photoCount) return;
      return giveUp("We could not reach Trova to suggest details. Please fill in the form yourself.");
    }
    const data = await response.json().catch(() => ({}));
    if (photoNumber !== photoCount) return; // the seller chose another photo meanwhile
    if (response.status === 202) {
      currentRun = data.id;
      runInput.value = data.id;
      return poll(data.id, data.poll_after_ms);
    }
    if (response.status === 400 && data.image) {
      setPhotoError(data.image.join(" "));
      return giveUp("This photo cannot be used. Please choose another one.");
    }
    // Any other refusal that explains itself (429: the burst limit or the daily quota; 503: the
    // task queue is unreachable) is shown to the seller as the server wrote it.
    if (typeof data.detail === "string" && data.detail.trim()) return giveUp(data.detail);
    giveUp("AI suggestions are not available right now. Please fill in the form yourself.");
  }

  // A phone's 12-megapixel photo is several MB, and the site shows at most photoMaxSide pixels:
  // shrink it here, which spares the seller's upload and the server's decoding (a JPEG that fits
  // is then stored as it is). Drawing applies the EXIF orientation and leaves the metadata
  // behind. Whatever the browser cannot draw (HEIC in most browsers, a broken file) goes up
  // unchanged, and the server does the work or says what is wrong with it.
  async function shrunkForUpload(file) {
    if (typeof createImageBitmap !== "function") return file;
    let bitmap;
    try {
      bitmap = await createImageBitmap(file, { imageOrientation: "from-image" });
    } catch (err) {
      return file;
    }
    const scale = photoMaxSide / Math.max(bitmap.width, bitmap.height);
    if (!(scale < 1)) {
      bitmap.close();
      return file;
    }
    const canvas = document.createElement("canvas");
    canvas.width = Math.max(1, Math.round(bitmap.width * scale));
    canvas.height = Math.max(1, Math.round(bitmap.height * scale));
    const context = canvas.getContext("2d");
    context.fillStyle = "#fff"; // a transparent background becomes white, as the server does it
    context.fillRect(0, 0, canvas.width, canvas.height);
    context.imageSmoothingQuality = "high";
    context.drawImage(bitmap, 0, 0, canvas.width, canvas.height);
    bitmap.close();
    const blob = await new Promise((resolve) => canvas.toBlob(resolve, "image/jpeg", 0.9));
    if (!blob) return file;
    return new File([blob], file.name.replace(/\.[^.]*$/, "") + ".jpg", { type: "image/jpeg" });
  }

  async function poll(runId, waitMs) {
    let overdueMs = 0; // 0 until the draft is overdue, then the growing wait
    while (currentRun === runId) {
      const leftMs = startedAt + pollStopMs - Date.now();
      if (leftMs <= 0) return stopWaiting();
      await sleep(Math.min(nextWait(waitMs, overdueMs), leftMs));
      if (currentRun !== runId) return;
      const run = await fetchRun(runId);
      if (currentRun !== runId) return;
      if (run && run.status === "succeeded") return applyDraft(run.draft);
      if (run && run.status === "failed") {
        return giveUp("We could not suggest details for this photo this time. Please fill in the form; your photo is kept.");
      }
      // Still working, or no answer (a blip on the network, a server error): overdue.
      overdueMs = overdueMs ? Math.min(POLL_MAX_MS, overdueMs * OVERDUE_FACTOR) : OVERDUE_FIRST_MS;
      waitMs = run ? run.poll_after_ms : null;
    }
  }

  async function fetchRun(runId) {
    try {
      const response = await fetch(`${createUrl}${runId}/`, { credentials: "same-origin", headers: { Accept: "application/json" } });
      return response.ok ? await response.json() : null;
    } catch (err) {
      return null;
    }
  }

  // The server's hint, but never sooner than the overdue wait and never later than POLL_MAX_MS.
  function nextWait(hintMs, overdueMs) {
    const hint = Number(hintMs);
    const wait = hintMs != null && Number.isFinite(hint) && hint >= 0 ? hint : pollMs;
    return Math.min(Math.max(wait, overdueMs), POLL_MAX_MS);
  }

  function stopWaiting() {
    giveUp("No suggestion came for this photo. Please fill in the details yourself; your photo is kept.", "stopped");
  }

  function applyDraft(draft) {
    stopTicker();
    let filled = 0;
    for (const name of DRAFT_FIELDS) {
      const value = draft[name];
      const input = fieldInput(name);
      if (!input || value === null || value === undefined || value === "") continue;
      if (input.dataset.touched === "1" || (input.value && input.value !== input.dataset.suggested)) continue;
      const text = name === "price_eur" ? PRICE_FORMAT.format(Number(value)) : String(value);
      if (input.tagName === "SELECT" && ![...input.options].some((o) => o.value === text)) continue;
      input.value = input.maxLength > 0 ? text.slice(0, input.maxLength) : text;
      input.dataset.suggested = input.value;
      fieldBox(name).classList.add("suggested");
      filled += 1;
    }
    // The draft reached the seller's screen, whether or not it had anything to fill in.
    tellSession({ event: "draft_shown", run: runInput.value });
    if (filled) {
      document.dispatchEvent(new CustomEvent("prefill:suggested", { detail: { runId: runInput.value } }));
    }
    showStatus("done", filled
      ? `Suggested ${filled} field${filled === 1 ? "" : "s"} from your photo (marked “AI suggestion”). Check and correct them before you publish.`
      : "We could not suggest anything useful for this photo. Please fill in the form.");
  }

  // A new photo makes the previous photo's suggestions meaningless; the seller's own text stays.
  function clearStaleSuggestions() {
    for (const name of DRAFT_FIELDS) {
      const input = fieldInput(name);
      if (!input || input.dataset.suggested === undefined) continue;
      if (input.value === input.dataset.suggested) input.value = "";
      delete input.dataset.suggested;
      fieldBox(name).classList.remove("suggested");
    }
  }

  function giveUp(message, state = "failed") {
    stopTicker();
    currentRun = null; // stop polling; a failed run's id stays in the form: its photo is kept
    showStatus(state, message);
  }

  function startTicker() {
    stopTicker();
    const bar = statusBox.querySelector("progress");
    tick = setInterval(() => {
      const elapsed = Date.now() - startedAt;
      if (bar) bar.value = Math.min(1, elapsed / budgetMs);
      // Past the budget the seller gets the form to themselves; a late draft only fills blanks.
      if (elapsed > budgetMs && statusBox.classList.contains("working")) {
        showStatus("late", "This is taking longer than usual. Go ahead and fill in the details; " +
          "if the suggestion still arrives, it fills only the fields you have not touched.");
      }
    }, 200);
  }

  function stopTicker() {
    if (tick) clearInterval(tick);
    tick = null;
    const bar = statusBox.querySelector("progress");
    if (bar) bar.hidden = true;
  }

  function showStatus(state, message) {
    statusBox.hidden = false;
    statusBox.className = `prefill-status ${state}`;
    statusBox.querySelector(".message").textContent = message;
    const bar = statusBox.querySelector("progress");
    bar.hidden = state !== "working" && state !== "late";
  }

  function setPhotoError(message) {
    const box = fieldBox("photo");
    box.classList.add("has-error");
    let p = box.querySelector(".error.js");
    if (!p) {
      p = document.createElement("p");
      p.className = "error js";
      p.setAttribute("role", "alert");
      box.appendChild(p);
    }
    p.textContent = message;
  }

  function clearPhotoError() {
    const box = fieldBox("photo");
    box.classList.remove("has-error");
    box.querySelectorAll(".error").forEach((p) => p.remove());
  }

  function fieldInput(name) { return form.querySelector(`[name="${name}"]`); }
  function fieldBox(name) { return form.querySelector(`[data-field="${name}"]`); }
  function sleep(ms) { return new Promise((resolve) => setTimeout(resolve, ms)); }
})();
