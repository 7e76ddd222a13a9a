import type { SaslMechanism, SaslStep } from "../../src/auth/sasl/types.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** UTF-8 bytes of a string (binary-safe for "\0" and "\x01"). */
export function bytes(text: string): Uint8Array {
  return encoder.encode(text);
}

/** The challenge of a step as text; throws if the step is not a challenge. */
export function challengeText(step: SaslStep): string {
  if (step.type !== "challenge") {
    throw new Error(`Expected a challenge, got ${JSON.stringify(step)}`);
  }
  return decoder.decode(step.challenge);
}

/**
 * Runs a whole exchange: start with `initial`, then feed `responses` while
 * the mechanism answers with challenges. Returns every step.
 */
export async function exchange(
  mechanism: SaslMechanism,
  initial: Uint8Array | undefined,
  responses: Uint8Array[],
): Promise<SaslStep[]> {
  const steps = [await mechanism.start(initial)];
  for (const response of responses) {
    if (steps.at(-1)!.type !== "challenge") break;
    steps.push(await mechanism.step(response));
  }
  return steps;
}

/** Random bytes of a random length below `max`. */
export function randomInput(max: number): Uint8Array {
  const out = new Uint8Array(Math.floor(Math.random() * max));
  crypto.getRandomValues(out);
  return out;
}

/** The failure reason of a step, or its type when it is not a failure. */
export function reason(step: SaslStep | undefined): string | undefined {
  return step?.type === "failure" ? step.reason : step?.type;
}
