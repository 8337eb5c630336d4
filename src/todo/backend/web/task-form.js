// The create/edit <dialog>: fills from a task, sends only what changed, shows the API's errors.

import { api } from "./api.js";
import { byId, h } from "./dom.js";
import { browserTimeZone, localInputToIso, toLocalInput } from "./format.js";
import { RecurrenceFields } from "./recurrence.js";
import { ReminderList } from "./reminders.js";

const FIELDS = ["title", "notes", "priority", "tags", "due_at", "time_zone", "reminders", "recurrence"];

export class TaskDialog {
  #task = null; // the task being edited; null while creating
  #initial = null; // the payload as filled in, so an edit sends only what changed
  #opener = null;
  #saving = false;

  constructor({ onSaved }) {
    this.onSaved = onSaved;
    this.dialog = byId("task-dialog");
    this.form = byId("task-form");
    this.heading = byId("task-dialog-title");
    this.inputs = {
      title: byId("task-title"),
      notes: byId("task-notes"),
      priority: byId("task-priority"),
      tags: byId("task-tags"),
      due_at: byId("task-due"),
      time_zone: byId("task-timezone"),
    };
    this.saveBtn = byId("task-save");
    this.errorBox = byId("task-form-error");
    this.errorText = byId("task-form-error-text");
    this.reloadBtn = byId("task-reload");
    this.reminders = new ReminderList();
    this.recurrence = new RecurrenceFields();

    this.#fillZones();
    this.form.addEventListener("submit", (e) => {
      e.preventDefault();
      this.save();
    });
    byId("task-cancel").addEventListener("click", () => this.close());
    byId("task-dialog-close").addEventListener("click", () => this.close());
    byId("task-due-clear").addEventListener("click", () => {
      this.inputs.due_at.value = "";
      this.inputs.due_at.focus();
    });
    this.reloadBtn.addEventListener("click", () => this.reload());
    this.dialog.addEventListener("close", () => {
      this.#task = null;
      if (this.#opener?.isConnected) this.#opener.focus();
      else byId("new-task").focus();
    });
    // Editing a field clears its error.
    this.form.addEventListener("input", (e) => this.#clearFieldError(e.target));
  }

  get editingId() {
    return this.dialog.open ? (this.#task?.id ?? null) : null;
  }

  #fillZones() {
    const select = this.inputs.time_zone;
    const zones = new Set(Intl.supportedValuesOf?.("timeZone") ?? []);
    zones.add("UTC");
    zones.add(browserTimeZone());
    select.replaceChildren(...[...zones].sort().map((z) => h("option", { value: z }, z.replaceAll("_", " "))));
  }

  /** Open for a new task (no argument) or to edit `task`; `opener` gets focus back. */
  open(task = null, opener = document.activeElement) {
    this.#opener = opener;
    this.#fill(task);
    if (!this.dialog.open) this.dialog.showModal();
    this.inputs.title.focus();
    if (task) this.notifyChanged(task.id, { adopt: true }); // the list's copy may be behind
  }

  close() {
    if (this.dialog.open) this.dialog.close();
  }

  #fill(task) {
    this.#task = task;
    this.#clearErrors();
    this.heading.textContent = task ? "Edit task" : "New task";
    this.saveBtn.textContent = task ? "Save changes" : "Create task";
    const i = this.inputs;
    i.title.value = task?.title ?? "";
    i.notes.value = task?.notes ?? "";
    i.priority.value = task?.priority ?? "medium";
    i.tags.value = (task?.tags ?? []).join(", ");
    i.due_at.value = toLocalInput(task?.due_at);
    const zone = task?.time_zone ?? browserTimeZone();
    if (![...i.time_zone.options].some((o) => o.value === zone)) i.time_zone.append(h("option", { value: zone }, zone));
    i.time_zone.value = zone;
    this.reminders.fill(task?.reminders ?? []);
    this.recurrence.fill(task?.recurrence ?? null);
    this.#initial = this.#payload();
  }

  #payload() {
    const i = this.inputs;
    return {
      title: i.title.value.trim(),
      notes: i.notes.value,
      priority: i.priority.value,
      tags: i.tags.value.split(",").map((t) => t.trim().replace(/^#/, "")).filter(Boolean),
      due_at: localInputToIso(i.due_at.value),
      time_zone: i.time_zone.value,
      reminders: this.reminders.read(),
      recurrence: this.recurrence.read(),
    };
  }

  #changes(payload) {
    return Object.fromEntries(
      FIELDS.filter((f) => JSON.stringify(payload[f]) !== JSON.stringify(this.#initial[f])).map((f) => [f, payload[f]]),
    );
  }

  /** Problems the server would report anyway, caught before sending: [{field, path, message}]. */
  #check(payload) {
    const problems = [];
    if (!payload.title) problems.push({ field: "title", path: [], message: "Give the task a title." });
    if (this.inputs.due_at.value && !payload.due_at) {
      problems.push({ field: "due_at", path: [], message: "Enter a complete date and time." });
    }
    for (const p of this.reminders.problems({ hasDue: Boolean(payload.due_at) })) {
      problems.push({ field: "reminders", path: [p.index], message: p.message });
    }
    if (payload.recurrence && !payload.due_at) {
      problems.push({ field: "recurrence", path: [], message: "A repeating task needs a due date to repeat from." });
    }
    return problems;
  }

  async save() {
    if (this.#saving) return;
    this.#clearErrors();
    const payload = this.#payload();
    const problems = this.#check(payload);
    if (problems.length) return this.#showFieldErrors(problems);

    const editing = this.#task;
    const body = editing ? this.#changes(payload) : payload;
    if (editing && !Object.keys(body).length) return this.close();

    this.#saving = true;
    this.saveBtn.disabled = true;
    this.form.setAttribute("aria-busy", "true");
    try {
      const task = editing
        ? await api.updateTask(editing.id, body, editing.version)
        : await api.createTask(body);
      this.close();
      this.onSaved(task, { created: !editing });
    } catch (err) {
      this.#showError(err);
    } finally {
      this.#saving = false;
      this.saveBtn.disabled = false;
      this.form.removeAttribute("aria-busy");
    }
  }

  /** Re-read the task being edited (after a conflict); unsaved edits are dropped. */
  async reload() {
    if (!this.#task) return;
    try {
      this.#fill(await api.getTask(this.#task.id));
      this.inputs.title.focus();
    } catch (err) {
      this.#showError(err);
    }
  }

  /**
   * `taskId` may have changed elsewhere. When it is the task open here, warn (without moving
   * focus) and offer to reload; with `adopt` (just opened), take the new version silently
   * as long as nothing was edited yet. The form never changes under the user's hands.
   */
  async notifyChanged(taskId, { adopt = false } = {}) {
    const task = this.#task;
    if (!task || task.id !== taskId || !this.dialog.open || this.#saving) return;
    try {
      const latest = await api.getTask(taskId);
      if (this.#task !== task || this.#saving || latest.version === task.version) return;
      if (adopt && JSON.stringify(this.#payload()) === JSON.stringify(this.#initial)) {
        this.#fill(latest);
      } else {
        this.#banner(
          "This task was changed somewhere else while you were editing. Reload it to see the changes (your unsaved edits here will be lost).",
          true,
          false,
        );
      }
    } catch (err) {
      if (err.status === 404 && this.#task === task) {
        this.#banner("This task was deleted somewhere else.", false, false);
      }
    }
  }

  #showError(err) {
    if (err.status === 412 || err.status === 409) {
      this.#banner(`${err.message.charAt(0).toUpperCase()}${err.message.slice(1)}.`, true);
    } else if (err.status === 404 && this.#task) {
      this.#banner("This task no longer exists: it was deleted somewhere else.", false);
    } else if (err.fieldErrors?.length) {
      this.#showFieldErrors(err.fieldErrors);
    } else {
      this.#banner(err.message, false);
    }
  }

  #banner(message, offerReload, moveFocus = true) {
    this.errorText.textContent = message;
    this.reloadBtn.hidden = !offerReload || !this.#task;
    this.errorBox.hidden = false;
    if (moveFocus) (offerReload && this.#task ? this.reloadBtn : this.errorBox).focus();
  }

  #showFieldErrors(errors) {
    const unplaced = [];
    let first = null;
    for (const e of errors) {
      const target = this.#target(e);
      if (!target) {
        unplaced.push(e.field ? `${e.field.replaceAll("_", " ")}: ${e.message}` : e.message);
        continue;
      }
      target.error.textContent = target.error.textContent
        ? `${target.error.textContent} ${capitalise(e.message)}`
        : capitalise(e.message);
      target.input?.setAttribute("aria-invalid", "true");
      first ??= target.input;
    }
    if (unplaced.length) this.#banner(unplaced.join(" "), false);
    first?.focus();
  }

  /** {input, error} for a server error's field and path. */
  #target({ field, path }) {
    if (field === "reminders") {
      return (typeof path[0] === "number" && this.reminders.rowTarget(path[0])) || {
        input: this.reminders.rowTarget(0)?.input ?? byId("reminder-add"),
        error: byId("err-reminders"),
      };
    }
    if (field === "recurrence") return { input: this.recurrence.fieldFor(path), error: byId("err-recurrence") };
    if (field in this.inputs) return { input: this.inputs[field], error: byId(`err-${field}`) };
    return null;
  }

  #clearErrors() {
    this.errorBox.hidden = true;
    this.errorText.textContent = "";
    for (const el of this.form.querySelectorAll(".field-error")) el.textContent = "";
    for (const el of this.form.querySelectorAll("[aria-invalid]")) el.removeAttribute("aria-invalid");
  }

  #clearFieldError(input) {
    if (!input?.hasAttribute?.("aria-invalid")) return;
    input.removeAttribute("aria-invalid");
    const ids = (input.getAttribute("aria-describedby") ?? "").split(/\s+/);
    for (const id of ids) {
      const el = id && document.getElementById(id);
      if (el?.classList.contains("field-error")) el.textContent = "";
    }
  }
}

function capitalise(text) {
  return text ? text.charAt(0).toUpperCase() + text.slice(1) : text;
}
