// Internal: lexical path handling with `/` separators (no file system).

/** Resolves `.` and `..` segments and repeated slashes. */
export function normalizePath(path: string): string {
  const absolute = path.startsWith("/");
  const out: string[] = [];
  for (const segment of path.split("/")) {
    if (segment === "" || segment === ".") continue;
    if (segment === "..") {
      if (out.length > 0 && out[out.length - 1] !== "..") out.pop();
      else if (!absolute) out.push("..");
      continue;
    }
    out.push(segment);
  }
  const joined = out.join("/");
  if (absolute) return `/${joined}`;
  return joined === "" ? "." : joined;
}

/** Tells whether normalized `path` lies strictly below normalized `root`. */
export function isStrictlyInside(root: string, path: string): boolean {
  if (root === ".") {
    return path !== "." && !path.startsWith("/") && path !== ".." &&
      !path.startsWith("../");
  }
  const prefix = root.endsWith("/") ? root : `${root}/`;
  return path.startsWith(prefix) && path.length > prefix.length;
}

/**
 * Resolves a reference (relative to `root`, or absolute) to a normalized path
 * strictly inside `root`, or returns `undefined` when it would escape.
 */
export function resolveInside(root: string, ref: string): string | undefined {
  if (ref === "" || ref.includes("\0") || ref.includes("\\")) return undefined;
  const base = normalizePath(root);
  const path = ref.startsWith("/")
    ? normalizePath(ref)
    : normalizePath(`${base}/${ref}`);
  return isStrictlyInside(base, path) ? path : undefined;
}
