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
    key_hash: await sha256Hex(apiKey),
  };
  return { apiKey, row };
}

export async function createProject(db: Db, name: string) {
  const id = newId();
  const { apiKey, row } = await newKey(id);
  const project = await insertProjectWithKey(db, { id, name }, row);
  return { ...project, api_key: apiKey };
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

export const projectsPage = (db: Db, page: Page) => listProjects(db, page);
