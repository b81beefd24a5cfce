/**
 * WhatsApp profiles, live through a number (services/profile.ts):
 * `GET/PATCH /instances/{id}/profile` (the number's own) and
 * `GET /contacts/{id}/profile` (a contact's, as a number sees it).
 */
import { OpenAPIHono, z } from "@hono/zod-openapi";
import { PROFILE_ABOUT_MAX, PROFILE_NAME_MAX } from "../../shared/protocol.ts";
import type { AppEnv } from "../env.ts";
import { IdParam, errorsOf, json, jsonBody, operations } from "../schemas.ts";
import { MEDIA_RULES } from "../services/media.ts";
import { getContactProfile, getOwnProfile, setOwnProfile } from "../services/profile.ts";

const PICTURE_LINK = "WhatsApp's own link to the picture, fetched live: it expires (hours to days), so use it now rather than keep it.";

const OwnProfileSchema = z
  .object({
    instance_id: z.string(),
    jid: z.string().openapi({ example: "5511988887777@s.whatsapp.net" }),
    name: z.string().nullable().openapi({ example: "Loja Centro", description: "The display name (push name) the number shows people." }),
    about: z.string().nullable().openapi({ example: "Seg a sex, 9h às 18h", description: "The number's \"about\" text; null when empty." }),
    picture_url: z.string().nullable().openapi({ description: `${PICTURE_LINK} Null without a picture.` }),
  })
  .openapi("InstanceProfile");

const Picture = z
  .object({
    url: z.url({ protocol: /^https?$/ }).optional(),
    base64: z.string().min(1).optional(),
  })
  .refine((m) => (m.url === undefined) !== (m.base64 === undefined), { message: "give exactly one of url or base64", path: ["url"] })
  .openapi("ProfilePicture", {
    description: `A JPEG, PNG or WebP image of at most ${MEDIA_RULES.image.maxBytes / 1024 / 1024} MB, as a send's image is taken (a URL is fetched only from public addresses); WhatsApp shows it cropped to a square.`,
  });

const ProfileChange = z
  .strictObject({
    name: z.string().trim().min(1).max(PROFILE_NAME_MAX).optional().openapi({ example: "Loja Centro" }),
    about: z.string().max(PROFILE_ABOUT_MAX).optional().openapi({ example: "Seg a sex, 9h às 18h", description: "An empty string clears it." }),
    picture: Picture.nullable().optional().openapi({ description: "A new picture, or null to remove it." }),
  })
  .openapi("InstanceProfileChange");

const ContactProfileSchema = z
  .object({
    contact_id: z.string(),
    instance_id: z.string().openapi({ description: "The number it was asked through." }),
    jid: z.string(),
    about: z.string().nullable().openapi({ description: "Their \"about\" text; null when empty or hidden from this number." }),
    about_set_at: z.string().nullable(),
    picture_url: z.string().nullable().openapi({ description: `${PICTURE_LINK} Null without a picture or when their privacy hides it. The contact's \`avatar_url\` is the copy Pombo keeps.` }),
  })
  .openapi("ContactProfile");

const ThroughNumber = z.object({
  instance_id: z.string().min(1).optional().openapi({ description: "The number to ask through. Default: the number that talks to this contact (their sticky, else last, number)." }),
});

export const instanceProfileRoutes = new OpenAPIHono<AppEnv>()
  .openapi(
    operations(["Instances"]).get("/{id}/profile", "The number's own WhatsApp profile: name, about and picture, live", {
      request: { params: IdParam },
      responses: { 200: json(OwnProfileSchema, "The profile as WhatsApp has it"), ...errorsOf(404, 409, 504) },
    }),
    async (c) => c.json(await getOwnProfile(c.env, c.var.projectId, c.req.valid("param").id), 200),
  )
  .openapi(
    operations(["Instances"]).patch("/{id}/profile", "Change the number's own WhatsApp name, about or picture", {
      request: { params: IdParam, body: jsonBody(ProfileChange) },
      responses: { 200: json(OwnProfileSchema, "The profile after the change"), ...errorsOf(400, 404, 409, 413, 504) },
    }),
    async (c) => c.json(await setOwnProfile(c.env, c.var.projectId, c.req.valid("param").id, c.req.valid("json")), 200),
  );

export const contactProfileRoutes = new OpenAPIHono<AppEnv>().openapi(
  operations(["Contacts"]).get("/{id}/profile", "A contact's WhatsApp about and picture, asked live through a number", {
    request: { params: IdParam, query: ThroughNumber },
    responses: { 200: json(ContactProfileSchema, "What the number may see of them"), ...errorsOf(400, 404, 409, 422, 429, 504) },
  }),
  async (c) => c.json(await getContactProfile(c.env, c.var.projectId, c.req.valid("param").id, c.req.valid("query").instance_id), 200),
);
