/** The stack of one end-to-end test file, tied to vitest's hooks. */
import { afterAll, afterEach, beforeAll } from "vitest";
import { type Stack, type StackOptions, startStack } from "./stack.ts";

/**
 * One stack for a whole test file: started before its tests, stopped after,
 * and on a failed test the tails of the edge and fleet logs are printed.
 * The stack exists only once `beforeAll` ran, so what this returns stands in
 * for it: the file's hooks and tests use it as the stack itself.
 */
export function useStack(name: string, peerCount: number, opts?: StackOptions): Stack {
  let stack: Stack | undefined;
  beforeAll(async () => {
    stack = await startStack(name, peerCount, opts);
  });
  afterEach((ctx) => {
    if (ctx.task.result?.state === "fail" && stack) console.error(stack.diagnostics());
  });
  afterAll(async () => {
    await stack?.stop();
  });
  const started = () => {
    if (!stack) throw new Error("the stack is not started yet");
    return stack;
  };
  return new Proxy({} as Stack, {
    get: (_, key) => Reflect.get(started(), key),
    set: (_, key, value) => Reflect.set(started(), key, value),
  });
}
