/** The stack of one end-to-end test file, tied to vitest's hooks. */
import { afterAll, afterEach, beforeAll } from "vitest";
import { type Stack, startStack } from "./stack.ts";

/**
 * One stack for a whole test file: started before its tests, stopped after,
 * and on a failed test the tails of the edge and fleet logs are printed.
 * Returns a getter, since the stack exists only once `beforeAll` ran.
 */
export function useStack(name: string, peerCount: number): () => Stack {
  let stack: Stack | undefined;
  beforeAll(async () => {
    stack = await startStack(name, peerCount);
  });
  afterEach((ctx) => {
    if (ctx.task.result?.state === "fail" && stack) console.error(stack.diagnostics());
  });
  afterAll(async () => {
    await stack?.stop();
  });
  return () => {
    if (!stack) throw new Error("the stack is not started yet");
    return stack;
  };
}
