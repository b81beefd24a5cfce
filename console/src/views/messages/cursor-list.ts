/**
 * A cursor-paged list (`{data, next_cursor}`: conversations, a conversation's
 * messages, message search) as a view holds it: the first page, "load more",
 * and a refresh that a live event asks for. A refresh reads again as many
 * rows as are shown (up to the API's 200), so a row that moved to the top or
 * changed status is shown as the API says, and rows already paged in below
 * stay.
 */
import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import { api } from "../../api.ts";
import type { Page } from "../../types.ts";

type Query = Record<string, string | number | undefined | null>;

const FIRST_PAGE = 50;
const MAX_PAGE = 200;

export interface CursorList<T> {
  items: T[];
  error: unknown;
  loading: boolean;
  /** Whether another page follows. */
  more: boolean;
  loadMore: () => Promise<void>;
  refresh: () => void;
  /** Shows a new row first before the API is asked again (a row the API already gave stays as it is). */
  prepend: (item: T) => void;
}

/** `key` names the list: when it changes (another filter, another conversation), the list starts over. */
export function useCursorList<T extends { id: string }>(path: string | null, query: Query, key: string): CursorList<T> {
  const [state, setState] = useState<{ items: T[]; next: string | null; error?: unknown; loading: boolean }>({ items: [], next: null, loading: true });
  const shown = useRef(state);
  shown.current = state;
  // Each load of the first page supersedes the ones before it (a filter changed, or a refresh).
  const generation = useRef(0);

  const load = useCallback(
    async (refresh: boolean) => {
      if (!path) return;
      const mine = ++generation.current;
      const limit = refresh ? Math.min(MAX_PAGE, Math.max(FIRST_PAGE, shown.current.items.length)) : FIRST_PAGE;
      if (!refresh) setState({ items: [], next: null, loading: true });
      try {
        const page = await api<Page<T>>(path, { query: { ...query, limit } });
        if (mine !== generation.current) return;
        setState((s) => {
          if (!refresh || !page.next_cursor) return { items: page.data, next: page.next_cursor ?? null, loading: false };
          // The fresh page holds the newest rows, so every shown row missing from it is older: it stays below.
          const fresh = new Set(page.data.map((i) => i.id));
          const kept = s.items.filter((i) => !fresh.has(i.id));
          return { items: [...page.data, ...kept], next: kept.length ? s.next : page.next_cursor, loading: false };
        });
      } catch (error) {
        if (mine === generation.current) setState((s) => ({ ...s, error, loading: false }));
      }
    },
    [path, key],
  );

  useEffect(() => {
    void load(false);
  }, [load]);

  const loadMore = useCallback(async () => {
    const { next } = shown.current;
    if (!path || !next) return;
    const mine = generation.current;
    const page = await api<Page<T>>(path, { query: { ...query, limit: FIRST_PAGE, cursor: next } });
    if (mine !== generation.current) return;
    setState((s) => {
      const have = new Set(s.items.map((i) => i.id));
      return { ...s, items: [...s.items, ...page.data.filter((i) => !have.has(i.id))], next: page.next_cursor ?? null };
    });
  }, [path, key]);

  const refresh = useCallback(() => void load(true), [load]);
  const prepend = useCallback(
    (item: T) => setState((s) => (s.items.some((i) => i.id === item.id) ? s : { ...s, items: [item, ...s.items] })),
    [],
  );

  return { items: state.items, error: state.error, loading: state.loading, more: state.next !== null, loadMore, refresh, prepend };
}
