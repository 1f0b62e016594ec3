/**
 * The live prediction stream (PredictionService.StreamPredictions over gRPC-Web), reopened with
 * exponential back-off whenever it drops, and what a person needs to see about it: connecting,
 * live, reconnecting in N s, or off.
 */
import { Code, ConnectError } from "@connectrpc/connect";
import type { StreamPredictionsResponse } from "@gen/trading/ml/v1/prediction_service_pb";
import { useEffect, useRef, useState } from "react";
import { predictionClient } from "../../api/marketClients";
import { planNeeded, toApiError } from "../../api/errors";
import { backoffDelay } from "../../lib/marketFormat";
import type { StreamState } from "./streamState";

export { type StreamState, streamStateLabel } from "./streamState";

/** Opens the stream while `enabled`; calls `onMessage` for each bar. Reopens after any failure. */
export function useLiveStream(
  symbol: string,
  timeframe: string,
  enabled: boolean,
  onMessage: (message: StreamPredictionsResponse) => void,
): StreamState {
  const [state, setState] = useState<StreamState>({ kind: "off" });
  const handler = useRef(onMessage);
  handler.current = onMessage;

  useEffect(() => {
    if (!enabled || !symbol) {
      setState({ kind: "off" });
      return;
    }
    const abort = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;
    let attempt = 0;

    const open = async () => {
      setState({ kind: "connecting", attempt });
      let messages = 0;
      let missed = 0;
      let lastSequence = 0n;
      let reason = "the stream ended";
      try {
        const stream = predictionClient.streamPredictions({ symbol, timeframe }, { signal: abort.signal, timeoutMs: 0 });
        setState({ kind: "live", messages, missed });
        for await (const message of stream) {
          if (lastSequence > 0n && message.sequence > lastSequence + 1n) missed += Number(message.sequence - lastSequence - 1n);
          lastSequence = message.sequence;
          messages += 1;
          attempt = 0;
          setState({ kind: "live", messages, missed });
          handler.current(message);
        }
      } catch (err) {
        if (abort.signal.aborted || ConnectError.from(err).code === Code.Canceled) return;
        const needed = planNeeded(err);
        if (needed) {
          setState({ kind: "needs-plan", needed }); // reopening would be refused again
          return;
        }
        reason = toApiError(err).message.replace(/\.$/, "");
      }
      if (abort.signal.aborted) return;
      const delay = backoffDelay(attempt);
      attempt += 1;
      setState({ kind: "reconnecting", attempt, retryAt: Date.now() + delay, reason });
      timer = setTimeout(() => void open(), delay);
    };
    void open();
    return () => {
      abort.abort();
      if (timer) clearTimeout(timer);
    };
  }, [symbol, timeframe, enabled]);

  return state;
}
