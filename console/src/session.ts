/**
 * Who is signed in. Credentials live in this tab's session storage, so they
 * end with the tab and never appear in a URL, a history entry or a referrer.
 */
export type Role = "project" | "admin";

const KEY = { project: "pombo.project_key", admin: "pombo.admin_token" } as const;

export const credential = (role: Role): string | null => sessionStorage.getItem(KEY[role]);

export function signIn(role: Role, secret: string) {
  sessionStorage.setItem(KEY[role], secret.trim());
}

export function signOut(role: Role) {
  sessionStorage.removeItem(KEY[role]);
}
