/**
 * The signed-in user's alerts as they fire (AlertService.StreamAlerts over gRPC-Web), reopened
 * with back-off whenever the stream drops. Business evaluates each rule once per bar; every open
 * page of the user receives the same alert.
 */
import { Code, ConnectError } from "@connectrpc/connect";
import type { Alert } from "@gen/trading/alerts/v1/alert_service_pb";
import { useEffect, useRef, useState } from "react";
import { backoffDelay } from "../../lib/marketFormat";
import { alertClient } from "./alertsClients";

export type AlertStreamState = "connecting" | "live" | "reconnecting";

export function useAlertStream(onAlert: (alert: Alert) => void): AlertStreamState {
  const [state, setState] = useState<AlertStreamState>("connecting");
  const handler = useRef(onAlert);
  handler.current = onAlert;

  useEffect(() => {
    const abort = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;
    let attempt = 0;
    const open = async () => {
      setState(attempt === 0 ? "connecting" : "reconnecting");
      try {
        const stream = alertClient.streamAlerts({}, { signal: abort.signal, timeoutMs: 0, onHeader: () => setState("live") });
        for await (const message of stream) {
          attempt = 0;
          setState("live");
          if (message.alert) handler.current(message.alert);
        }
      } catch (err) {
        if (abort.signal.aborted || ConnectError.from(err).code === Code.Canceled) return;
      }
      if (abort.signal.aborted) return;
      const delay = backoffDelay(attempt);
      attempt += 1;
      setState("reconnecting");
      timer = setTimeout(() => void open(), delay);
    };
    void open();
    return () => {
      abort.abort();
      if (timer) clearTimeout(timer);
    };
  }, []);

  return state;
}
