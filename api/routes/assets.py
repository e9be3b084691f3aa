"""Asset records (``GET /v1/assets/{id}``) and asset files (``GET /v1/files/{path}``) with ETag,
``If-None-Match`` (304) and single byte ranges (206; 416 for unsatisfiable or malformed ranges),
so browsers and players can seek in videos.

File URLs are capabilities: a 64-hex content digest in the path (local storage), plus an expiring
HMAC signature when the files live in an object store."""

from __future__ import annotations

import hashlib
import mimetypes
import re
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response, StreamingResponse

from genperso.cache import CacheEntry
from genperso.catalog import session_scope
from genperso.catalog.assets import AssetRepo


from ..deps import AnyRole, PipelineDep
from ..errors import ERROR_RESPONSES, error_json
from ..schemas import AssetDetail, asset_public

__all__ = ["router", "parse_range"]

router = APIRouter(tags=["assets"])
_RANGE = re.compile(r"^\s*(\d*)\s*-\s*(\d*)\s*$")


@router.get("/v1/assets/{asset_id}", response_model=AssetDetail, responses=ERROR_RESPONSES)
def get_asset(asset_id: str, principal: AnyRole, pipeline: PipelineDep) -> AssetDetail:
    """The full record of an asset (key, lineage, safety verdict, files with URLs); the id may be
    the 64-hex digest or an unambiguous prefix of at least 12 characters."""
    with session_scope(pipeline.settings) as s:
        row = AssetRepo(s).get(asset_id)
        entry = CacheEntry.from_row(row)
    out = asset_public(entry, pipeline.storage, detail=True)
    assert isinstance(out, AssetDetail)
    return out


def parse_range(header: str, size: int) -> tuple[int, int] | None | str:
    """(start, end) inclusive; None to serve the whole file; "bad" when unsatisfiable/malformed."""
    unit, _, spec = header.partition("=")
    if unit.strip().lower() != "bytes":
        return None
    if "," in spec:  # several ranges: answer with the whole file (allowed by RFC 9110)
        return None
    m = _RANGE.match(spec)
    if not m or (not m.group(1) and not m.group(2)):
        return "bad"
    a, b = m.group(1), m.group(2)
    if not a:  # suffix range: the last b bytes
        n = int(b)
        if n == 0 or size == 0:
            return "bad"
        return max(0, size - n), size - 1
    start = int(a)
    end = int(b) if b else size - 1
    if start >= size or end < start:
        return "bad"
    return start, min(end, size - 1)


@router.head("/v1/files/{path:path}", include_in_schema=False)
@router.get("/v1/files/{path:path}", responses={**ERROR_RESPONSES, 206: {"description": "partial content"},
                                                304: {"description": "not modified"},
                                                416: {**ERROR_RESPONSES[404], "description": "range not satisfiable"}})
def get_file(path: str, request: Request, pipeline: PipelineDep,
             exp: Annotated[int | None, Query()] = None, sig: Annotated[str | None, Query()] = None) -> Response:
    storage = pipeline.storage
    if not storage.verify(path, exp, sig):
        return error_json(403, "forbidden", "this file URL is unsigned, wrongly signed or expired")
    size = storage.size(path)  # NotFound -> 404
    local = storage.local_path(path)
    stamp = f"{size}-{local.stat().st_mtime_ns}" if local is not None else f"{size}-{path}"
    etag = '"' + hashlib.sha256(f"{path}|{stamp}".encode()).hexdigest()[:32] + '"'
    mime = mimetypes.guess_type(path)[0] or "application/octet-stream"
    headers = {"ETag": etag, "Accept-Ranges": "bytes", "Cache-Control": "private, max-age=3600"}
    inm = request.headers.get("if-none-match")
    if inm and (inm.strip() == "*" or etag in [t.strip() for t in inm.split(",")]):
        return Response(status_code=304, headers=headers)
    rng_header = request.headers.get("range")
    if_range = request.headers.get("if-range")
    rng = parse_range(rng_header, size) if rng_header and (not if_range or if_range.strip() == etag) else None
    if rng == "bad":
        return error_json(416, "range_not_satisfiable", f"range {rng_header!r} does not fit a file of {size} bytes",
                          headers={"Content-Range": f"bytes */{size}", **headers})
    if rng is None:
        start, end, status = 0, size - 1, 200
    else:
        assert isinstance(rng, tuple)
        start, end, status = rng[0], rng[1], 206
        headers["Content-Range"] = f"bytes {start}-{end}/{size}"
    headers["Content-Length"] = str(max(0, end - start + 1))
    if request.method == "HEAD" or size == 0:
        return Response(status_code=status, headers=headers, media_type=mime)
    return StreamingResponse(storage.iter_range(path, start, end), status_code=status, headers=headers,
                             media_type=mime)



