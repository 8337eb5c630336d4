// One toast at a time, in a polite live region: a new message replaces the one showing
// (whose own close runs first, so a pending delete is committed, not lost). A toast with
// an action can take focus, so that a keyboard user reaches its Undo; when it closes,
// focus goes where the caller says (never to the page's body).
import { createContext, useCallback, useContext, useEffect, useMemo, useRef, useState } from "react";
import type { ReactNode } from "react";

import { Icon } from "./Icon";

export type CloseReason = "action" | "dismissed" | "timeout" | "replaced";

export interface ToastAction {
  label: string;
  onClick: () => void | Promise<void>;
  /** An accessible name that starts with the label, e.g. "Undo completing “Stretch”". */
  name?: string;
}

export interface ToastSpec {
  message: string;
  title?: string;
  tone?: "info" | "error" | "reminder";
  actions?: ToastAction[];
  timeoutMs?: number;
  /** Move focus to the first action (for keyboard users whose control just went away). */
  focusAction?: boolean;
  /** Where focus goes when the toast closes while it holds focus. */
  returnFocus?: () => HTMLElement | null;
  onClose?: (reason: CloseReason) => void;
}

interface Showing extends ToastSpec {
  id: number;
}

interface ToastApi {
  show: (spec: ToastSpec) => void;
  closeAll: () => void;
}

const ToastContext = createContext<ToastApi | null>(null);
const DEFAULT_MS = 6000;

export function useToasts(): ToastApi {
  const api = useContext(ToastContext);
  if (!api) throw new Error("useToasts outside <ToastProvider>");
  return api;
}

export function ToastProvider({ children }: { children: ReactNode }) {
  const [toast, setToast] = useState<Showing | null>(null);
  const current = useRef<Showing | null>(null);
  const nextId = useRef(0);

  const close = useCallback((reason: CloseReason) => {
    const closing = current.current;
    if (!closing) return;
    current.current = null;
    setToast(null);
    closing.onClose?.(reason);
  }, []);

  const show = useCallback(
    (spec: ToastSpec) => {
      close("replaced");
      nextId.current += 1;
      const showing = { ...spec, id: nextId.current };
      current.current = showing;
      setToast(showing);
    },
    [close],
  );

  const api = useMemo(() => ({ show, closeAll: () => close("replaced") }), [show, close]);

  return (
    <ToastContext.Provider value={api}>
      {children}
      <div className="toasts" data-testid="toast" role="status" aria-live="polite">
        {toast ? <ToastView key={toast.id} toast={toast} onClose={close} /> : null}
      </div>
    </ToastContext.Provider>
  );
}

function ToastView({ toast, onClose }: { toast: Showing; onClose: (reason: CloseReason) => void }) {
  const ref = useRef<HTMLDivElement>(null);
  const timer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  const timeoutMs = toast.timeoutMs ?? DEFAULT_MS;

  const finish = useCallback(
    (reason: CloseReason) => {
      clearTimeout(timer.current);
      const hadFocus = ref.current?.contains(document.activeElement) ?? false;
      onClose(reason);
      if (hadFocus) toast.returnFocus?.()?.focus();
    },
    [onClose, toast],
  );

  const arm = useCallback(() => {
    clearTimeout(timer.current);
    if (timeoutMs > 0) timer.current = setTimeout(() => finish("timeout"), timeoutMs);
  }, [finish, timeoutMs]);

  useEffect(() => {
    const element = ref.current;
    if (!element) return;
    arm();
    if (toast.focusAction) element.querySelector<HTMLButtonElement>(".toast-actions button")?.focus();
    // The timer stops while the pointer or focus is on the toast; Escape dismisses it.
    const pause = (): void => clearTimeout(timer.current);
    const resume = (event: Event): void => {
      const next = (event as FocusEvent).relatedTarget as Node | null;
      if (!element.contains(next)) arm();
    };
    const onKey = (event: KeyboardEvent): void => {
      if (event.key === "Escape") {
        event.stopPropagation();
        finish("dismissed");
      }
    };
    element.addEventListener("mouseenter", pause);
    element.addEventListener("mouseleave", resume);
    element.addEventListener("focusin", pause);
    element.addEventListener("focusout", resume);
    element.addEventListener("keydown", onKey);
    return () => {
      clearTimeout(timer.current);
      element.removeEventListener("mouseenter", pause);
      element.removeEventListener("mouseleave", resume);
      element.removeEventListener("focusin", pause);
      element.removeEventListener("focusout", resume);
      element.removeEventListener("keydown", onKey);
    };
  }, [arm, finish, toast.focusAction]);

  return (
    <div ref={ref} className={`toast toast-${toast.tone ?? "info"}`}>
      <div className="toast-text">
        {toast.title ? <strong className="toast-title">{toast.title}</strong> : null}
        <span>{toast.message}</span>
      </div>
      <button type="button" className="icon-btn" aria-label="Dismiss" onClick={() => finish("dismissed")}>
        <Icon name="x" />
      </button>
      {toast.actions?.length ? (
        <div className="toast-actions">
          {toast.actions.map((action) => (
            <button
              key={action.label}
              type="button"
              className="btn small"
              aria-label={action.name}
              onClick={() => {
                finish("action");
                void action.onClick();
              }}
            >
              {action.label}
            </button>
          ))}
        </div>
      ) : null}
    </div>
  );
}
