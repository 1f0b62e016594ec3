import { type FormEvent, useCallback, useEffect, useRef, useState } from "react";
import { type ApiError, type ErrorOptions, toApiError } from "../api/errors";
import { tryAgainMessage } from "../lib/format";
import { type Check, validate } from "../lib/validation";

export interface FormState<K extends string> {
  values: Record<K, string>;
  errors: Partial<Record<K, string>>;
  /** The form-level message (what belongs to no field), or null. */
  formError: string | null;
  busy: boolean;
  /** Until when (ms) the server asked to wait (RetryInfo); submit stays off until then. */
  lockedUntil: number | null;
}

export interface UseForm<K extends string> extends FormState<K> {
  field(name: K): { name: K; value: string; onChange: (v: string) => void; error?: string };
  set(name: K, value: string): void;
  reset(values?: Partial<Record<K, string>>): void;
  /** onSubmit handler: checks, then runs `action`; API errors land next to their fields. */
  onSubmit(action: (values: Record<K, string>) => Promise<void>): (e: FormEvent) => void;
  setFormError(message: string | null): void;
  lastError: ApiError | null;
  formRef: React.RefObject<HTMLFormElement | null>;
}

/** Ticks once a second while `until` is in the future; returns the ms left (0 when none). */
export function useCountdown(until: number | null): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    if (until === null || until <= Date.now()) return;
    const timer = setInterval(() => {
      setNow(Date.now());
      if (Date.now() >= until) clearInterval(timer);
    }, 1000);
    return () => clearInterval(timer);
  }, [until]);
  return until === null ? 0 : Math.max(0, until - now);
}

export function useForm<K extends string>(
  initial: Record<K, string>,
  checks: (values: Record<K, string>) => Partial<Record<K, Check | Check[]>>,
  errorOptions: ErrorOptions = {},
): UseForm<K> {
  const [values, setValues] = useState(initial);
  const [errors, setErrors] = useState<Partial<Record<K, string>>>({});
  const [formError, setFormError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [lockedUntil, setLockedUntil] = useState<number | null>(null);
  const [lastError, setLastError] = useState<ApiError | null>(null);
  const formRef = useRef<HTMLFormElement>(null);
  const left = useCountdown(lockedUntil);

  const set = useCallback((name: K, value: string) => {
    setValues((v) => ({ ...v, [name]: value }));
    setErrors((e) => (e[name] ? { ...e, [name]: undefined } : e));
  }, []);

  const focusFirstInvalid = () => {
    requestAnimationFrame(() => {
      const el = formRef.current?.querySelector<HTMLElement>('[aria-invalid="true"]');
      (el ?? formRef.current?.querySelector<HTMLElement>(".form-error-anchor"))?.focus();
    });
  };

  const onSubmit = (action: (values: Record<K, string>) => Promise<void>) => (e: FormEvent) => {
    e.preventDefault();
    if (busy || (lockedUntil !== null && lockedUntil > Date.now())) return;
    const found = validate(values, checks(values));
    setErrors(found);
    setFormError(null);
    if (Object.values(found).some(Boolean)) {
      focusFirstInvalid();
      return;
    }
    setBusy(true);
    action(values)
      .then(() => setLastError(null))
      .catch((thrown: unknown) => {
        const err = toApiError(thrown, errorOptions);
        setLastError(err);
        setErrors(err.fieldErrors as Partial<Record<K, string>>);
        const hasFieldErrors = Object.keys(err.fieldErrors).length > 0;
        setFormError(hasFieldErrors && err.kind === "invalid" && err.message.startsWith("Please correct") ? null : err.message);
        setLockedUntil(err.retryAfterMs !== undefined ? Date.now() + err.retryAfterMs : null);
        if (hasFieldErrors) focusFirstInvalid();
      })
      .finally(() => setBusy(false));
  };

  const shownFormError =
    lockedUntil !== null && lastError?.kind === "rate-limited"
      ? left > 0
        ? tryAgainMessage(left)
        : "You can try again now."
      : formError;

  return {
    values,
    errors,
    formError: shownFormError,
    busy,
    lockedUntil: left > 0 ? lockedUntil : null,
    lastError,
    formRef,
    set,
    setFormError,
    field: (name: K) => ({ name, value: values[name], onChange: (v: string) => set(name, v), error: errors[name] }),
    reset: (next) => {
      setValues({ ...initial, ...next });
      setErrors({});
      setFormError(null);
    },
    onSubmit,
  };
}
