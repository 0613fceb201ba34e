#!/usr/bin/env python3
"""Back up the rdapfleet crawl database while the coordinator keeps writing.

Uses the SQLite online backup API in ONE step (sqlite3 backup with pages=-1):
the whole copy runs inside a single read transaction, so the result is a
consistent snapshot of one moment. In WAL mode that read transaction does not
block the coordinator's writes, and because the copy is not split into steps a
busy writer cannot force it to restart (a step-wise backup, like the sqlite3
shell's `.backup`, restarts whenever another connection writes between steps
and may never finish on a busy database).

The copy is written under a temporary name, checked with PRAGMA quick_check,
flushed to disk, then renamed to crawl-<UTC timestamp>.sqlite; the newest
--keep backups are kept and `latest.sqlite` points at the newest.

Exit status: 0 done, 1 usage or input error, 2 backup failed.
"""

import argparse
import datetime as dt
import os
import sqlite3
import sys
import time

PROG = "sqlite-backup"


def fail(code, message):
    print(f"{PROG}: error: {message}", file=sys.stderr)
    sys.exit(code)


def backup(db, dest_dir, keep, prefix):
    if not os.path.isfile(db):
        fail(1, f"no database at {db}")
    if not os.path.isdir(dest_dir):
        fail(1, f"no backup directory at {dest_dir}")
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
    final = os.path.join(dest_dir, f"{prefix}-{stamp}.sqlite")
    partial = final + ".partial"
    started = time.monotonic()
    try:
        # A read-write open: readers of a WAL database need the -shm index.
        src = sqlite3.connect(f"file:{db}?mode=rw", uri=True, timeout=60)
        try:
            src.execute("PRAGMA busy_timeout = 60000")
            dst = sqlite3.connect(partial)
            try:
                src.backup(dst, pages=-1)
                # Store the copy as a self-contained rollback-journal file.
                dst.execute("PRAGMA journal_mode = DELETE")
                check = dst.execute("PRAGMA quick_check").fetchone()[0]
                if check != "ok":
                    raise sqlite3.DatabaseError(f"quick_check on the copy: {check}")
            finally:
                dst.close()
        finally:
            src.close()
        with open(partial, "rb") as handle:
            os.fsync(handle.fileno())
        os.rename(partial, final)
        dir_fd = os.open(dest_dir, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except (sqlite3.Error, OSError) as err:
        try:
            os.unlink(partial)
        except FileNotFoundError:
            pass
        fail(2, f"backup of {db} failed: {err}")

    latest = os.path.join(dest_dir, "latest.sqlite")
    tmp_link = latest + ".tmp"
    if os.path.lexists(tmp_link):
        os.unlink(tmp_link)
    os.symlink(os.path.basename(final), tmp_link)
    os.replace(tmp_link, latest)

    backups = sorted(
        name
        for name in os.listdir(dest_dir)
        if name.startswith(prefix + "-") and name.endswith(".sqlite")
    )
    removed = 0
    for name in backups[: max(0, len(backups) - keep)]:
        os.unlink(os.path.join(dest_dir, name))
        removed += 1
    elapsed = time.monotonic() - started
    size = os.path.getsize(final)
    print(
        f"{PROG}: backed up {db} to {final} ({size} bytes, quick_check ok) "
        f"in {elapsed:.1f}s; removed {removed} old backup(s)"
    )


def main():
    parser = argparse.ArgumentParser(
        prog=PROG, description="Consistent online backup of a SQLite database in WAL mode."
    )
    parser.add_argument("--db", required=True, help="the database to back up")
    parser.add_argument("--dest-dir", required=True, help="directory for the backups")
    parser.add_argument(
        "--keep", type=int, default=24, help="how many backups to keep (default 24)"
    )
    parser.add_argument(
        "--prefix", default="crawl", help="file name prefix of the backups (default crawl)"
    )
    args = parser.parse_args()
    if args.keep < 1:
        fail(1, "--keep must be at least 1")
    backup(args.db, args.dest_dir, args.keep, args.prefix)


if __name__ == "__main__":
    main()
