/**
 * Projects and their API keys. A key is shown once; only its hash is kept.
 * Owner of `projects` and `api_keys`: the only module that writes them.
 */
import { forgetProjectKeys } from "../auth.ts";
import { API_KEY_PREFIX, newApiKey, newId, sha256Hex } from "../crypto.ts";
import type { Db } from "../db/client.ts";
import { insertApiKey, listApiKeys, revokeApiKey } from "../db/api-keys.ts";
import { findProject, insertProjectWithKey, listProjects } from "../db/projects.ts";
import type { Page } from "../db/pagination.ts";
import { notFound } from "../errors.ts";

async function newKey(projectId: string) {
  const apiKey = newApiKey();
  const row = {
    id: newId(),
    project_id: projectId,
    prefix: apiKey.slice(0, API_KEY_PREFIX.length + 6),
    key_hash: sha256Hex(apiKey),
  };
  return { apiKey, row };
}

type ProjectRow = Awaited<ReturnType<typeof findProject>> & {};

/** What the API shows of a project: how its chats keep their number is the edge's own business. */
const projectView = ({ legacy_chat_numbers: _, ...project }: ProjectRow) => project;

export async function createProject(db: Db, name: string) {
  const id = newId();
  const { apiKey, row } = await newKey(id);
  // Created after `chat_numbers`: none of its chats has a number in a legacy object (services/chat-numbers.ts).
  const project = await insertProjectWithKey(db, { id, name, legacy_chat_numbers: false }, row);
  return { ...projectView(project!), api_key: apiKey };
}

export async function createKey(db: Db, projectId: string) {
  if (!(await findProject(db, projectId))) throw notFound("project");
  const { apiKey, row } = await newKey(projectId);
  const key = await insertApiKey(db, row);
  return { id: key.id, prefix: key.prefix, created_at: key.created_at, api_key: apiKey };
}

export async function keysOf(db: Db, projectId: string) {
  if (!(await findProject(db, projectId))) throw notFound("project");
  return listApiKeys(db, projectId);
}

export async function revokeKey(db: Db, projectId: string, keyId: string) {
  if (!(await revokeApiKey(db, projectId, keyId))) throw notFound("API key");
  forgetProjectKeys(projectId);
}

export async function projectsPage(db: Db, page: Page) {
  const projects = await listProjects(db, page);
  return { ...projects, data: projects.data.map(projectView) };
}
