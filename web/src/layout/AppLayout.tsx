import { Link, Outlet, useRouter, useRouterState } from "@tanstack/react-router";
import { useEffect, useId, useRef, useState } from "react";
import { NAV_ITEMS, visible } from "../routes/guards";
import { session, useSession } from "../session/instance";
import { Button } from "../ui/Button";
import { APP_NAME } from "../ui/page";
import { Toaster } from "../ui/toast";
import { MlBanner } from "./MlBanner";

/** Moves focus to the new page's heading after a client-side navigation (not on first load). */
function useFocusOnNavigate(mainRef: React.RefObject<HTMLElement | null>) {
  const router = useRouter();
  useEffect(() => {
    let first = true;
    return router.subscribe("onResolved", (event) => {
      if (first) {
        first = false;
        return;
      }
      if (event.fromLocation?.pathname === event.toLocation.pathname) return;
      requestAnimationFrame(() => {
        const heading = mainRef.current?.querySelector<HTMLElement>("h1");
        (heading ?? mainRef.current)?.focus({ preventScroll: false });
      });
    });
  }, [router, mainRef]);
}

export function AppLayout() {
  const snapshot = useSession();
  const items = visible(NAV_ITEMS, snapshot);
  const [menuOpen, setMenuOpen] = useState(false);
  const mainRef = useRef<HTMLElement>(null);
  const navId = useId();
  const pathname = useRouterState({ select: (s) => s.location.pathname });
  useFocusOnNavigate(mainRef);
  useEffect(() => setMenuOpen(false), [pathname]);

  const signedIn = snapshot.status === "signed-in";
  return (
    <div className="app">
      <a
        className="skip-link"
        href="#main"
        onClick={(e) => {
          e.preventDefault();
          mainRef.current?.focus();
        }}
      >
        Skip to content
      </a>
      <header className="app-header">
        <div className="header-inner">
          <Link to="/" className="brand">
            {APP_NAME}
          </Link>
          <button
            type="button"
            className="menu-toggle btn btn-secondary"
            aria-expanded={menuOpen}
            aria-controls={navId}
            onClick={() => setMenuOpen((o) => !o)}
          >
            Menu
          </button>
          <nav aria-label="Main" id={navId} className={`main-nav${menuOpen ? " open" : ""}`} data-testid="main-nav">
            <ul>
              {items.map((item) => (
                <li key={item.to}>
                  <Link to={item.to} activeProps={{ className: "active" }}>
                    {item.label}
                  </Link>
                </li>
              ))}
            </ul>
            <div className="nav-account">
              {signedIn ? (
                <Button variant="secondary" onClick={() => void session.logout()} data-testid="sign-out">
                  Sign out
                </Button>
              ) : snapshot.status === "signed-out" ? (
                <>
                  <Link to="/sign-in" search={{}} className="btn btn-link">
                    Sign in
                  </Link>
                  <Link to="/register" className="btn btn-primary">
                    Register
                  </Link>
                </>
              ) : null}
            </div>
          </nav>
        </div>
      </header>
      <MlBanner />
      <main id="main" ref={mainRef} tabIndex={-1} className="app-main">
        <Outlet />
      </main>
      <footer className="app-footer">
        <Link to="/status">Platform status</Link>
      </footer>
      <Toaster />
    </div>
  );
}

export function NotFound() {
  return (
    <div className="narrow">
      <h1 tabIndex={-1}>Page not found</h1>
      <p>There is nothing at this address.</p>
      <p>
        <Link to="/">Go to the start page</Link>
      </p>
    </div>
  );
}

export function Forbidden() {
  return (
    <div className="narrow" data-testid="forbidden">
      <h1 tabIndex={-1}>Not allowed</h1>
      <p>Your account does not have access to this page.</p>
      <p>
        <Link to="/account">Go to your account</Link>
      </p>
    </div>
  );
}
