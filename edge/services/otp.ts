/**
 * OTP text (reference 002): a context message, then a bubble with only the
 * code, so a long-press copies it on any phone. Identical text at scale is
 * easy for WhatsApp to fingerprint, so the context text, when the client does
 * not write its own, is put together from varied phrasings in the project's
 * language.
 */
import type { Language } from "./settings-schema.ts";

const PHRASES: Record<Language, { hello: string[]; intro: string[]; expiry: string[]; warn: string[] }> = {
  "pt-BR": {
    hello: ["Olá!", "Oi!", "Olá,", ""],
    intro: [
      "Seu código de verificação está na próxima mensagem.",
      "Use o código da próxima mensagem para confirmar.",
      "Aqui vai o seu código de acesso, logo abaixo.",
      "Para continuar, use o código a seguir.",
    ],
    expiry: ["Ele vale por {n} minutos.", "Válido por {n} minutos.", "Expira em {n} minutos."],
    warn: ["Não compartilhe com ninguém.", "Não passe este código a ninguém.", "Nunca compartilhe este código.", ""],
  },
  en: {
    hello: ["Hi!", "Hello!", "Hi,", ""],
    intro: [
      "Your verification code is in the next message.",
      "Use the code in the next message to confirm.",
      "Here is your access code, just below.",
      "To continue, use the following code.",
    ],
    expiry: ["It is valid for {n} minutes.", "Valid for {n} minutes.", "It expires in {n} minutes."],
    warn: ["Do not share it with anyone.", "Never share this code.", "Keep this code to yourself.", ""],
  },
  es: {
    hello: ["¡Hola!", "Hola,", "¡Buenas!", ""],
    intro: [
      "Tu código de verificación está en el próximo mensaje.",
      "Usa el código del próximo mensaje para confirmar.",
      "Aquí va tu código de acceso, justo abajo.",
      "Para continuar, usa el siguiente código.",
    ],
    expiry: ["Es válido por {n} minutos.", "Válido por {n} minutos.", "Caduca en {n} minutos."],
    warn: ["No lo compartas con nadie.", "Nunca compartas este código.", "Este código es solo para ti.", ""],
  },
};

const pick = <T>(items: T[], random: () => number) => items[Math.floor(random() * items.length)]!;

export function otpText(language: Language, expiryMinutes: number | undefined, random = Math.random): string {
  const p = PHRASES[language];
  const parts = [pick(p.hello, random), pick(p.intro, random)];
  if (expiryMinutes) parts.push(pick(p.expiry, random).replace("{n}", String(expiryMinutes)));
  parts.push(pick(p.warn, random));
  return parts.filter(Boolean).join(" ");
}

/** What may be kept of a code: its last two characters. */
export const maskCode = (code: string) => `••••${code.slice(-2)}`;
