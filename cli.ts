#!/usr/bin/env -S deno run -A
/**
 * The `pop3d` program: a POP3 server for Maildirs and a Dovecot
 * passwd-file, or PostgreSQL, with POP3S and STLS, certificate reload on
 * SIGHUP, graceful drain on SIGTERM, Prometheus metrics and fail2ban-ready
 * logs. Runs on Deno, Bun and Node 24.
 *
 * ```sh
 * deno run -A jsr:@x/pop3d/cli --maildir /var/mail --passwd /etc/pop3d.passwd \
 *   --tls-cert cert.pem --tls-key key.pem --tls-port 995
 * deno install -g -A -n pop3d jsr:@x/pop3d/cli
 * echo secret | pop3d user add alice --passwd /etc/pop3d.passwd
 * pop3d --help
 * ```
 *
 * Importing this module runs the program with the process's arguments;
 * it exports nothing.
 *
 * @example Checking a configuration
 * ```sh
 * deno run -A jsr:@x/pop3d/cli check-config --config /etc/pop3d.conf
 * ```
 *
 * @module
 */

import { main } from "./src/cli/main.ts";
import { nodeHost } from "./src/cli/host.ts";

const host = nodeHost();
host.exit(await main(host));
