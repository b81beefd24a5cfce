/**
 * The console's views, in menu order. A view is one route (`#/<path>/...`),
 * shown to one role; it receives the rest of the path and the query.
 */
import type { FunctionComponent } from "preact";
import type { Route } from "../router.ts";
import type { Role } from "../session.ts";
import { ContactsView } from "./contacts.tsx";
import { FleetsView } from "./fleets.tsx";
import { InboxView } from "./inbox.tsx";
import { MessagesView } from "./messages.tsx";
import { MetricsView } from "./metrics.tsx";
import { NumbersView } from "./numbers.tsx";
import { WebhooksView } from "./webhooks.tsx";
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
  { path: "inbox", title: "Inbox", role: "project", component: InboxView },
  { path: "messages", title: "Messages", role: "project", component: MessagesView },
  { path: "contacts", title: "Contacts", role: "project", component: ContactsView },
  { path: "webhooks", title: "Webhooks", role: "project", component: WebhooksView },
  { path: "metrics", title: "Metrics", role: "project", component: MetricsView },
  { path: "settings", title: "Settings", role: "project", component: SettingsView },
  { path: "fleets", title: "Fleets", role: "admin", component: FleetsView },
  { path: "projects", title: "Projects", role: "admin", component: ProjectsView },
];
