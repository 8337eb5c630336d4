// Toasts: short messages in one polite live region (#toasts, data-testid="toast").

import { byId, h, icon } from "./dom.js";

const DEFAULT_MS = 6000;

/**
 * Show a message. `actions` are [{label, onClick}] buttons; the toast stays while the pointer
 * or keyboard focus is on it, and closes after `timeout` ms otherwise (0 = until dismissed).
 */
export function showToast(message, { title, actions = [], timeout = DEFAULT_MS, tone = "info" } = {}) {
  const region = byId("toasts");
  let timer;
  const close = () => {
    clearTimeout(timer);
    item.remove();
  };
  const arm = () => {
    clearTimeout(timer);
    if (timeout > 0) timer = setTimeout(close, timeout);
  };
  const item = h(
    "div",
    { class: `toast toast-${tone}` },
    h(
      "div",
      { class: "toast-text" },
      title ? h("strong", { class: "toast-title" }, title) : null,
      h("span", {}, message),
    ),
    h("button", { type: "button", class: "icon-btn", "aria-label": "Dismiss", onclick: close }, icon("x")),
    actions.length
      ? h(
          "div",
          { class: "toast-actions" },
          actions.map(({ label, onClick }) =>
            h("button", {
              type: "button",
              class: "btn small",
              onclick: async () => {
                close();
                await onClick();
              },
            }, label),
          ),
        )
      : null,
  );
  item.addEventListener("mouseenter", () => clearTimeout(timer));
  item.addEventListener("mouseleave", arm);
  item.addEventListener("focusin", () => clearTimeout(timer));
  item.addEventListener("focusout", arm);
  region.append(item);
  while (region.children.length > 4) region.firstElementChild.remove();
  arm();
  return close;
}
