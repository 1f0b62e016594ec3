import { Link } from "@tanstack/react-router";
import { useEffect, useRef, useState } from "react";
import { apiBaseUrl } from "../../config";
import { session, useSession } from "../../session/instance";
import { Alert, Loading } from "../../ui/Alert";
import { PageHeader, usePageTitle } from "../../ui/page";
import { OPENAPI_PATH, authorize, withServer } from "./openapiDoc";
import "./apiReference.css";

/**
 * The interactive API reference: Swagger UI (swagger-ui-dist, bundled into this lazy chunk,
 * no CDN) over the OpenAPI document the gateway generates from the protos. "Try it out" calls
 * carry the signed-in user's in-memory access token, never stored anywhere else.
 */
export function ApiReferencePage() {
  usePageTitle("API reference");
  const signedIn = useSession().status === "signed-in";
  const host = useRef<HTMLDivElement>(null);
  const [state, setState] = useState<"loading" | "ready" | string>("loading");

  useEffect(() => {
    let cancelled = false;
    (async () => {
      const [{ default: SwaggerUI }, reply] = await Promise.all([
        import("swagger-ui-dist/swagger-ui-es-bundle.js"),
        fetch(`${apiBaseUrl}${OPENAPI_PATH}`, { headers: { accept: "application/json" } }),
        import("swagger-ui-dist/swagger-ui.css"),
      ]);
      if (!reply.ok) throw new Error(`the API description did not load (HTTP ${reply.status})`);
      const spec = withServer(await reply.json(), apiBaseUrl);
      if (cancelled || !host.current) return;
      SwaggerUI({
        domNode: host.current,
        spec,
        deepLinking: false,
        docExpansion: "list",
        defaultModelsExpandDepth: 0,
        defaultModelExpandDepth: 2,
        displayOperationId: true,
        showExtensions: true,
        showCommonExtensions: true,
        filter: true,
        persistAuthorization: false,
        // The highlighter's token colours fail WCAG contrast on its dark background.
        syntaxHighlight: false,
        requestInterceptor: async (req) => authorize(req, await session.accessToken(), apiBaseUrl),
      });
      setState("ready");
    })().catch((err: unknown) => {
      if (!cancelled) setState(err instanceof Error ? err.message : String(err));
    });
    return () => {
      cancelled = true;
    };
  }, []);

  return (
    <div className="stack api-reference">
      <PageHeader
        title="API reference"
        lead="Every REST route of the platform with its request and response schemas, enum values and who may call it, generated from the protos. The same operations are gRPC methods."
      />
      <Alert tone="info" testId="api-reference-auth">
        {signedIn ? (
          <>“Try it out” calls carry your access token: they act as you.</>
        ) : (
          <>
            <Link to="/sign-in" search={{ redirect: "/api-reference" }}>
              Sign in
            </Link>{" "}
            to try the calls that need an account; public ones work without.
          </>
        )}
      </Alert>
      {state === "loading" && <Loading label="Loading the API reference…" />}
      {state !== "loading" && state !== "ready" && <Alert>{state}</Alert>}
      <div ref={host} className="api-reference-host" data-testid="api-reference" data-state={state === "ready" ? "ready" : undefined} />
    </div>
  );
}
