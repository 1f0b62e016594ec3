import { useSyncExternalStore } from "react";
import { mlStatus } from "../lib/mlStatus";
import { Banner } from "../ui/Alert";

/** Shown while the ML engine does not answer; every other page keeps working. */
export function MlBanner() {
  const status = useSyncExternalStore(mlStatus.subscribe, mlStatus.get);
  if (!status.down) return null;
  return (
    <Banner testId="ml-unavailable">
      <strong>The ML engine is unavailable.</strong> Market data, predictions and backtests are paused; your account
      and everything else keep working. We retry automatically.
    </Banner>
  );
}
