/** Every list in the API pages the same way: `{ data, total, limit, offset }`. */
export type Page = { limit: number; offset: number };
export type Paged<T> = { data: T[]; total: number; limit: number; offset: number };

export const paged = <T>(data: T[], total: number, page: Page): Paged<T> => ({ data, total, ...page });
