/**
 * Hash routes (`/console/#/numbers/<id>`): the console is one static page,
 * so the server never needs to know its routes, and a reload stays put.
 */
import { useEffect, useState } from "preact/hooks";

export interface Route {
  /** The path's segments: `#/numbers/abc` is ["numbers", "abc"]. */
  parts: string[];
  query: URLSearchParams;
}

export function currentRoute(): Route {
  const raw = location.hash.replace(/^#\/?/, "");
  const [path = "", qs = ""] = raw.split("?");
  return { parts: path.split("/").filter(Boolean).map(decodeURIComponent), query: new URLSearchParams(qs) };
}

export function useRoute(): Route {
  const [route, setRoute] = useState(currentRoute);
  useEffect(() => {
    const update = () => setRoute(currentRoute());
    addEventListener("hashchange", update);
    return () => removeEventListener("hashchange", update);
  }, []);
  return route;
}

/** The href of a console route: `href("numbers", id)`. */
export const href = (...parts: string[]) => `#/${parts.map(encodeURIComponent).join("/")}`;

export function navigate(...parts: string[]) {
  location.hash = href(...parts);
}
