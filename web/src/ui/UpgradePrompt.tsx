import { Link } from "@tanstack/react-router";
import type { PlanNeeded } from "../api/errors";

/**
 * Where the server refused a feature for want of a plan (its PERMISSION_DENIED names the plan):
 * what is missing, the plan that opens it, and the way to /pricing.
 */
export function UpgradePrompt({ feature, needed, testId }: { feature: string; needed: PlanNeeded; testId?: string }) {
  return (
    <div className="alert alert-info upgrade-prompt" role="status" data-testid={testId ?? "upgrade-prompt"} data-plan={needed.plan}>
      {feature} needs plan {needed.plan} — <Link to="/pricing">Upgrade</Link>
    </div>
  );
}
