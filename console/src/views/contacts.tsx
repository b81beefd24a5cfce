/**
 * Contacts: the CRM list with its filters (#/contacts?status=...), a
 * contact's profile and timeline (#/contacts/<id>), and the project's
 * suppression list (#/contacts/suppressions).
 */
import type { Route } from "../router.ts";
import { ContactList } from "./contacts/list.tsx";
import { ContactProfile } from "./contacts/profile.tsx";
import { SuppressionList } from "./contacts/suppressions.tsx";
import { ContactTabs } from "./contacts/common.tsx";

export function ContactsView({ route }: { route: Route }) {
  const [first] = route.parts;
  if (first === "suppressions") {
    return (
      <section>
        <ContactTabs current="suppressions" />
        <SuppressionList />
      </section>
    );
  }
  if (first) return <ContactProfile id={first} />;
  return (
    <section>
      <ContactTabs current="list" />
      <ContactList query={route.query} />
    </section>
  );
}
