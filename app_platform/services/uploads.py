"""Attachments: files uploaded before the record that lists them is saved.

Bytes are stored once per content under ``instance/uploads/<sha256[:2]>/<sha256>`` (two
uploads of the same file share it); the ``uploads`` table keeps the name, size, type and
uploader. The content type is sniffed from the bytes and must agree with the extension,
so a renamed executable or a script posing as a picture is refused before it is stored.

Who may download: the uploader, an admin, or anyone who may read a record whose
attachment field lists the file (checked on the records, so revoking read access to the
record revokes the file too)."""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import tempfile
from pathlib import Path
from typing import Any, BinaryIO

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import Session

from app_platform.auth.identity import Caller
from app_platform.auth.permissions import app_level, entity_rights, field_access
from app_platform.errors import BadRequest, NotFound, TooLarge, UnsupportedMediaType
from app_platform.models import App, Entity, Upload
from app_platform.services.entities import entity_table
from engines.form import live_fields
from engines.form.errors import Problem

DEFAULT_MAX_BYTES = 10 * 1024 * 1024
CHUNK = 1 << 16
# extension -> (content type, test on the first bytes)
KINDS: dict[str, tuple[str, Any]] = {
    "pdf": ("application/pdf", lambda h: h.startswith(b"%PDF-")),
    "ofd": ("application/ofd", lambda h: h.startswith(b"PK\x03\x04")),
    "png": ("image/png", lambda h: h.startswith(b"\x89PNG\r\n\x1a\n")),
    "jpg": ("image/jpeg", lambda h: h.startswith(b"\xff\xd8\xff")),
    "jpeg": ("image/jpeg", lambda h: h.startswith(b"\xff\xd8\xff")),
    "gif": ("image/gif", lambda h: h.startswith((b"GIF87a", b"GIF89a"))),
    "webp": ("image/webp", lambda h: h[:4] == b"RIFF" and h[8:12] == b"WEBP"),
    "xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
             lambda h: h.startswith(b"PK\x03\x04")),
    "docx": ("application/vnd.openxmlformats-officedocument.wordprocessingml.document",
             lambda h: h.startswith(b"PK\x03\x04")),
    "pptx": ("application/vnd.openxmlformats-officedocument.presentationml.presentation",
             lambda h: h.startswith(b"PK\x03\x04")),
    "xls": ("application/vnd.ms-excel", lambda h: h.startswith(b"\xd0\xcf\x11\xe0")),
    "doc": ("application/msword", lambda h: h.startswith(b"\xd0\xcf\x11\xe0")),
    "zip": ("application/zip", lambda h: h.startswith(b"PK\x03\x04")),
    "txt": ("text/plain; charset=utf-8", lambda h: b"\x00" not in h),
    "csv": ("text/csv; charset=utf-8", lambda h: b"\x00" not in h),
}
EXECUTABLE_MAGIC = (b"MZ", b"\x7fELF", b"\xfe\xed\xfa\xce", b"\xfe\xed\xfa\xcf",
                    b"\xce\xfa\xed\xfe", b"\xcf\xfa\xed\xfe", b"\xca\xfe\xba\xbe", b"#!",
                    b"\x00asm")
ID_RE = re.compile(r"^[A-Za-z0-9_-]{8,64}$")


def upload_json(upload: Upload) -> dict[str, Any]:
    return {"id": upload.id, "name": upload.name, "size": upload.size,
            "sha256": upload.sha256, "content_type": upload.content_type}


def _root() -> Path:
    return Path(current_app.instance_path) / "uploads"


def blob_path(sha256: str) -> Path:
    return _root() / sha256[:2] / sha256


def _clean_name(raw: str | None) -> str:
    name = os.path.basename((raw or "").replace("\\", "/")).strip()
    name = "".join(ch for ch in name if ch.isprintable())[:255]
    if not name or name in (".", ".."):
        raise BadRequest("the file needs a name with an extension", code="bad_upload")
    return name


def _allowed_kind(name: str) -> tuple[str, str, Any]:
    extension = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    allowed = current_app.config.get("UPLOAD_EXTENSIONS") or sorted(KINDS)
    if extension not in KINDS or extension not in allowed:
        raise UnsupportedMediaType(
            f"files of type .{extension or '?'} cannot be attached; allowed: "
            f"{', '.join('.' + e for e in allowed)}", code="file_type_not_allowed")
    content_type, test = KINDS[extension]
    return extension, content_type, test


def store_upload(session: Session, caller: Caller, stream: BinaryIO,
                 filename: str | None) -> dict[str, Any]:
    """Stream the upload to disk while hashing it, refuse it (nothing kept) when too
    large or not what its extension says, then record it. Returns the API object."""
    name = _clean_name(filename)
    extension, content_type, matches = _allowed_kind(name)
    limit = int(current_app.config.get("UPLOAD_MAX_BYTES") or DEFAULT_MAX_BYTES)
    staging = _root() / "tmp"
    staging.mkdir(parents=True, exist_ok=True)
    digest, size, head = hashlib.sha256(), 0, b""
    handle = tempfile.NamedTemporaryFile(dir=staging, delete=False)
    try:
        with handle:
            while chunk := stream.read(CHUNK):
                size += len(chunk)
                if size > limit:
                    raise TooLarge(f"the file is larger than the {limit} byte limit",
                                   code="file_too_large")
                if len(head) < 512:
                    head += chunk[:512 - len(head)]
                digest.update(chunk)
                handle.write(chunk)
        if size == 0:
            raise BadRequest("the file is empty", code="bad_upload")
        if head.startswith(EXECUTABLE_MAGIC):
            raise UnsupportedMediaType("executable files and scripts cannot be attached",
                                       code="file_type_not_allowed")
        if not matches(head):
            raise UnsupportedMediaType(f"the content of {name!r} is not a .{extension} file",
                                       code="file_type_mismatch")
        sha = digest.hexdigest()
        target = blob_path(sha)
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.exists():
            os.unlink(handle.name)
        else:
            os.replace(handle.name, target)
    except BaseException:
        if os.path.exists(handle.name):
            os.unlink(handle.name)
        raise
    upload = Upload(id=secrets.token_urlsafe(16), name=name, size=size, sha256=sha,
                    content_type=content_type, created_by=caller.username)
    session.add(upload)
    session.commit()
    return upload_json(upload)


def open_upload(session: Session, caller: Caller, upload_id: str) -> tuple[Upload, Path]:
    """The upload and its file, if the caller may see it (404 otherwise: whether an id
    exists is none of an unauthorized caller's business)."""
    upload = session.get(Upload, upload_id) if ID_RE.match(upload_id) else None
    if upload is None or not _may_read(session, caller, upload):
        raise NotFound(f"no upload {upload_id!r}")
    path = blob_path(upload.sha256)
    if not path.exists():
        raise NotFound(f"the file of upload {upload_id!r} is missing from the store")
    return upload, path


def _may_read(session: Session, caller: Caller, upload: Upload) -> bool:
    if caller.is_admin or upload.created_by == caller.username:
        return True
    needle = f'%"{upload.id}"%'
    conn = session.connection()
    for app in session.query(App):
        if not app_level(caller.roles, caller.is_admin, app):
            continue
        for entity in session.query(Entity).filter_by(app_id=app.id):
            if _entity_lists(conn, caller, app, entity, upload.id, needle):
                return True
    return False


def _entity_lists(conn: sa.Connection, caller: Caller, app: App, entity: Entity,
                  upload_id: str, needle: str) -> bool:
    """Does a record of ``entity`` the caller may read list the upload in a field the
    caller may see? A LIKE narrows the rows, the JSON is then checked exactly."""
    fields = [f for f in live_fields(entity.definition) if f["type"] == "attachment"]
    if not fields:
        return False
    rights = entity_rights(caller.roles, caller.is_admin, app, entity.definition)
    hidden, _ = field_access(caller.roles, caller.is_admin, entity.definition)
    if not rights.read:
        return False
    table = entity_table(entity)
    for fdef in fields:
        if fdef["key"] in hidden:
            continue
        column = table.c[fdef["key"]]
        stmt = sa.select(column).where(sa.cast(column, sa.Text).like(needle)).limit(50)
        if rights.read == "own":
            stmt = stmt.where(table.c.created_by == caller.username)
        for (items,) in conn.execute(stmt):
            if any(isinstance(i, dict) and i.get("id") == upload_id for i in items or []):
                return True
    return False


def check_attachments(session: Session, caller: Caller, fields: list[dict[str, Any]],
                      rows: list[dict[str, Any]], keep: frozenset[str] = frozenset(),
                      prefix: bool = True) -> list[Problem]:
    """The hook for RecordService: every attachment id in ``rows`` must be an upload
    the caller made (or one already on the record being updated: ``keep``). Items are
    rewritten in place to the stored name, size, sha256 and content type, so a client
    cannot make a record claim a different name or hash. Returns the problems."""
    keys = [f["key"] for f in fields if f["type"] == "attachment"]
    wanted = {item["id"] for row in rows for key in keys for item in (row.get(key) or [])
              if isinstance(item, dict) and isinstance(item.get("id"), str)}
    if not wanted:
        return []
    found: dict[str, Upload] = {}
    ids = sorted(wanted)
    for start in range(0, len(ids), 500):
        for upload in session.query(Upload).filter(Upload.id.in_(ids[start:start + 500])):
            found[upload.id] = upload
    problems = []
    for index, row in enumerate(rows):
        for key in keys:
            items = row.get(key) or []
            path = f"[{index}].{key}" if prefix else key
            for position, item in enumerate(items):
                upload = found.get(item.get("id"))
                allowed = upload is not None and (
                    caller.is_admin or upload.created_by == caller.username
                    or upload.id in keep)
                if not allowed:
                    problems.append(Problem(f"{path}[{position}]",
                                            f"no upload {item.get('id')!r} of yours"))
                    continue
                items[position] = upload_json(upload)
    return problems
