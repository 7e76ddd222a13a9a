/**
 * Mail and users on disk: {@linkcode MaildirStorage} serves Maildir folders
 * as Postfix, Dovecot, Courier, procmail and fetchmail write them, and
 * {@linkcode PasswdFileAuth} reads users from a Dovecot `passwd-file`, with
 * its password schemes (SHA-crypt, PBKDF2, salted SHA, plaintext).
 *
 * @example Serving `/var/mail/<user>` Maildirs to the users of a passwd-file
 * ```ts ignore
 * import { Pop3d } from "@x/pop3d";
 * import { MaildirStorage, PasswdFileAuth } from "@x/pop3d/maildir";
 *
 * const server = new Pop3d({
 *   port: 1110,
 *   auth: new PasswdFileAuth({ path: "/etc/pop3d.passwd", mailRoot: "/var/mail" }),
 *   storage: new MaildirStorage({ root: "/var/mail" }),
 * });
 * await server.up();
 * ```
 *
 * @example Hashing a password for a passwd-file line
 * ```ts
 * import { hashPassword, verifyPassword } from "@x/pop3d/maildir";
 *
 * const stored = await hashPassword("secret", { scheme: "SHA512-CRYPT" });
 * console.assert(await verifyPassword("secret", stored));
 * console.log(`alice:${stored}`);
 * ```
 *
 * @module
 */

export {
  MAILDIR_LOCK_NAME,
  MaildirStorage,
} from "./src/maildir/maildir_storage.ts";
export type { MaildirStorageOptions } from "./src/maildir/maildir_storage_options.ts";
export type {
  MaildirDirEntry,
  MaildirFileInfo,
  MaildirFs,
} from "./src/maildir/maildir_fs.ts";
export {
  parsePasswdFile,
  PasswdFileAuth,
} from "./src/auth/passwd_file_auth.ts";
export type {
  PasswdEntry,
  PasswdFileAuthOptions,
  PasswdFileFs,
} from "./src/auth/passwd_file_auth.ts";
export {
  hashPassword,
  PASSWORD_SCHEMES,
  passwordScheme,
  verifyPassword,
} from "./src/auth/password_scheme.ts";
export type {
  HashPasswordOptions,
  HashScheme,
} from "./src/auth/password_scheme.ts";
export { MaildirDeliver } from "./src/maildir/maildir_deliver.ts";
export type {
  MaildirDelivered,
  MaildirDeliverOptions,
} from "./src/maildir/maildir_deliver.ts";
// Dovecot's and Courier's UIDL sources for Maildirs.
export {
  compileDovecotUidlFormat,
  DOVECOT_DEFAULT_UIDL_FORMAT,
} from "./src/maildir/dovecot_uidl_format.ts";
export {
  assignDovecotUids,
  compareDovecotNames,
  dovecotBaseName,
  formatDovecotUidlist,
  formatDovecotUidlistRecords,
  parseDovecotUidlist,
} from "./src/maildir/dovecot_uidlist.ts";
export type {
  DovecotUidlist,
  DovecotUidlistRecord,
} from "./src/maildir/dovecot_uidlist.ts";
export { dovecotPop3View } from "./src/maildir/dovecot_pop3_view.ts";
export type {
  DovecotPop3Message,
  DovecotPop3View,
  DovecotPop3ViewOptions,
} from "./src/maildir/dovecot_pop3_view.ts";
export {
  DOVECOT_UIDLIST_LOCK_NAME,
  DOVECOT_UIDLIST_NAME,
  loadDovecotUidls,
} from "./src/maildir/dovecot_uidlist_file.ts";
export type {
  DovecotUidl,
  DovecotUidlOptions,
  DovecotUidls,
} from "./src/maildir/dovecot_uidlist_file.ts";
export {
  COURIER_SIZELIST_NAME,
  courierPop3View,
  loadCourierUidls,
  parseCourierSizelist,
} from "./src/maildir/courier_sizelist.ts";
export type {
  CourierSizelist,
  CourierSizelistEntry,
  CourierUidl,
} from "./src/maildir/courier_sizelist.ts";
