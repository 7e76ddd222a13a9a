/**
 * One Prometheus exposition from several: the workers' of `--workers`,
 * each sample labelled with its worker.
 *
 * @module
 */

interface Family {
  head: string[];
  samples: string[];
}

/**
 * Merges expositions (text format 0.0.4) into one: each family once, its
 * `# HELP` and `# TYPE` from the first part that has it, then every
 * part's samples with the label `worker="N"` added. Per-worker series keep
 * each counter monotonic when one worker restarts; `sum by` adds them up.
 *
 * @param parts Each worker's number and exposition.
 * @returns The merged exposition, ending in a newline.
 *
 * @example
 * ```ts
 * import { mergeExpositions } from "./metrics_merge.ts";
 * const text = "# TYPE up gauge\nup 1\n";
 * const merged = mergeExpositions([{ worker: 1, text }, { worker: 2, text }]);
 * console.assert(merged === '# TYPE up gauge\nup{worker="1"} 1\nup{worker="2"} 1\n');
 * ```
 */
export function mergeExpositions(
  parts: readonly { worker: number; text: string }[],
): string {
  const families = new Map<string, Family>();
  const family = (name: string): Family => {
    let f = families.get(name);
    if (!f) families.set(name, f = { head: [], samples: [] });
    return f;
  };
  for (const { worker, text } of parts) {
    const seen = new Set<string>();
    for (const line of text.split("\n")) {
      if (line === "") continue;
      if (line.startsWith("#")) {
        const [, kind, name] = line.split(" ", 3);
        if ((kind === "HELP" || kind === "TYPE") && name) {
          const f = family(name);
          if (!f.head.some((h) => h.startsWith(`# ${kind} `))) {
            f.head.push(line);
          }
          seen.add(name);
        }
        continue;
      }
      const brace = line.indexOf("{");
      const space = line.indexOf(" ");
      const end = brace !== -1 && brace < space ? brace : space;
      const name = line.slice(0, end);
      const label = `worker="${worker}"`;
      const sample = brace !== -1 && brace < space
        ? `${name}{${label}${line[brace + 1] === "}" ? "" : ","}${
          line.slice(brace + 1)
        }`
        : `${name}{${label}}${line.slice(space)}`;
      // A sample belongs to the family declared last that prefixes it
      // (counters' `_total`); an undeclared one is its own family.
      family(seen.has(name) ? name : baseName(name, seen)).samples.push(
        sample,
      );
    }
  }
  const out: string[] = [];
  for (const f of families.values()) out.push(...f.head, ...f.samples);
  return out.length ? `${out.join("\n")}\n` : "";
}

function baseName(name: string, declared: Set<string>): string {
  for (const suffix of ["_total", "_count", "_sum", "_bucket"]) {
    const base = name.slice(0, -suffix.length);
    if (name.endsWith(suffix) && declared.has(base)) return base;
  }
  return name;
}
