/**
 * Buttons and lists, as WhatsApp lets a non-official number send them:
 * a numbered text menu (references 002, 003). The customer answers with a
 * number or the option's text, which arrives as a plain text message.
 */
import type { Language } from "./settings-schema.ts";

export type MenuOption = { id: string; title: string; description?: string };
export type MenuSection = { title?: string; rows: MenuOption[] };

const REPLY_HINT: Record<Language, string> = {
  "pt-BR": "Responda com o número da opção.",
  en: "Reply with the number of your choice.",
  es: "Responde con el número de tu opción.",
};

/** The menu's text, and which number stands for which option id. */
export function menuText(
  language: Language,
  parts: { title?: string; body: string; footer?: string; sections: MenuSection[] },
): { text: string; options: { number: number; id: string; title: string }[] } {
  const lines: string[] = [];
  if (parts.title) lines.push(`*${parts.title}*`);
  lines.push(parts.body, "");
  const options: { number: number; id: string; title: string }[] = [];
  for (const section of parts.sections) {
    if (section.title && parts.sections.length > 1) lines.push(`_${section.title}_`);
    for (const row of section.rows) {
      const number = options.length + 1;
      options.push({ number, id: row.id, title: row.title });
      lines.push(row.description ? `${number}. ${row.title} - ${row.description}` : `${number}. ${row.title}`);
    }
  }
  lines.push("", parts.footer ?? REPLY_HINT[language]);
  return { text: lines.join("\n"), options };
}
