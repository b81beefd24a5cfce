/**
 * The console's views, in menu order. A view is one route (`#/<path>/...`),
 * shown to one role; it receives the rest of the path and the query.
 */
import type { FunctionComponent } from "preact";
import type { Route } from "../router.ts";
import type { Role } from "../session.ts";
import { FleetsView } from "./fleets.tsx";
import { NumbersView } from "./numbers.tsx";
import { ProjectsView } from "./projects.tsx";
import { SettingsView } from "./settings.tsx";

export interface View {
  path: string;
  title: string;
  role: Role;
  component: FunctionComponent<{ route: Route }>;
}

export const VIEWS: View[] = [
  { path: "numbers", title: "Numbers", role: "project", component: NumbersView },
  { path: "settings", title: "Settings", role: "project", component: SettingsView },
  { path: "fleets", title: "Fleets", role: "admin", component: FleetsView },
  { path: "projects", title: "Projects", role: "admin", component: ProjectsView },
];
