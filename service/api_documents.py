"""Documents through the API: listed and read; uploads or server-side paths become
ingestion jobs; documents deleted.

Every file is checked before anything is written: a name outside the allowed root (also
through a symlink), a file over the size limit or of an unsupported type is refused with
a 4xx naming the reason, and the request then writes nothing.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tempfile
import uuid
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import AfterValidator, BaseModel, Field, WithJsonSchema
from starlette.datastructures import FormData, Headers, UploadFile
from starlette.formparsers import MultiPartParser

from ingest.diskspace import NO_SPACE, RESERVE_BYTES, DiskFullError, ensure_space
from ingest.loaders import SUPPORTED_SUFFIXES, LoadError, iter_files
from service.api_deps import services_of
from service.container import Services
from service.errors import documented, invalid
from service.jobs import Job, JobRunner
from service.metrics import Metrics
from service.types import DocumentDetail, DocumentSummary

router = APIRouter()
READ_BLOCK = 1 << 20
PATH_SCHEMA = {"type": "string", "pattern": "^[^\\x00]*$"}


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("a path must not contain NUL characters")
    return value


PathText = Annotated[str, AfterValidator(_no_nul), WithJsonSchema(PATH_SCHEMA)]
"""A path as a client sends it (no NUL: no file system takes one)."""


def start_jobs(services: Services, metrics: Metrics) -> JobRunner:
    """The ingestion job runner (jobs kept in the data folder resume after a restart).
    An uploaded file takes catalogue metadata only when the request says it is the
    catalogue's document of its name (``catalogue=true``), or when it is a stored
    catalogued document: a name alone does not make a file the official document."""
    uploads = uploads_dir(services).resolve()

    def counted(job: Job) -> None:
        for result in job.files:
            metrics.documents.labels(result.status).inc()
        metrics.chunks.inc(job.chunks_written)

    return JobRunner(
        lambda path, catalogued, origin: services.library.ingest(
            [path],
            progress=False,
            catalogued=catalogued or not path.is_relative_to(uploads),
            origin=origin,
        ),
        on_done=counted,
        database=services.settings.data_dir / "jobs.sqlite3",
        grace_s=services.settings.shutdown_grace_s,
    )


def _links(**links: tuple[str, str, str]) -> dict[str, Any]:
    """OpenAPI links: name -> (operationId, parameter, runtime expression)."""
    return {
        "links": {
            name: {"operationId": operation, "parameters": {parameter: expression}}
            for name, (operation, parameter, expression) in links.items()
        }
    }


GET_DOCUMENT = "get_document_v1_documents__doc_id__get"
DELETE_DOCUMENT = "delete_document_v1_documents__doc_id__delete"
GET_JOB = "get_job_v1_jobs__job_id__get"


@router.get(
    "/v1/documents",
    response_model=list[DocumentSummary],
    responses={
        200: _links(
            GetDocument=(GET_DOCUMENT, "doc_id", "$response.body#/0/doc_id"),
            DeleteDocument=(DELETE_DOCUMENT, "doc_id", "$response.body#/0/doc_id"),
        ),
        **documented(401),
    },
)
async def list_documents(request: Request) -> list[DocumentSummary]:
    """Every ingested document (id, title, source, language, kind, chunk count)."""
    return await run_in_threadpool(services_of(request).library.list_documents)


@router.get("/v1/documents/{doc_id}", response_model=DocumentDetail, responses=documented(401, 404))
async def get_document(doc_id: str, request: Request) -> DocumentDetail:
    """A document's metadata and the exact stored text citations point into."""
    doc = await run_in_threadpool(services_of(request).library.get_document, doc_id)
    if doc is None:
        raise HTTPException(status_code=404, detail=f"no document with id {doc_id!r}")
    return doc


def uploads_dir(services: Services) -> Path:
    """Where uploaded files live (kept: they are the documents' sources), each in a
    folder named by its content."""
    return services.settings.data_dir / "uploads"


@router.post(
    "/v1/documents",
    status_code=202,
    response_model=Job,
    responses={
        202: _links(GetJob=(GET_JOB, "job_id", "$response.body#/id")),  # the job, not a document
        **documented(400, 401, 403, 404, 413, 415, 507),
        422: {"description": "Bad request."},
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "required": ["files"],
                        "properties": {
                            "files": {
                                "type": "array",
                                "items": {"type": "string", "format": "binary"},
                                "minItems": 1,
                            },
                            "catalogue": {
                                "type": "string",
                                "enum": ["true", "false"],
                                "description": "`true`: files named in the catalogue are "
                                "its documents and take its title, publisher and kind.",
                            },
                        },
                    }
                },
                "application/json": {
                    "schema": {
                        "type": "object",
                        "required": ["paths"],
                        "properties": {
                            "paths": {"type": "array", "items": PATH_SCHEMA, "minItems": 1}
                        },
                    }
                },
            },
        }
    },
)
async def add_documents(request: Request) -> Job:
    """Start an ingestion job (admin key). Poll `GET /v1/jobs/{id}` for progress.

    Either `multipart/form-data` with one or more `files` fields (and `catalogue=true`
    when they are the catalogue's documents of their names, as `policyqa ingest --api`
    sends them), or JSON
    `{"paths": ["relative/or/absolute", ...]}` naming files or folders under the server's
    `POLICYQA_INGEST_ROOT`. Refused, with nothing written: paths outside the root (413 for
    files over `POLICYQA_MAX_UPLOAD_BYTES`, 415 for unsupported types, 403 outside the root,
    507 when the data folder's disk has no room for the files: the message names the folder
    and the space needed; send them again once there is room).
    """
    services = services_of(request)
    content_type = request.headers.get("content-type", "")
    received = _Received([])
    if content_type.startswith("multipart/form-data"):
        received = await _receive_uploads(request, services)
    elif content_type.startswith("application/json"):
        received = _Received(_resolve_paths(await _json_paths(request), services))
    else:
        raise HTTPException(415, 'send multipart/form-data files or JSON {"paths": [...]}')
    jobs = request.app.state.jobs
    try:
        return jobs.submit(received.paths, received.catalogued, received.origins)  # type: ignore[no-any-return]
    except DiskFullError as exc:  # the job could not be kept: not accepted
        raise HTTPException(507, str(exc)) from None


class PruneRequest(BaseModel):
    """What a client still has: the folders it sent from, and the files under them."""

    paths: list[PathText] = Field(min_length=1, description="Absolute paths the client sent from.")
    present: list[PathText] = Field(description="Absolute paths of the files it still has there.")


class PruneResponse(BaseModel):
    """What a prune removed."""

    pruned: int
    points_total: int


@router.post("/v1/documents/prune", response_model=PruneResponse, responses=documented(401, 403))
async def prune_documents(body: PruneRequest, request: Request) -> PruneResponse:
    """Remove documents a client sent from `paths` (`policyqa ingest --api --prune`) whose
    files are no longer among `present` there (admin key). A document also read from
    elsewhere keeps its other places; the server's copies of the client's files do not
    keep it. Runs between ingestion jobs."""
    services = services_of(request)
    uploads = uploads_dir(services).resolve()

    def prune() -> int:
        return services.library.prune([Path(p) for p in body.paths], body.present, uploads)

    pruned = await run_in_threadpool(request.app.state.jobs.run_exclusive, prune)
    return PruneResponse(pruned=pruned, points_total=services.library.count_chunks())


@router.get(
    "/v1/jobs/{job_id}",
    response_model=Job,
    responses={  # a finished job names the documents it wrote
        200: _links(GetDocument=(GET_DOCUMENT, "doc_id", "$response.body#/files/0/doc_id")),
        **documented(401, 404),
    },
)
async def get_job(job_id: str, request: Request) -> Job:
    """An ingestion job's status and per-file results."""
    job = request.app.state.jobs.get(job_id)
    if job is None:
        raise HTTPException(404, f"no job with id {job_id!r}")
    return job  # type: ignore[no-any-return]


@router.delete("/v1/documents/{doc_id}", status_code=204, responses=documented(401, 403, 404))
async def delete_document(doc_id: str, request: Request) -> Response:
    """Remove a document and all its chunks (admin key); its uploaded files go too."""
    services = services_of(request)
    sources = await run_in_threadpool(services.library.source_paths, doc_id)
    if sources is None:
        raise HTTPException(404, f"no document with id {doc_id!r}")
    await run_in_threadpool(services.library.delete_document, doc_id)
    uploads = uploads_dir(services).resolve()
    for source in sources:
        if source.parent.parent == uploads and source.exists():
            source.unlink()
            with contextlib.suppress(OSError):  # other files may share the folder's name
                source.parent.rmdir()
    return Response(status_code=204)


async def _json_paths(request: Request) -> list[str]:
    try:
        body: Any = await request.json()
    except ValueError:
        raise invalid(["body"], "body is not valid JSON") from None
    paths = body.get("paths") if isinstance(body, dict) else None
    if not isinstance(paths, list) or not paths or not all(isinstance(p, str) for p in paths):
        raise invalid(["body", "paths"], "a non-empty list of strings is required")
    if any("\x00" in p for p in paths):
        raise invalid(["body", "paths"], "a path must not contain NUL characters")
    return paths


def _resolve_paths(paths: list[str], services: Services) -> list[Path]:
    root_setting = services.settings.ingest_root
    if root_setting is None:
        raise HTTPException(403, "ingesting server-side paths is off (set POLICYQA_INGEST_ROOT)")
    root = root_setting.resolve()
    files: list[Path] = []
    for raw in paths:
        target = (root / raw).resolve()  # follows symlinks: a link out of the root is refused
        if not target.is_relative_to(root):
            raise HTTPException(403, f"{raw}: outside the allowed root")
        if not target.exists():
            raise HTTPException(404, f"{raw}: no such file or folder under the allowed root")
        try:
            found = list(iter_files([target]))
        except LoadError as exc:
            raise invalid(["body", "paths"], str(exc)) from None
        for path in found:
            _check_file(path.resolve(), root, services.settings.max_upload_bytes, raw)
            files.append(path.resolve())
    if not files:
        raise invalid(["body", "paths"], "no supported files under the given paths")
    return files


def _check_file(path: Path, root: Path, limit: int, label: str) -> None:
    if not path.is_relative_to(root):
        raise HTTPException(403, f"{label}: {path.name} links outside the allowed root")
    if path.suffix.lower() not in SUPPORTED_SUFFIXES:
        raise HTTPException(415, f"{label}: unsupported file type {path.suffix or '(none)'}")
    if path.stat().st_size > limit:
        raise HTTPException(413, f"{label}: {path.name} is over the {limit}-byte limit")


@dataclass
class _Received:
    paths: list[Path]
    catalogued: bool = False
    origins: list[str] | None = None


async def _receive_uploads(request: Request, services: Services) -> _Received:
    """Stage every file, then move each to ``uploads/<sha256 prefix>/<name>``: the same
    bytes land in the same place (an unchanged re-upload writes nothing new), a new file
    of an old name gets a place of its own. Nothing is kept when one file is refused; a
    file over the size limit is refused as it streams, before the rest is read.
    Returns the files, whether the form says they are the catalogue's documents, and
    where the client read each (``origin`` fields, one per file, in order)."""
    settings = services.settings
    parser = _SizedParser(
        request.headers,
        request.stream(),
        max_files=settings.max_upload_files,
        max_file_bytes=settings.max_upload_bytes,
    )
    try:
        form = await parser.parse()
    except HTTPException:
        raise
    except OSError as exc:  # spooling the files where temporary files go
        if exc.errno not in NO_SPACE:
            raise
        spool = tempfile.gettempdir()
        declared = request.headers.get("content-length", "")
        raise HTTPException(507, _no_room(f"the upload ({declared or '?'} bytes)", spool)) from None
    except Exception as exc:  # starlette: too many files, a malformed body
        if "Too many files" in str(exc):  # a count, as the schema's maxItems says: 422
            raise invalid(
                ["body", "files"],
                f"at most {settings.max_upload_files} files in one request "
                "(POLICYQA_MAX_UPLOAD_FILES): send the rest in another",
            ) from None
        raise HTTPException(400, f"a malformed multipart body: {exc}") from None
    try:
        return await _keep_uploads(form, services)
    finally:
        await form.close()


class _SizedParser(MultiPartParser):
    """Starlette's multipart parser, refusing a file part as soon as it goes over
    ``max_file_bytes`` (a 413 naming it), before the rest of the form is read or spooled."""

    def __init__(
        self,
        headers: Headers,
        stream: AsyncGenerator[bytes, None],
        *,
        max_files: int,
        max_file_bytes: int,
    ) -> None:
        super().__init__(headers, stream, max_files=max_files)
        self.max_file_bytes = max_file_bytes
        self._file_bytes = 0

    def on_part_begin(self) -> None:
        super().on_part_begin()
        self._file_bytes = 0

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        upload = self._current_part.file
        if upload is not None:
            self._file_bytes += end - start
            if self._file_bytes > self.max_file_bytes:
                name = Path(upload.filename or "").name
                raise HTTPException(
                    413, f"{name}: over the {self.max_file_bytes}-byte upload limit"
                )
        super().on_part_data(data, start, end)


async def _keep_uploads(form: FormData, services: Services) -> _Received:
    settings = services.settings
    catalogued = str(form.get("catalogue", "")).lower() == "true"
    uploads = [f for f in form.getlist("files") if isinstance(f, UploadFile)]
    origins = [str(o) for o in form.getlist("origin")] or None
    if origins is not None and len(origins) != len(uploads):
        raise invalid(["body", "origin"], "one `origin` per file, in the order of the files")
    if not uploads:
        raise invalid(["body", "files"], "no `files` in the form")
    names = [Path(u.filename or "").name for u in uploads]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise invalid(["body", "files"], f"file names sent twice in one request: {twice}")
    for upload in uploads:
        _check_name(upload)
    target = uploads_dir(services)
    size = sum(upload.size or 0 for upload in uploads)
    what = f"the upload ({len(uploads)} file{'s' * (len(uploads) > 1)}, {size:,} bytes)"
    staging = target / f".staging-{uuid.uuid4().hex}"
    try:
        target.mkdir(parents=True, exist_ok=True)
        # the files, and room for the store to take them in (ingest.diskspace's reserve)
        ensure_space(target, size, what)
        staging.mkdir()
        staged = [await _stage(upload, staging, settings.max_upload_bytes) for upload in uploads]
        final = []
        for path, digest in staged:
            destination = target / digest[:16] / path.name
            destination.parent.mkdir(exist_ok=True)
            os.replace(path, destination)  # the same bytes land in the same place
            final.append(destination.resolve())
        return _Received(final, catalogued, origins)
    except DiskFullError as exc:
        raise HTTPException(507, str(exc)) from None
    except OSError as exc:  # the check is an estimate, and others write too
        if exc.errno not in NO_SPACE:
            raise
        raise HTTPException(507, _no_room(what, target, size)) from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _no_room(what: str, folder: Path | str, size: int | None = None) -> str:
    needed = f"about {(size + RESERVE_BYTES) / 1_000_000:,.1f} MB " if size is not None else ""
    return (
        f"{what} needs {needed}free in {folder}, and the disk filled up while it was "
        "written: free some space and send it again (nothing of it was kept; a file "
        "sent before is not stored twice)"
    )


def _check_name(upload: UploadFile) -> None:
    name = Path(upload.filename or "").name
    if not name or name.startswith(".") or "\x00" in name:
        raise invalid(["body", "files"], f"bad file name {upload.filename!r}")
    if Path(name).suffix.lower() not in SUPPORTED_SUFFIXES:
        raise HTTPException(415, f"{name}: unsupported file type {Path(name).suffix or '(none)'}")


async def _stage(upload: UploadFile, staging: Path, limit: int) -> tuple[Path, str]:
    name = Path(upload.filename or "").name
    path = staging / name
    size = 0
    digest = hashlib.sha256()
    with path.open("wb") as out:
        while block := await upload.read(READ_BLOCK):
            size += len(block)
            if size > limit:
                raise HTTPException(413, f"{name}: over the {limit}-byte upload limit")
            digest.update(block)
            out.write(block)
    return path, digest.hexdigest()
