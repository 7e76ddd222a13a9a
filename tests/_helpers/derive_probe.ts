/**
 * Watches `crypto.subtle.deriveBits` (PBKDF2) while a test runs: how many
 * calls, with which iteration counts, and how many ran at once at most.
 * Calls pass through to the real function.
 */
export interface DeriveProbe {
  readonly iterations: number[];
  readonly peak: number;
  restore(): void;
}

export function probeDeriveBits(): DeriveProbe {
  const subtle = crypto.subtle as SubtleCrypto & {
    deriveBits: SubtleCrypto["deriveBits"];
  };
  const real = subtle.deriveBits;
  const iterations: number[] = [];
  let running = 0;
  let peak = 0;
  subtle.deriveBits = async function (algorithm, key, length) {
    iterations.push(Number((algorithm as Pbkdf2Params).iterations));
    running++;
    peak = Math.max(peak, running);
    try {
      return await real.call(subtle, algorithm, key, length);
    } finally {
      running--;
    }
  } as SubtleCrypto["deriveBits"];
  return {
    iterations,
    get peak() {
      return peak;
    },
    restore() {
      subtle.deriveBits = real;
    },
  };
}
