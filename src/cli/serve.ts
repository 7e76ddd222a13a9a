/**
 * `pop3d` serving: listeners, TLS, metrics, logs, and the signals
 * (SIGHUP reloads, SIGTERM/SIGINT drain and stop).
 *
 * @module
 */

import { X509Certificate } from "node:crypto";
import type { Pop3dOptions } from "../server/options.ts";
import { Pop3d } from "../server/pop3d.ts";
import {
  checkCredentials,
  checkGroups,
} from "../transport/_tls_credentials.ts";
import { replaceTlsCredentials } from "../transport/replace_tls_credentials.ts";
import { tlsSocket, type TlsSocketFactory } from "../transport/tls_socket.ts";
import type { SocketFactory, TlsOptions } from "../transport/types.ts";
import { defaultSocket } from "../transport/default_socket.ts";
import { proxySocket } from "../transport/proxy_socket.ts";
import { Lmtpd, type LmtpdEvent } from "../lmtp/lmtpd.ts";
import { type Backend, openBackend } from "./backend.ts";
import { checkServeConfig, type Config } from "./config.ts";
import { filePoolHint } from "./file_pool_hint.ts";
import { networkFsHint } from "./network_fs_hint.ts";
import type { Host } from "./host.ts";
import {
  type Endpoint,
  formatAddress,
  ListenError,
  multiSocket,
} from "./listeners.ts";
import { Log, type LogFormat } from "./log.ts";
import { Metrics } from "./metrics.ts";
import { metricsEndpoint, type MetricsServer } from "./metrics_server.ts";
import { ConfigError, SETTINGS } from "./settings.ts";
import { keepFixed, workerConfig, type WorkerRole } from "./worker_role.ts";

/**
 * The `Pop3d` options that the settings give; an unset one is `null` (the
 * library's default), so that a reload also undoes a removed setting.
 */
export function libraryOptions(config: Config): Pop3dOptions {
  const options: Record<string, unknown> = {};
  for (const s of SETTINGS) {
    if (s.option) options[s.option] = config[s.key] ?? null;
  }
  return options as Pop3dOptions;
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Reads and checks the certificate and key the settings name.
 *
 * @throws {ConfigError} Naming `--tls-cert` or `--tls-key`.
 */
export async function readTls(
  config: Config,
  host: Host,
): Promise<TlsOptions | undefined> {
  const certPath = config["tls-cert"] as string | undefined;
  const keyPath = config["tls-key"] as string | undefined;
  if (certPath === undefined || keyPath === undefined) return undefined;
  const read = async (flag: string, path: string) => {
    try {
      return await host.readText(path);
    } catch (error) {
      throw new ConfigError(
        `--${flag} ${path}: cannot read: ${errorText(error)}`,
      );
    }
  };
  const cert = await read("tls-cert", certPath);
  const key = await read("tls-key", keyPath);
  try {
    new X509Certificate(cert);
  } catch {
    throw new ConfigError(`--tls-cert ${certPath}: not a PEM certificate`);
  }
  try {
    checkCredentials({ cert, key });
  } catch (error) {
    throw new ConfigError(`--tls-key ${keyPath}: ${errorText(error)}`);
  }
  const groups = config["tls-groups"] as string | undefined;
  if (groups === undefined) return { cert, key };
  try {
    checkGroups(groups);
  } catch (error) {
    throw new ConfigError(`--tls-groups ${groups}: ${errorText(error)}`);
  }
  return { cert, key, groups };
}

function certificateFields(cert: string | Uint8Array) {
  const x509 = new X509Certificate(cert);
  return {
    subject: x509.subject.replace(/\n/g, ", "),
    not_after: new Date(x509.validTo).toISOString(),
    expiry: Date.parse(x509.validTo) / 1000,
  };
}

/** One log line per LMTP delivery, refused recipient or failure. */
function lmtpLog(log: Log, event: LmtpdEvent): void {
  switch (event.type) {
    case "delivery":
      log.line("lmtp-delivery", {
        id: event.id,
        remote: event.remote,
        user: event.user,
        size: event.size,
        outcome: event.outcome,
      });
      break;
    case "recipient":
      if (event.status !== "accepted") {
        log.line("lmtp-recipient", {
          id: event.id,
          remote: event.remote,
          address: event.address,
          status: event.status,
        });
      }
      break;
    case "error":
      log.line("error", { id: event.id, error: errorText(event.error) });
      break;
  }
}

function same(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/**
 * Runs the server until SIGTERM or SIGINT; resolves with the exit code.
 *
 * @param host The runtime.
 * @param loadConfig Reads the settings (again on SIGHUP).
 * @param role Given when this is one of `--workers` threads.
 * @throws {ConfigError} For bad settings, before anything is bound.
 * @throws {PostgresDriverError} When `--postgres` cannot be used.
 *
 * @example
 * ```ts ignore
 * const code = await serve(nodeHost(), () => Promise.resolve(config));
 * ```
 */
export async function serve(
  host: Host,
  loadConfig: () => Promise<Config>,
  role?: WorkerRole,
): Promise<number> {
  // A worker keeps the start-only settings the program started with (a
  // SIGHUP later reports a change to them as for one process).
  let kept: string[] = [];
  let first = true;
  const load = role
    ? async () => {
      let next = await loadConfig();
      if (first) ({ config: next, kept } = keepFixed(next, role.fixed));
      first = false;
      return workerConfig(next, role.count);
    }
    : loadConfig;
  let config = await load();
  checkServeConfig(config);
  const log = new Log(
    (line) => host.err(`${line}\n`),
    config["log-format"] as LogFormat,
    role,
  );
  log.debug = config["log-level"] === "debug";
  for (const setting of kept) {
    log.line("setting-kept", {
      setting,
      reason:
        "the other workers started with another value; restart the program to apply it",
    });
  }
  const tls = await readTls(config, host);
  const metrics = new Metrics();
  const certGauge = (cert: string | Uint8Array) => {
    const fields = certificateFields(cert);
    metrics.gauges.set("pop3d_tls_certificate_expiry_timestamp_seconds", [
      "When the served certificate expires (Unix time).",
      fields.expiry,
    ]);
    log.line("tls-certificate", {
      subject: fields.subject,
      not_after: fields.not_after,
    });
  };
  const backend: Backend = await openBackend(config, host, log);

  const endpoints: Endpoint[] = [];
  for (const hostname of config.hostname as string[]) {
    endpoints.push({ proto: "pop3", hostname, port: config.port as number });
    if (config["tls-port"] !== undefined) {
      endpoints.push({
        proto: "pop3s",
        hostname,
        port: config["tls-port"] as number,
      });
    }
  }
  let pop3s: TlsSocketFactory | undefined;
  if (tls && config["tls-port"] !== undefined) {
    pop3s = tlsSocket({
      ...tls,
      handshakeTimeout: config["tls-handshake-timeout"] as number,
    });
  }
  // The very object given as `tls`: replaceTlsCredentials finds the
  // listeners by it.
  const stls: TlsOptions | undefined = tls ? { ...tls } : undefined;
  // Behind a load balancer: every listener takes the PROXY header first.
  const trusted = config["trusted-proxies"] as string[] | undefined;
  const proxied = (socket: SocketFactory): SocketFactory =>
    trusted === undefined ? socket : proxySocket(socket, {
      trusted,
      onError: (error) => log.line("proxy-refused", { error: error.message }),
    });
  const server = new Pop3d<unknown>({
    ...libraryOptions(config),
    hostname: endpoints[0].hostname,
    port: endpoints[0].port,
    auth: backend.auth,
    storage: backend.storage,
    tls: stls ?? null,
    socket: proxied(multiSocket(
      endpoints,
      pop3s,
      (endpoint, port) =>
        log.line("listening", {
          proto: endpoint.proto,
          address: formatAddress(endpoint.hostname, port),
          stls: endpoint.proto === "pop3" ? stls !== undefined : undefined,
        }),
    )),
    onEvent: (event) => {
      log.event(event);
      metrics.event(event);
      if (!role) return;
      if (event.type === "login") role.shareLogin(event.remote, true);
      else if (
        event.type === "login-failed" && event.reason === "credentials"
      ) role.shareLogin(event.remote, false);
    },
  });
  try {
    await server.up();
  } catch (error) {
    await backend.close().catch(() => {});
    if (error instanceof ListenError) {
      log.line("fatal", { error: error.message });
      return 1;
    }
    throw error;
  }
  let metricsServer: MetricsServer | undefined;
  try {
    metricsServer = await metricsEndpoint(
      config,
      () => metrics.render(server.stats()),
      log,
    );
  } catch (error) {
    await server.destroy("kill");
    await backend.close().catch(() => {});
    log.line("fatal", { error: (error as Error).message });
    return 1;
  }
  let lmtp: Lmtpd<unknown> | undefined;
  if (config["lmtp-port"] !== undefined) {
    const hostname = config["lmtp-hostname"] as string;
    const port = config["lmtp-port"] as number;
    lmtp = new Lmtpd<unknown>({
      hostname,
      port,
      auth: backend.auth,
      storage: backend.delivery,
      socket: proxied(
        config["reuse-port"] === true
          ? (o) => defaultSocket({ ...o, reusePort: true })
          : defaultSocket,
      ),
      onEvent: (event) => lmtpLog(log, event),
    });
    try {
      await lmtp.up();
    } catch (error) {
      await server.destroy("kill");
      await metricsServer?.close();
      await backend.close().catch(() => {});
      const e = new ListenError(
        { proto: "pop3", hostname, port },
        "--lmtp-port",
        error,
      );
      log.line("fatal", { error: e.message });
      return 1;
    }
    log.line("listening", {
      proto: "lmtp",
      address: formatAddress(hostname, lmtp.port),
    });
  }
  if (tls) certGauge(tls.cert);
  if (!role || role.index === 1) {
    const hint = filePoolHint(config, host);
    if (hint) log.line("hint", { setting: "sync-metadata", hint });
    // In the background: a statfs on a hung mount must not hold the start.
    networkFsHint(config, host).then((hint) => {
      if (hint) log.line("hint", { setting: "sync-metadata", hint });
    }, () => {});
  }
  log.line("ready", { backend: backend.description });
  role?.onPeerLogin((remote, ok) => server.recordLoginOutcome(remote, ok));
  role?.onMetrics(() => metrics.render(server.stats()));
  role?.ready();

  let reloading: Promise<void> | undefined;
  async function reload(): Promise<void> {
    const started = Date.now();
    let ok = true;
    let next: Config;
    try {
      next = await load();
      checkServeConfig(next);
    } catch (error) {
      log.line("reload-failed", {
        error: errorText(error),
        kept: "the whole previous configuration",
      });
      metrics.reloaded(false);
      return;
    }
    for (const s of SETTINGS) {
      if (!s.reload && !same(config[s.key], next[s.key])) {
        log.line("reload-skipped", {
          setting: s.key,
          reason: "takes effect at restart",
        });
      }
    }
    if (stls || pop3s) {
      try {
        const creds = await readTls(next, host);
        if (creds === undefined) {
          throw new ConfigError(
            "--tls-cert and --tls-key are needed while TLS listeners are open",
          );
        }
        pop3s?.reload(creds);
        if (stls) replaceTlsCredentials(stls, creds);
        certGauge(creds.cert);
      } catch (error) {
        ok = false;
        log.line("reload-failed", {
          setting: "tls-cert",
          error: errorText(error),
          kept: "the previous certificate",
        });
      }
    }
    try {
      server.configure(libraryOptions(next));
    } catch (error) {
      ok = false;
      log.line("reload-failed", {
        error: errorText(error),
        kept: "the previous limits",
      });
    }
    try {
      await backend.reload();
    } catch (error) {
      ok = false;
      log.line("reload-failed", {
        setting: "passwd",
        error: errorText(error),
        kept: "the previous users",
      });
    }
    log.format = next["log-format"] as LogFormat;
    log.debug = next["log-level"] === "debug";
    config = next;
    metrics.reloaded(ok);
    log.line("reloaded", { ok, duration_ms: Date.now() - started });
  }

  return await new Promise<number>((resolve) => {
    let stopping = false;
    host.onSignal("SIGHUP", () => {
      if (stopping) return;
      const previous = reloading ?? Promise.resolve();
      const current = previous.then(reload).catch((error) =>
        log.line("reload-failed", { error: errorText(error) })
      );
      reloading = current;
      current.finally(() => {
        if (reloading === current) reloading = undefined;
      });
    });
    const stop = async (signal: string) => {
      if (stopping) {
        log.line("stop-now", { signal, open: server.conn.list().length });
        await Promise.all([server.destroy("kill"), lmtp?.destroy("kill")]);
        return;
      }
      stopping = true;
      const started = Date.now();
      const drain = config["drain-timeout"] as number;
      await server.down(); // listeners closed before the line says so
      await lmtp?.down();
      log.line("stopping", {
        signal,
        open: server.conn.list().length,
        drain_timeout_ms: drain,
      });
      const timer = setTimeout(() => {
        log.line("drain-timeout", { closing: server.conn.list().length });
        server.destroy("kill");
        lmtp?.destroy("kill");
      }, drain);
      await Promise.all([
        server.destroy("defer"),
        lmtp?.destroy("defer"),
      ]);
      clearTimeout(timer);
      await metricsServer?.close();
      await backend.close().catch((error) =>
        log.line("error", { error: errorText(error) })
      );
      log.line("stopped", { duration_ms: Date.now() - started });
      resolve(0);
    };
    host.onSignal("SIGTERM", () => void stop("SIGTERM"));
    host.onSignal("SIGINT", () => void stop("SIGINT"));
  });
}
