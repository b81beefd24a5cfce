/** The console's frame: the menu, the signed-in roles, and the view the hash names. */
import { useEffect, useState } from "preact/hooks";
import { whenUnauthorized } from "./api.ts";
import { href, navigate, useRoute } from "./router.ts";
import { credential, signOut, type Role } from "./session.ts";
import { VIEWS } from "./views/index.ts";
import { SignInView } from "./views/sign-in.tsx";

export function App() {
  const route = useRoute();
  const [, setSignedIn] = useState(0);
  const refresh = () => setSignedIn((n) => n + 1);
  useEffect(() => whenUnauthorized(refresh), []);

  const view = VIEWS.find((v) => v.path === route.parts[0]) ?? VIEWS[0]!;
  const roleOn = (role: Role) => credential(role) !== null;
  useEffect(() => {
    if (!route.parts[0]) navigate(view.path);
  }, [route.parts[0]]);

  return (
    <>
      <header class="container-fluid">
        <nav>
          <ul>
            <li>
              <strong>Pombo</strong>
            </li>
          </ul>
          <ul>
            {VIEWS.map((v) => (
              <li key={v.path}>
                <a href={href(v.path)} aria-current={v === view ? "page" : undefined}>
                  {v.title}
                </a>
              </li>
            ))}
            {(["project", "admin"] as const).filter(roleOn).map((role) => (
              <li key={role}>
                <a
                  href="#"
                  class="secondary"
                  onClick={(e) => {
                    e.preventDefault();
                    signOut(role);
                    refresh();
                  }}
                >
                  Sign out{role === "admin" ? " (admin)" : ""}
                </a>
              </li>
            ))}
          </ul>
        </nav>
      </header>
      <main class="container-fluid">
        {roleOn(view.role) ? <view.component route={{ ...route, parts: route.parts.slice(1) }} /> : <SignInView role={view.role} onSignedIn={refresh} />}
      </main>
    </>
  );
}
