"""Export jobs of the web app (docs/archive.md, "Export jobs"): an export runs in a thread of
its own, outside the single writer and outside the request, and its state lives in files:

    <data_dir>/exports/<tenant_id>/<export_id>/job.json     state, progress, who, what
    <data_dir>/exports/<tenant_id>/<export_id>/export.zip   once done

A job says only what is true: `running` while its thread runs in this process (or, seen from
another process, while it wrote progress within HEARTBEAT_S), `done` with its ZIP, `failed`
with the reason, `interrupted` when the process stopped while it ran. One export runs per
business at a time. A finished ZIP holds decrypted data outside the database, so it is deleted
KEEP_MS after it was finished (and its job with it).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from zunft.accounts.actor import Actor
from zunft.archive.export import ExportRequest, check_export_request, run_export
from zunft.errors import Conflict, Forbidden, NotFound
from zunft.ids import new_id

if TYPE_CHECKING:
    from zunft.context import AppContext

log = logging.getLogger(__name__)
HEARTBEAT_S = 600.0  # another process's job with no progress for this long has stopped
KEEP_MS = 24 * 3600 * 1000  # a finished export is downloadable for a day
ZIP_NAME = "export.zip"
VIEW_KEYS = (
    "id", "state", "scope", "ref_id", "since", "until", "classes", "done", "total",
    "created_at", "finished_at", "actor_id", "size", "messages", "files", "error",
)  # fmt: skip
_ID_CHARS = frozenset("0123456789abcdefghjkmnpqrstvwxyz")


class _Stop(Exception):
    """The server is shutting down: the running export gives up (its job: interrupted)."""


def check_export_actor(actor: Actor) -> None:
    if not actor.is_admin:
        raise Forbidden("Only owner and office export the archive.", code="admin_only")


class ExportJobs:
    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx
        self.root = ctx.settings.data_path / "exports"
        self._lock = threading.Lock()
        self._threads: dict[str, threading.Thread] = {}
        self._stopping = threading.Event()

    # -- files ---------------------------------------------------------------------------

    def _dir(self, tenant_id: str, export_id: str) -> Path:
        return self.root / tenant_id / export_id

    def _write(self, job: dict[str, Any]) -> None:
        folder = self._dir(job["tenant_id"], job["id"])
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        job["heartbeat"] = time.time()
        tmp = folder / "job.json.tmp"
        tmp.write_text(json.dumps(job), encoding="utf-8")
        os.replace(tmp, folder / "job.json")

    def _read(self, tenant_id: str, export_id: str) -> dict[str, Any] | None:
        if not export_id or not set(export_id) <= _ID_CHARS or len(export_id) != 26:
            return None
        try:
            raw = (self._dir(tenant_id, export_id) / "job.json").read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        job: dict[str, Any] = json.loads(raw)
        if job["state"] == "running" and not self._alive(job):
            job["state"] = "interrupted"
            job["error"] = "Der Server wurde während des Exports beendet."
        return job

    def _alive(self, job: dict[str, Any]) -> bool:
        thread = self._threads.get(job["id"])
        if thread is not None:
            return thread.is_alive()
        if job.get("pid") == os.getpid():
            return False  # ours, but no thread runs it any more (an earlier life of the pid)
        return bool(time.time() - float(job.get("heartbeat", 0)) < HEARTBEAT_S)

    def _sweep(self, tenant_id: str) -> None:
        """Delete finished exports older than KEEP_MS."""
        folder = self.root / tenant_id
        if not folder.is_dir():
            return
        now = self.ctx.now_ms()
        for entry in folder.iterdir():
            job = self._read(tenant_id, entry.name)
            if job is None or job["state"] == "running":
                continue
            if now - int(job.get("finished_at") or job["created_at"]) >= KEEP_MS:
                shutil.rmtree(entry, ignore_errors=True)

    @staticmethod
    def view(job: dict[str, Any]) -> dict[str, Any]:
        return {k: job.get(k) for k in VIEW_KEYS}

    # -- the API ---------------------------------------------------------------------------

    def start(self, actor: Actor, req: ExportRequest) -> dict[str, Any]:
        check_export_actor(actor)
        self.ctx.read(lambda rx: check_export_request(rx, req))
        with self._lock:
            if self._stopping.is_set():
                raise Conflict("The server is shutting down.", code="shutting_down")
            self._sweep(actor.tenant_id)
            if any(j["state"] == "running" for j in self._jobs(actor.tenant_id)):
                raise Conflict(
                    "An export of this business is running; wait until it is done.",
                    code="export_running",
                )
            export_id = new_id()
            job = {
                "id": export_id,
                "tenant_id": actor.tenant_id,
                "actor_id": actor.user_id,
                "state": "running",
                "scope": req.scope,
                "ref_id": req.ref_id,
                "since": req.since,
                "until": req.until,
                "classes": sorted(req.classes) if req.classes is not None else None,
                "done": 0,
                "total": 0,
                "created_at": self.ctx.now_ms(),
                "finished_at": None,
                "pid": os.getpid(),
            }
            self._write(job)
            thread = threading.Thread(
                target=self._run, args=(job, req), name=f"export-{export_id}", daemon=True
            )
            self._threads[export_id] = thread
            thread.start()
        return self.view(job)

    def _run(self, job: dict[str, Any], req: ExportRequest) -> None:
        folder = self._dir(job["tenant_id"], job["id"])
        last = [0.0]

        def progress(done: int, total: int) -> None:
            if self._stopping.is_set():
                raise _Stop
            now = time.monotonic()
            if now - last[0] >= 0.5 or done >= total:
                last[0] = now
                job["done"], job["total"] = done, total
                self._write(job)

        try:
            summary = run_export(
                self.ctx, req, folder / ZIP_NAME, export_id=job["id"], progress=progress
            )
        except _Stop:
            job["state"], job["error"] = (
                "interrupted",
                "Der Server wurde während des Exports beendet.",
            )
        except Exception as exc:
            log.exception("export %s failed", job["id"])
            job["state"] = "failed"
            job["error"] = getattr(exc, "message", None) or "Der Export ist fehlgeschlagen."
        else:
            job.update(
                state="done",
                size=(folder / ZIP_NAME).stat().st_size,
                messages=summary.messages,
                files=summary.files,
                done=max(job["done"], job["total"]),
            )
        job["finished_at"] = self.ctx.now_ms()
        self._write(job)

    def _jobs(self, tenant_id: str) -> list[dict[str, Any]]:
        folder = self.root / tenant_id
        if not folder.is_dir():
            return []
        found = [self._read(tenant_id, entry.name) for entry in folder.iterdir()]
        return sorted((j for j in found if j), key=lambda j: -int(j["created_at"]))

    def list(self, actor: Actor) -> list[dict[str, Any]]:
        check_export_actor(actor)
        self._sweep(actor.tenant_id)
        return [self.view(j) for j in self._jobs(actor.tenant_id)]

    def get(self, actor: Actor, export_id: str) -> dict[str, Any]:
        check_export_actor(actor)
        job = self._read(actor.tenant_id, export_id)
        if job is None:
            raise NotFound("No such export.")
        return self.view(job)

    def zip_path(self, actor: Actor, export_id: str) -> Path:
        job = self.get(actor, export_id)
        if job["state"] != "done":
            raise Conflict("The export is not ready.", code="export_not_ready")
        return self._dir(actor.tenant_id, export_id) / ZIP_NAME

    def wait(self, export_id: str, timeout: float = 60.0) -> bool:
        """For tests and shutdown: wait until the job's thread has ended."""
        thread = self._threads.get(export_id)
        if thread is not None:
            thread.join(timeout)
            return not thread.is_alive()
        return True

    def close(self, timeout: float = 30.0) -> None:
        """Stop running exports (they end as interrupted) and wait for their threads."""
        self._stopping.set()
        for thread in list(self._threads.values()):
            thread.join(timeout)
