/** One contact: who they are, their tags and groups, whether they may be messaged, and their timeline. */
import { useState } from "preact/hooks";
import { allPages, api } from "../../api.ts";
import { useEvents } from "../../events.ts";
import { href } from "../../router.ts";
import type { Contact, ContactKey, Instance } from "../../types.ts";
import { Action, Badge, ErrorNote, Time, useLoad } from "../../ui.tsx";
import { Chip, STATUS_MEANING, displayName } from "./common.tsx";
import { Timeline } from "./timeline.tsx";

export function ContactProfile({ id }: { id: string }) {
  const contact = useLoad(() => api<Contact>(`/contacts/${encodeURIComponent(id)}`), [id]);
  // Bumped when something the timeline shows changed (a message came, a tag or status changed here).
  const [timelineVersion, setTimelineVersion] = useState(0);
  const changed = (c: Contact) => {
    contact.set(() => c);
    setTimelineVersion((v) => v + 1);
  };
  useEvents(["message.received"], (e) => {
    if (e.contact_id !== id) return;
    contact.reload();
    setTimelineVersion((v) => v + 1);
  });

  const c = contact.data;
  return (
    <section>
      <p>
        <a href={href("contacts")}>← Contacts</a>
      </p>
      <ErrorNote error={contact.error} />
      {c && (
        <>
          <header class="contact-head">
            {c.avatar_url ? <img class="avatar" src={c.avatar_url} alt="" /> : <span class="avatar none" aria-hidden="true">{displayName(c).slice(0, 1)}</span>}
            <hgroup>
              <h2>{displayName(c)}</h2>
              <p>
                <Badge value={c.status} /> <span class="muted" data-field="status-meaning">{STATUS_MEANING[c.status]}</span>
              </p>
            </hgroup>
          </header>
          <div class="split contact-split">
            <div>
              <ContactDetails contact={c} />
              <KeyEditor contact={c} kind="tags" onChanged={changed} />
              <KeyEditor contact={c} kind="groups" onChanged={changed} />
              <Privacy contact={c} onChanged={changed} />
            </div>
            <Timeline contactId={id} version={timelineVersion} />
          </div>
        </>
      )}
    </section>
  );
}

function ContactDetails({ contact: c }: { contact: Contact }) {
  const address = Object.values(c.address).filter(Boolean).join(", ");
  const rows: [string, preact.ComponentChildren][] = [
    ["Phone", c.phone ?? <span class="muted">unknown: WhatsApp showed only their LID</span>],
    ["WhatsApp ID", c.jid ?? "—"],
    ["LID", c.lid ?? "—"],
    ["Email", c.email ?? "—"],
    ["Document", c.document ? `${c.document}${c.document_type ? ` (${c.document_type})` : ""}` : "—"],
    ["Address", address || "—"],
    ["Came from", c.source],
    ["Last number", c.instance_id ? <NumberName id={c.instance_id} /> : "—"],
    ["Messages", c.message_count],
    ["Last message", <Time iso={c.last_message_at} />],
    ["Opted out", <Time iso={c.opted_out_at} />],
    ["Created", <Time iso={c.created_at} />],
  ];
  return (
    <table class="details">
      <tbody>
        {rows.map(([label, value]) => (
          <tr>
            <th scope="row">{label}</th>
            <td class="wrap">{value}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** The number that last talked to them, by its name and phone (its id while those load, or if it is gone). */
function NumberName({ id }: { id: string }) {
  const number = useLoad(() => api<Instance>(`/instances/${encodeURIComponent(id)}`), [id]);
  const n = number.data;
  return <a href={href("numbers", id)}>{n ? `${n.name}${n.phone ? ` (${n.phone})` : ""}` : id}</a>;
}

const KINDS = {
  tags: { title: "Tags", list: "/tags", noun: "tag" },
  groups: { title: "Groups", list: "/contact-groups", noun: "group" },
} as const;

/** Tags or contact groups: remove one, or add one by key (an unknown key is created). */
function KeyEditor({ contact, kind, onChanged }: { contact: Contact; kind: keyof typeof KINDS; onChanged: (c: Contact) => void }) {
  const words = KINDS[kind];
  const known = useLoad(() => allPages<ContactKey>(words.list), []);
  const [value, setValue] = useState("");
  const [error, setError] = useState<unknown>();
  const change = async (body: { add?: string[]; remove?: string[] }) => {
    setError(undefined);
    try {
      onChanged(await api<Contact>(`/contacts/${contact.id}/${kind}`, { method: "POST", body }));
      if (body.add) known.reload();
    } catch (err) {
      setError(err);
    }
  };
  const current = contact[kind];
  return (
    <article class="keys" data-keys={kind}>
      <h4>{words.title}</h4>
      <p>
        {current.length === 0 && <span class="muted">No {words.noun}s.</span>}
        {current.map((k) => (
          <Chip value={k} onRemove={() => void change({ remove: [k] })} />
        ))}
      </p>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          if (value.trim()) void change({ add: [value.trim()] }).then(() => setValue(""));
        }}
      >
        <div role="group">
          <input
            name={`add-${words.noun}`}
            list={`known-${kind}`}
            placeholder={`Add a ${words.noun} (e.g. hot-lead)`}
            aria-label={`Add a ${words.noun}`}
            value={value}
            onInput={(e) => setValue(e.currentTarget.value)}
          />
          <datalist id={`known-${kind}`}>
            {(known.data ?? []).filter((k) => !current.includes(k.key)).map((k) => (
              <option value={k.key}>{k.name}</option>
            ))}
          </datalist>
          <button type="submit">Add</button>
        </div>
      </form>
      <ErrorNote error={error} />
    </article>
  );
}

/** Opt-out, block and opt-in: what the suppression list holds for this person. */
function Privacy({ contact, onChanged }: { contact: Contact; onChanged: (c: Contact) => void }) {
  const [reason, setReason] = useState("");
  const act = async (action: "optout" | "suppress" | "optin") => {
    const body = action === "optin" || !reason.trim() ? undefined : { reason: reason.trim() };
    onChanged(await api<Contact>(`/contacts/${contact.id}/${action}`, { method: "POST", body }));
    setReason("");
  };
  const barred = contact.status === "opted_out" || contact.status === "blocked";
  return (
    <article class="privacy">
      <h4>Messaging</h4>
      {barred ? (
        <>
          <p>
            {contact.status === "opted_out" ? "They opted out" : "They are blocked here"}: their number is on the suppression list and the API refuses
            every send to them (422).
          </p>
          <Action
            onRun={() => act("optin")}
            confirm={`Opt ${displayName(contact)} back in? Only do this if they asked to hear from you again.`}
          >
            Opt back in
          </Action>
        </>
      ) : (
        <>
          <p class="muted">
            Opting out puts their number on the suppression list (LGPD): sends to them are refused until they opt back in. Blocking does the same for
            your own reasons; it is not a WhatsApp block.
          </p>
          <input
            name="privacy-reason"
            placeholder="Why (optional, kept in the timeline)"
            aria-label="Why"
            value={reason}
            onInput={(e) => setReason(e.currentTarget.value)}
          />
          <div class="toolbar">
            <Action onRun={() => act("optout")} confirm={`Opt ${displayName(contact)} out? No message will be sent to them.`}>
              Opt out
            </Action>
            <Action class="secondary" onRun={() => act("suppress")} confirm={`Block ${displayName(contact)} here? No message will be sent to them.`}>
              Block
            </Action>
          </div>
        </>
      )}
    </article>
  );
}
