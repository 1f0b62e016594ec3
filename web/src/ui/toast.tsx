import { useSyncExternalStore } from "react";

export interface Toast {
  id: number;
  tone: "success" | "error" | "info";
  text: string;
}

let toasts: Toast[] = [];
let nextId = 1;
const listeners = new Set<() => void>();
const emit = () => listeners.forEach((l) => l());

export function dismissToast(id: number): void {
  toasts = toasts.filter((t) => t.id !== id);
  emit();
}

/** Removes every toast (the session ended: nothing of the last user stays on screen). */
export function clearToasts(): void {
  if (toasts.length === 0) return;
  toasts = [];
  emit();
}

/** Clears the toasts whenever the session ends (logout here or in another tab, revoked, expired). */
export function clearToastsWhenSessionEnds(session: { onEnded(listener: () => void): () => void }): () => void {
  return session.onEnded(() => clearToasts());
}

/** What the toaster shows now (for tests). */
export function currentToasts(): readonly Toast[] {
  return toasts;
}

/** Shows a short message in the corner (announced politely); it goes after a few seconds. */
export function toast(text: string, tone: Toast["tone"] = "success", ms = 6000): void {
  const id = nextId++;
  toasts = [...toasts.slice(-3), { id, tone, text }];
  emit();
  setTimeout(() => dismissToast(id), ms);
}

function subscribe(listener: () => void) {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

/** The live region every toast is written into; always present so screen readers pick changes up. */
export function Toaster() {
  const list = useSyncExternalStore(subscribe, () => toasts);
  return (
    <div className="toaster" aria-live="polite" aria-relevant="additions text">
      {list.map((t) => (
        <div key={t.id} className={`toast toast-${t.tone}`} data-testid="toast">
          <span>{t.text}</span>
          <button type="button" className="toast-close" onClick={() => dismissToast(t.id)} aria-label="Dismiss">
            ×
          </button>
        </div>
      ))}
    </div>
  );
}
