import { lazy, Suspense } from "react";

const Buttons = lazy(() => import("./OAuthButtons"));

/**
 * The OAuth buttons in a chunk of their own, loaded after the sign-in form (which is the
 * route's budget, see scripts/bundle-report.mjs); nothing shows until the gateway has said
 * which providers it enables anyway.
 */
export function LazyOAuthButtons() {
  return (
    <Suspense fallback={null}>
      <Buttons />
    </Suspense>
  );
}
