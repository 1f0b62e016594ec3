import { Alert } from "./Alert";

/** The form-level message, focusable so that a failed submit can move focus to it. */
export function FormError({ message }: { message: string | null }) {
  if (!message) return null;
  return (
    <div tabIndex={-1} className="form-error-anchor">
      <Alert testId="form-error">{message}</Alert>
    </div>
  );
}
