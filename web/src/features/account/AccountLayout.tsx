import { Link, Outlet } from "@tanstack/react-router";
import { PageHeader } from "../../ui/page";

const TABS = [
  { to: "/account", label: "Profile", exact: true },
  { to: "/account/security", label: "Security", exact: false },
  { to: "/account/sessions", label: "Sessions", exact: false },
] as const;

export function AccountLayout() {
  return (
    <div className="page">
      <PageHeader title="Your account" />
      <nav aria-label="Account" className="subnav">
        <ul>
          {TABS.map((t) => (
            <li key={t.to}>
              <Link to={t.to} activeOptions={{ exact: t.exact }} activeProps={{ className: "active" }}>
                {t.label}
              </Link>
            </li>
          ))}
        </ul>
      </nav>
      <Outlet />
    </div>
  );
}
