/**
 * The SDK cannot drift from the API: sdk/schema.d.ts is exactly what
 * openapi-typescript generates from sdk/openapi.json, which
 * test/edge/openapi.test.ts holds equal to the document the Worker serves.
 * `npm run sdk` regenerates both.
 */
import { readFileSync } from "node:fs";
import { expect, it } from "vitest";
import { DOCUMENT_PATH, SCHEMA_PATH, schemaTypes } from "../../scripts/sdk.ts";

it("has sdk/schema.d.ts as openapi-typescript generates it from sdk/openapi.json (else: npm run sdk)", async () => {
  const generated = await schemaTypes(readFileSync(DOCUMENT_PATH, "utf8"));
  expect(readFileSync(SCHEMA_PATH, "utf8") === generated, "sdk/schema.d.ts is stale: run `npm run sdk`").toBe(true);
});
