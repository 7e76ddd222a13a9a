// A minimal PostgreSQL client for TESTS only (frontend/backend protocol 3.0)
// over node:net, so the PostgreSQL tests run unchanged under Deno, Bun and
// Node with no dependency. It speaks: startup with trust, cleartext or MD5
// password auth; the extended query protocol with parameters (bytes are sent
// in binary format, everything else as text); text results decoded by type
// (bool, integers, floats), bytea results in binary. A connection prepares
// each SELECT/INSERT/UPDATE/DELETE/WITH text once (Parse + Describe), as real
// drivers do, so later runs skip the server's parse and get bytea columns
// without hex. No TLS, no SCRAM, no COPY, no cancel.
//
// Production code should pass a real driver to PostgresBackend instead; see
// src/postgres/adapters.ts.
import { connect, type Socket } from "node:net";
import { Md5 } from "../../src/_util/md5.ts";
import { toHex } from "../../src/_util/hex.ts";
import type { PgClient, PgQueryable } from "../../src/postgres/types.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** An ErrorResponse from the server. */
export class PgWireError extends Error {
  /** SQLSTATE code, such as "23505". */
  readonly code: string;
  constructor(message: string, code: string) {
    super(message);
    this.name = "PgWireError";
    this.code = code;
  }
}

/** Connection parameters parsed from a postgres:// URL. */
export interface PgWireConfig {
  /** Unix socket path, or undefined for TCP. */
  path?: string;
  host: string;
  port: number;
  user: string;
  password: string;
  database: string;
}

/**
 * Parses `postgres://user:pw@host:port/db` and the libpq form for unix
 * sockets: `postgres://user@localhost/db?host=/run/dir`.
 */
export function parsePgUrl(url: string): PgWireConfig {
  const u = new URL(url);
  const port = Number(u.port || 5432);
  const socketDir = u.searchParams.get("host");
  const user = decodeURIComponent(u.username || "postgres");
  return {
    path: socketDir?.startsWith("/")
      ? `${socketDir}/.s.PGSQL.${port}`
      : undefined,
    host: u.hostname || "127.0.0.1",
    port,
    user,
    password: decodeURIComponent(u.password),
    database: decodeURIComponent(u.pathname.slice(1)) || user,
  };
}

class Writer {
  #parts: number[] = [];
  byte(b: number): this {
    this.#parts.push(b);
    return this;
  }
  int16(n: number): this {
    this.#parts.push((n >> 8) & 255, n & 255);
    return this;
  }
  int32(n: number): this {
    this.#parts.push(
      (n >>> 24) & 255,
      (n >> 16) & 255,
      (n >> 8) & 255,
      n & 255,
    );
    return this;
  }
  cstr(s: string): this {
    for (const b of encoder.encode(s)) this.#parts.push(b);
    this.#parts.push(0);
    return this;
  }
  /** Returns a message: type byte (if any), length, body (+ raw tail). */
  message(type: string | null, tail: Uint8Array[] = []): Uint8Array {
    const head = this.#parts;
    const tailLength = tail.reduce((n, t) => n + t.length, 0);
    const length = 4 + head.length + tailLength;
    const out = new Uint8Array((type ? 1 : 0) + length);
    let at = 0;
    if (type) out[at++] = type.charCodeAt(0);
    out[at++] = (length >>> 24) & 255;
    out[at++] = (length >> 16) & 255;
    out[at++] = (length >> 8) & 255;
    out[at++] = length & 255;
    out.set(head, at);
    at += head.length;
    for (const t of tail) {
      out.set(t, at);
      at += t.length;
    }
    return out;
  }
}

const HEX = new Uint8Array(128);
for (let i = 0; i < 10; i++) HEX[48 + i] = i;
for (let i = 0; i < 6; i++) HEX[97 + i] = HEX[65 + i] = 10 + i;

function decodeByteaText(
  bytes: Uint8Array,
  start: number,
  end: number,
): Uint8Array {
  // Hex format: \x0a0b...
  const out = new Uint8Array((end - start - 2) / 2);
  for (let i = 0, j = start + 2; i < out.length; i++, j += 2) {
    out[i] = (HEX[bytes[j]] << 4) | HEX[bytes[j + 1]];
  }
  return out;
}

function decodeValue(
  oid: number,
  bytes: Uint8Array,
  start: number,
  end: number,
): unknown {
  if (oid === 17) return decodeByteaText(bytes, start, end);
  const text = decoder.decode(bytes.subarray(start, end));
  switch (oid) {
    case 16:
      return text === "t";
    case 20:
    case 21:
    case 23:
    case 26:
    case 700:
    case 701:
    case 1700:
      return Number(text);
    default:
      return text;
  }
}

function arrayLiteral(values: readonly unknown[]): string {
  const items = values.map((v) => {
    if (v === null || v === undefined) return "NULL";
    const s = String(v).replaceAll("\\", "\\\\").replaceAll('"', '\\"');
    return `"${s}"`;
  });
  return `{${items.join(",")}}`;
}

function encodeParam(
  value: unknown,
): { bytes: Uint8Array | null; binary: boolean } {
  if (value === null || value === undefined) {
    return { bytes: null, binary: false };
  }
  if (value instanceof Uint8Array) return { bytes: value, binary: true };
  if (Array.isArray(value)) {
    return { bytes: encoder.encode(arrayLiteral(value)), binary: false };
  }
  if (typeof value === "boolean") {
    return { bytes: encoder.encode(value ? "t" : "f"), binary: false };
  }
  if (value instanceof Date) {
    return { bytes: encoder.encode(value.toISOString()), binary: false };
  }
  return { bytes: encoder.encode(String(value)), binary: false };
}

interface Field {
  name: string;
  oid: number;
  /** Sent in binary (bytea of a prepared statement). */
  binary?: boolean;
}

interface Pending {
  rows: Record<string, unknown>[];
  fields: Field[];
  error?: PgWireError;
  resolve: (
    result: { rows: Record<string, unknown>[]; fields: Field[] },
  ) => void;
  reject: (error: Error) => void;
}

/** A statement prepared on one connection, and the columns it returns. */
interface Prepared {
  name: string;
  fields: Field[];
}

/** Statements worth preparing: the ones run again and again. */
const PREPARABLE = /^\s*(SELECT|INSERT|UPDATE|DELETE|WITH)\b/i;
/** Prepared statements kept per connection; more texts run unprepared. */
const MAX_PREPARED = 256;
const BYTEA = 17;

/** One connection. Queries are queued and run one at a time. */
export class PgWireConnection implements PgQueryable {
  #socket: Socket;
  #buf = new Uint8Array(0);
  #len = 0;
  #queue: Pending[] = [];
  #ready: ((error?: Error) => void) | undefined;
  #config: PgWireConfig;
  #closed = false;
  #fatal: Error | undefined;
  #prepared = new Map<string, Promise<Prepared>>();

  private constructor(socket: Socket, config: PgWireConfig) {
    this.#socket = socket;
    this.#config = config;
    socket.on("data", (data: Uint8Array) => this.#onData(data));
    socket.on("error", (error: Error) => this.#fail(error));
    socket.on("close", () => this.#fail(new Error("Connection closed")));
  }

  /** Connects and authenticates. */
  static connect(url: string | PgWireConfig): Promise<PgWireConnection> {
    const config = typeof url === "string" ? parsePgUrl(url) : url;
    return new Promise((resolve, reject) => {
      const socket = config.path
        ? connect({ path: config.path })
        : connect({ host: config.host, port: config.port });
      socket.setNoDelay?.(true);
      const conn = new PgWireConnection(socket, config);
      conn.#ready = (error) => (error ? reject(error) : resolve(conn));
      socket.once("connect", () => {
        const startup = new Writer().int32(196608).cstr("user").cstr(
          config.user,
        )
          .cstr("database").cstr(config.database).cstr("client_encoding").cstr(
            "UTF8",
          )
          .byte(0).message(null);
        socket.write(startup);
      });
    });
  }

  #fail(error: Error): void {
    if (this.#closed && this.#queue.length === 0) return;
    this.#closed = true;
    this.#fatal ??= error;
    this.#ready?.(error);
    this.#ready = undefined;
    for (const p of this.#queue.splice(0)) p.reject(error);
  }

  #onData(data: Uint8Array): void {
    if (this.#len + data.length > this.#buf.length) {
      const grown = new Uint8Array(
        Math.max(this.#buf.length * 2, this.#len + data.length, 65536),
      );
      grown.set(this.#buf.subarray(0, this.#len));
      this.#buf = grown;
    }
    this.#buf.set(data, this.#len);
    this.#len += data.length;
    let at = 0;
    const b = this.#buf;
    while (this.#len - at >= 5) {
      const length = ((b[at + 1] << 24) | (b[at + 2] << 16) | (b[at + 3] << 8) |
        b[at + 4]) >>> 0;
      if (this.#len - at < 1 + length) break;
      this.#handle(b[at], b, at + 5, at + 1 + length);
      at += 1 + length;
    }
    if (at > 0) {
      b.copyWithin(0, at, this.#len);
      this.#len -= at;
    }
  }

  #handle(type: number, b: Uint8Array, start: number, end: number): void {
    const view = new DataView(b.buffer, b.byteOffset);
    const c = String.fromCharCode(type);
    const p = this.#queue[0];
    switch (c) {
      case "R": {
        const kind = view.getInt32(start);
        if (kind === 0) return;
        if (kind === 3) {
          this.#socket.write(
            new Writer().cstr(this.#config.password).message("p"),
          );
          return;
        }
        if (kind === 5) {
          const salt = b.slice(start + 4, start + 8);
          const inner = toHex(
            new Md5().update(
              encoder.encode(this.#config.password + this.#config.user),
            ).digest(),
          );
          const outer = new Md5().update(encoder.encode(inner)).update(salt)
            .digest();
          this.#socket.write(
            new Writer().cstr(`md5${toHex(outer)}`).message("p"),
          );
          return;
        }
        this.#fail(new Error(`Unsupported authentication method ${kind}`));
        this.#socket.destroy();
        return;
      }
      case "Z":
        if (this.#ready) {
          const ready = this.#ready;
          this.#ready = undefined;
          ready();
          return;
        }
        if (p) {
          this.#queue.shift();
          if (p.error) p.reject(p.error);
          else p.resolve({ rows: p.rows, fields: p.fields });
        }
        return;
      case "T": {
        if (!p) return;
        const n = view.getInt16(start);
        let at = start + 2;
        p.fields = [];
        for (let i = 0; i < n; i++) {
          const zero = b.indexOf(0, at);
          const name = decoder.decode(b.subarray(at, zero));
          at = zero + 1;
          const oid = view.getInt32(at + 6);
          at += 18;
          p.fields.push({ name, oid });
        }
        return;
      }
      case "D": {
        if (!p) return;
        const n = view.getInt16(start);
        let at = start + 2;
        const row: Record<string, unknown> = {};
        for (let i = 0; i < n; i++) {
          const len = view.getInt32(at);
          at += 4;
          const field = p.fields[i];
          if (len < 0) row[field.name] = null;
          else {
            row[field.name] = field.binary
              ? b.slice(at, at + len)
              : decodeValue(field.oid, b, at, at + len);
            at += len;
          }
        }
        p.rows.push(row);
        return;
      }
      case "E": {
        const fields: Record<string, string> = {};
        let at = start;
        while (at < end && b[at] !== 0) {
          const key = String.fromCharCode(b[at]);
          const zero = b.indexOf(0, at + 1);
          fields[key] = decoder.decode(b.subarray(at + 1, zero));
          at = zero + 1;
        }
        const error = new PgWireError(
          fields.M ?? "Unknown error",
          fields.C ?? "",
        );
        if (this.#ready) {
          this.#fail(error);
          this.#socket.destroy();
        } else if (p) p.error ??= error;
        return;
      }
      default:
        // S (ParameterStatus), K (BackendKeyData), 1/2/3 (Parse/Bind/Close
        // complete), C (CommandComplete), n (NoData), N (Notice), I (empty).
        return;
    }
  }

  /** Runs one statement with `$1`-style parameters. */
  async query(
    sql: string,
    params: readonly unknown[] = [],
  ): Promise<{ rows: Record<string, unknown>[] }> {
    if (this.#closed) {
      throw this.#fatal ?? new Error("Connection closed");
    }
    let prepared = this.#prepared.get(sql);
    if (
      prepared === undefined && PREPARABLE.test(sql) &&
      this.#prepared.size < MAX_PREPARED
    ) {
      prepared = this.#prepare(sql);
      this.#prepared.set(sql, prepared);
      // A statement that fails to prepare runs (and fails) unprepared.
      prepared.catch(() => this.#prepared.delete(sql));
    }
    const statement = prepared
      ? await prepared.catch(() => undefined)
      : undefined;
    const { rows } = await this.#send(
      statement ? [] : [new Writer().cstr("").cstr(sql).int16(0).message("P")],
      statement,
      params,
    );
    return { rows };
  }

  /** Parse + Describe of a named statement: its columns and their types. */
  async #prepare(sql: string): Promise<Prepared> {
    const name = `pop3d_${this.#prepared.size}`;
    const { fields } = await this.#exchange(
      [
        new Writer().cstr(name).cstr(sql).int16(0).message("P"),
        new Writer().byte(83).cstr(name).message("D"),
        new Writer().message("S"),
      ],
      [],
    );
    return {
      name,
      fields: fields.map((f) => ({ ...f, binary: f.oid === BYTEA })),
    };
  }

  /**
   * Bind + Execute (+ Describe of the portal when unprepared) + Sync,
   * after `before` (the unnamed statement's Parse).
   */
  #send(
    before: Uint8Array[],
    statement: Prepared | undefined,
    params: readonly unknown[],
  ): Promise<{ rows: Record<string, unknown>[]; fields: Field[] }> {
    const encoded = params.map(encodeParam);
    const bind = new Writer().cstr("").cstr(statement?.name ?? "").int16(
      encoded.length,
    );
    for (const e of encoded) bind.int16(e.binary ? 1 : 0);
    bind.int16(encoded.length);
    // Bind's parameter values go into the tail so large byte arrays are not
    // copied into a number array.
    const tail: Uint8Array[] = [];
    for (const e of encoded) {
      const len = new Uint8Array(4);
      new DataView(len.buffer).setInt32(
        0,
        e.bytes === null ? -1 : e.bytes.length,
      );
      tail.push(len);
      if (e.bytes) tail.push(e.bytes);
    }
    // Result formats: per column for a prepared statement (bytea binary),
    // else one for all: text.
    const columns = statement?.fields ?? [];
    const formats = new Writer().int16(statement ? columns.length : 1);
    if (statement) { for (const f of columns) formats.int16(f.binary ? 1 : 0); }
    else formats.int16(0);
    tail.push(formats.message(null).subarray(4));
    const messages = [
      ...before,
      bind.message("B", tail),
      ...(statement ? [] : [new Writer().byte(80).cstr("").message("D")]),
      new Writer().cstr("").int32(0).message("E"),
      new Writer().message("S"),
    ];
    return this.#exchange(messages, columns);
  }

  /** Sends `messages` in one write; resolves at ReadyForQuery. */
  #exchange(
    messages: Uint8Array[],
    fields: Field[],
  ): Promise<{ rows: Record<string, unknown>[]; fields: Field[] }> {
    if (this.#closed) {
      return Promise.reject(this.#fatal ?? new Error("Connection closed"));
    }
    return new Promise((resolve, reject) => {
      this.#queue.push({ rows: [], fields, resolve, reject });
      // One write per query: fewer syscalls than several small ones.
      const total = messages.reduce((n, m) => n + m.length, 0);
      const all = new Uint8Array(total);
      let at = 0;
      for (const m of messages) {
        all.set(m, at);
        at += m.length;
      }
      this.#socket.write(all);
    });
  }

  /** Closes the connection. */
  close(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#closed = true;
    return new Promise((resolve) => {
      this.#socket.once("close", () => resolve());
      this.#socket.end(new Writer().message("X"));
    });
  }
}

/** A small pool of connections implementing {@link PgClient}. */
export class PgWirePool implements PgClient {
  #url: string | PgWireConfig;
  #max: number;
  #idle: PgWireConnection[] = [];
  #all: Promise<PgWireConnection>[] = [];
  #waiters: ((conn: PgWireConnection) => void)[] = [];
  #closed = false;

  constructor(url: string | PgWireConfig, options: { max?: number } = {}) {
    this.#url = url;
    this.#max = options.max ?? 4;
  }

  async #acquire(): Promise<PgWireConnection> {
    if (this.#closed) throw new Error("Pool is closed");
    const idle = this.#idle.pop();
    if (idle) return idle;
    if (this.#all.length < this.#max) {
      const opening = PgWireConnection.connect(this.#url);
      this.#all.push(opening);
      try {
        return await opening;
      } catch (error) {
        this.#all.splice(this.#all.indexOf(opening), 1);
        throw error;
      }
    }
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  #release(conn: PgWireConnection): void {
    const waiter = this.#waiters.shift();
    if (waiter) waiter(conn);
    else this.#idle.push(conn);
  }

  async query(
    sql: string,
    params: readonly unknown[] = [],
  ): Promise<{ rows: Record<string, unknown>[] }> {
    const conn = await this.#acquire();
    try {
      return await conn.query(sql, params);
    } finally {
      this.#release(conn);
    }
  }

  async transaction<T>(fn: (tx: PgQueryable) => Promise<T>): Promise<T> {
    const conn = await this.#acquire();
    try {
      await conn.query("BEGIN");
      try {
        const result = await fn(conn);
        await conn.query("COMMIT");
        return result;
      } catch (error) {
        await conn.query("ROLLBACK").catch(() => {});
        throw error;
      }
    } finally {
      this.#release(conn);
    }
  }

  async end(): Promise<void> {
    this.#closed = true;
    const all = await Promise.allSettled(this.#all);
    await Promise.all(
      all.map((r) => (r.status === "fulfilled" ? r.value.close() : undefined)),
    );
  }
}
