/** The project's numbers by id, to name a message's or a conversation's number and to filter by one. */
import { allPages } from "../../api.ts";
import type { Instance } from "../../types.ts";
import { useLoad } from "../../ui.tsx";

export interface Numbers {
  list: Instance[];
  nameOf: (id: string | null | undefined) => string;
  error: unknown;
}

export function useNumbers(): Numbers {
  const numbers = useLoad(() => allPages<Instance>("/instances"), []);
  const list = numbers.data ?? [];
  const byId = new Map(list.map((n) => [n.id, n]));
  const nameOf = (id: string | null | undefined) => {
    if (!id) return "—";
    const n = byId.get(id);
    return n ? (n.phone ? `${n.name} · ${n.phone}` : n.name) : id;
  };
  return { list, nameOf, error: numbers.error };
}

/** A choice of number; "" stands for every number. */
export function NumberSelect(props: { numbers: Numbers; value: string; onChange: (id: string) => void; name?: string; label: string }) {
  return (
    <select name={props.name ?? "instance_id"} aria-label={props.label} value={props.value} onChange={(e) => props.onChange(e.currentTarget.value)}>
      <option value="">All numbers</option>
      {props.numbers.list.map((n) => (
        <option key={n.id} value={n.id}>
          {props.numbers.nameOf(n.id)}
        </option>
      ))}
    </select>
  );
}
