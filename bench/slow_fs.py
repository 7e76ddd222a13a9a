#!/usr/bin/python3
"""A FUSE file system that mirrors a directory and waits before each call.

    /usr/bin/python3 bench/slow_fs.py SOURCE MOUNTPOINT DELAY_MS

Stands in for a network file system in bench/slow_fs.ts: every call that
reaches it (lookups, stats, directory listings, opens, reads, writes,
renames, links, unlinks) first sleeps DELAY_MS milliseconds, the round trip
to a file server, then does the call on SOURCE. Calls are served on many
threads, so waits overlap as a file server's would. The kernel keeps
attributes and names for 1 s (FUSE's default, like NFS's attribute cache),
so not every stat reaches it. Needs Debian's python3-fusepy and fuse3; runs
in the foreground until unmounted (fusermount3 -u MOUNTPOINT).
"""

import errno
import os
import sys
import threading
import time

from fusepy import FUSE, FuseOSError, Operations, fuse_get_context

COUNTS = {}
COUNTS_LOCK = threading.Lock()


class Slow(Operations):
    """Mirrors `root`, sleeping `delay` seconds before each call."""

    def __init__(self, root, delay):
        self.root = root
        self.delay = delay

    def _path(self, path):
        return os.path.join(self.root, path.lstrip("/"))

    def _own(self, path):
        # a new file belongs to whoever made it, as on a real file system
        uid, gid, _ = fuse_get_context()
        os.lchown(self._path(path), uid, gid)

    def _wait(self, op):
        with COUNTS_LOCK:
            COUNTS[op] = COUNTS.get(op, 0) + 1
        if self.delay > 0:
            time.sleep(self.delay)

    def __call__(self, op, *args):
        try:
            return super().__call__(op, *args)
        except OSError as error:
            raise FuseOSError(error.errno or errno.EIO)

    def getattr(self, path, fh=None):
        self._wait("getattr")
        st = os.lstat(self._path(path)) if fh is None else os.fstat(fh)
        return {
            key: getattr(st, key)
            for key in (
                "st_mode", "st_nlink", "st_uid", "st_gid", "st_size",
                "st_atime", "st_mtime", "st_ctime", "st_ino",
            )
        }

    def readdir(self, path, fh):
        self._wait("readdir")
        return [".", ".."] + os.listdir(self._path(path))

    def readlink(self, path):
        self._wait("readlink")
        return os.readlink(self._path(path))

    def access(self, path, mode):
        self._wait("access")
        if not os.access(self._path(path), mode):
            raise FuseOSError(errno.EACCES)

    def open(self, path, flags):
        self._wait("open")
        return os.open(self._path(path), flags)

    def create(self, path, mode, fi=None):
        self._wait("create")
        fd = os.open(self._path(path), os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        self._own(path)
        return fd

    def read(self, path, size, offset, fh):
        self._wait("read")
        return os.pread(fh, size, offset)

    def write(self, path, data, offset, fh):
        self._wait("write")
        return os.pwrite(fh, data, offset)

    def truncate(self, path, length, fh=None):
        self._wait("truncate")
        os.truncate(self._path(path) if fh is None else fh, length)

    def flush(self, path, fh):
        return 0

    def release(self, path, fh):
        os.close(fh)
        return 0

    def fsync(self, path, datasync, fh):
        self._wait("fsync")
        os.fsync(fh)
        return 0

    def unlink(self, path):
        self._wait("unlink")
        os.unlink(self._path(path))

    def rmdir(self, path):
        self._wait("rmdir")
        os.rmdir(self._path(path))

    def mkdir(self, path, mode):
        self._wait("mkdir")
        os.mkdir(self._path(path), mode)
        self._own(path)

    def rename(self, old, new):
        self._wait("rename")
        os.rename(self._path(old), self._path(new))

    def link(self, target, source):
        self._wait("link")
        os.link(self._path(source), self._path(target))

    def symlink(self, target, source):
        self._wait("symlink")
        os.symlink(source, self._path(target))
        self._own(target)

    def chmod(self, path, mode):
        self._wait("chmod")
        os.chmod(self._path(path), mode)

    def chown(self, path, uid, gid):
        self._wait("chown")
        os.chown(self._path(path), uid, gid)

    def utimens(self, path, times=None):
        self._wait("utimens")
        os.utime(self._path(path), times)

    def statfs(self, path):
        st = os.statvfs(self._path(path))
        return {
            key: getattr(st, key)
            for key in (
                "f_bavail", "f_bfree", "f_blocks", "f_bsize", "f_favail",
                "f_ffree", "f_files", "f_flag", "f_frsize", "f_namemax",
            )
        }


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    source, mountpoint, delay_ms = sys.argv[1], sys.argv[2], float(sys.argv[3])
    try:
        FUSE(
            Slow(os.path.realpath(source), delay_ms / 1000),
            mountpoint,
            foreground=True,
            nothreads=False,
            allow_other=True,
        )
    finally:
        print(" ".join(f"{k}={v}" for k, v in sorted(COUNTS.items())), file=sys.stderr)


if __name__ == "__main__":
    main()
