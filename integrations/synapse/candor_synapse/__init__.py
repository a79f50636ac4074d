"""Candor media check for Synapse.

A Synapse module (``modules:`` in homeserver.yaml) that registers the spam-checker callback
``check_media_file_for_spam``: every checked media file is sent to Candor's ``POST /v1/scan``
and the upload is refused unless Candor's answer is ``deliver`` for everyone. See README.md for
what is sent, what is not, and how the uploader is told.
"""

from __future__ import annotations

import fnmatch
import http.client
import json
import logging
import re
import urllib.parse
import uuid
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple, Union

from synapse.module_api import NOT_SPAM, ModuleApi
from synapse.module_api.errors import Codes, ConfigError

__all__ = ["CandorMediaChecker", "CandorConfig"]
__version__ = "0.1.0"

logger = logging.getLogger(__name__)

SURFACES = ("direct", "group", "public")
JURISDICTION = re.compile(r"^[A-Z]{2}$")
NOTICE_ROOMS_TYPE = "org.candor.notice_rooms"


@dataclass
class CandorConfig:
    url: str
    token: str
    surface: str = "group"
    default_jurisdiction: str = ""
    # (glob on the user id, jurisdiction), first match wins.
    users: List[Tuple[str, str]] = field(default_factory=list)
    # (glob on the server name: the uploader's, or the origin of remote media), first match wins.
    servers: List[Tuple[str, str]] = field(default_factory=list)
    # Audience jurisdictions; empty = the uploader's.
    audience: List[str] = field(default_factory=list)
    fail_open: bool = False
    timeout: float = 10.0
    max_bytes: int = 100 * 1024 * 1024
    check_local: bool = True
    check_remote: bool = True
    check_thumbnails: bool = False
    check_url_previews: bool = False
    notices: bool = True
    notices_localpart: str = "candor-notices"
    notices_displayname: str = "Content checks"


def _jurisdiction(value: Any, where: str) -> str:
    if not isinstance(value, str) or not JURISDICTION.match(value.strip().upper()):
        raise ConfigError(f"{where}: a jurisdiction is an ISO 3166-1 alpha-2 code, not {value!r}")
    return value.strip().upper()


def _patterns(value: Any, where: str) -> List[Tuple[str, str]]:
    """A list of {pattern: jurisdiction} maps (or one map; YAML keeps its order)."""
    if value is None:
        return []
    items = value if isinstance(value, list) else [value]
    out = []
    for item in items:
        if not isinstance(item, dict):
            raise ConfigError(f"{where}: expected pattern: jurisdiction pairs, got {item!r}")
        for pattern, j in item.items():
            out.append((str(pattern), _jurisdiction(j, f"{where}[{pattern!r}]")))
    return out


def parse_config(config: Dict[str, Any]) -> CandorConfig:
    if not isinstance(config, dict):
        raise ConfigError("candor_synapse: config must be a mapping")
    known = {
        "url", "token", "token_path", "surface", "jurisdiction", "audience", "fail_mode",
        "timeout", "max_bytes", "check", "notices",
    }
    unknown = set(config) - known
    if unknown:
        raise ConfigError(f"candor_synapse: unknown option(s) {sorted(unknown)}")
    url = config.get("url")
    if not isinstance(url, str) or urllib.parse.urlsplit(url).scheme not in ("http", "https"):
        raise ConfigError("candor_synapse: `url` (http:// or https:// base URL of Candor) is required")
    token = config.get("token")
    if token is None and config.get("token_path"):
        try:
            with open(config["token_path"], encoding="utf-8") as f:
                token = f.read().strip()
        except OSError as e:
            raise ConfigError(f"candor_synapse: token_path: {e}") from e
    if not isinstance(token, str) or not token:
        raise ConfigError("candor_synapse: `token` or `token_path` (a platform token) is required")
    c = CandorConfig(url=url.rstrip("/"), token=token)
    c.surface = config.get("surface", "group")
    if c.surface not in SURFACES:
        raise ConfigError(f"candor_synapse: surface is one of {SURFACES}, not {c.surface!r}")
    j = config.get("jurisdiction") or {}
    if isinstance(j, str):
        j = {"default": j}
    if not isinstance(j, dict):
        raise ConfigError("candor_synapse: `jurisdiction` is a code or a mapping")
    if "default" in j:
        c.default_jurisdiction = _jurisdiction(j["default"], "jurisdiction.default")
    c.users = _patterns(j.get("users"), "jurisdiction.users")
    c.servers = _patterns(j.get("servers"), "jurisdiction.servers")
    if not c.default_jurisdiction and not c.users and not c.servers:
        raise ConfigError("candor_synapse: `jurisdiction` needs a `default` and/or `users`/`servers` patterns")
    c.audience = [_jurisdiction(a, "audience") for a in (config.get("audience") or [])]
    mode = config.get("fail_mode", "closed")
    if mode not in ("open", "closed"):
        raise ConfigError(f"candor_synapse: fail_mode is `open` or `closed`, not {mode!r}")
    c.fail_open = mode == "open"
    try:
        c.timeout = float(config.get("timeout", 10))
        c.max_bytes = int(config.get("max_bytes", c.max_bytes))
    except (TypeError, ValueError) as e:
        raise ConfigError(f"candor_synapse: timeout/max_bytes: {e}") from e
    if not 0 < c.timeout <= 300 or c.max_bytes <= 0:
        raise ConfigError("candor_synapse: timeout is 0 < t <= 300 seconds, max_bytes > 0")
    check = config.get("check") or {}
    if not isinstance(check, dict) or set(check) - {"local", "remote", "thumbnails", "url_previews"}:
        raise ConfigError("candor_synapse: `check` takes local, remote, thumbnails, url_previews")
    c.check_local = bool(check.get("local", True))
    c.check_remote = bool(check.get("remote", True))
    c.check_thumbnails = bool(check.get("thumbnails", False))
    c.check_url_previews = bool(check.get("url_previews", False))
    n = config.get("notices", {})
    if n is False:
        c.notices = False
    elif isinstance(n, dict):
        c.notices = bool(n.get("enabled", True))
        c.notices_localpart = str(n.get("localpart", c.notices_localpart))
        c.notices_displayname = str(n.get("displayname", c.notices_displayname))
    else:
        raise ConfigError("candor_synapse: `notices` is false or a mapping")
    return c


def find_jurisdiction(c: CandorConfig, user_id: Optional[str], server: str) -> Optional[str]:
    """The uploader's jurisdiction: user patterns, then server patterns, then the default."""
    if user_id:
        for pattern, j in c.users:
            if fnmatch.fnmatchcase(user_id, pattern):
                return j
    for pattern, j in c.servers:
        if fnmatch.fnmatchcase(server, pattern):
            return j
    return c.default_jurisdiction or None


def puid(*parts: str) -> str:
    """A DSA puid (A-Z a-z 0-9 - _, at most 500) from the media's names."""
    text = "_".join(re.sub(r"[^A-Za-z0-9_-]", "-", p) for p in parts if p)
    return text[:500] or "media"


def sniff_content_type(head: bytes) -> Tuple[str, Optional[str]]:
    """The DSA content type from the first bytes (Synapse does not tell the callback the MIME type)."""
    if (
        head.startswith(b"\xff\xd8\xff")
        or head.startswith(b"\x89PNG\r\n\x1a\n")
        or head[:6] in (b"GIF87a", b"GIF89a")
        or (head[:4] == b"RIFF" and head[8:12] == b"WEBP")
        or head.startswith(b"BM")
        or head[:4] in (b"II*\x00", b"MM\x00*")
    ):
        return "CONTENT_TYPE_IMAGE", None
    if head[4:8] == b"ftyp" or head.startswith(b"\x1a\x45\xdf\xa3"):
        return "CONTENT_TYPE_VIDEO", None
    if head.startswith(b"OggS") or head.startswith(b"ID3") or head.startswith(b"fLaC"):
        return "CONTENT_TYPE_AUDIO", None
    return "CONTENT_TYPE_OTHER", "file"


@dataclass
class Outcome:
    clean: bool
    reasons: List[str]
    decisions: List[Dict[str, Any]]


def outcome(answer: Dict[str, Any]) -> Outcome:
    """Clean when every recipient and audience jurisdiction gets `deliver` (and there is one)."""
    actions = [a.get("action") for a in answer.get("recipients") or []]
    actions += [a.get("action") for a in answer.get("audience") or []]
    decisions = answer.get("decisions") or []
    clean = bool(actions) and all(a == "deliver" for a in actions) and not decisions
    reasons = []
    for d in decisions:
        s = d.get("statement") or {}
        explanation = s.get("illegal_content_explanation") or s.get("incompatible_content_explanation") or ""
        reasons.append(
            f"{d.get('action')} by policy {d.get('policy')} (decision {d.get('id')}): "
            f"{s.get('category')} / {s.get('decision_ground')}: {explanation}"
        )
    return Outcome(clean, reasons, decisions)


class CandorUnavailable(Exception):
    """Candor could not give an answer (down, timeout, refused the request)."""


class _TooLarge(Exception):
    pass


def _request(c: CandorConfig, method: str, path: str, headers: Dict[str, str], body=None) -> Dict[str, Any]:
    """One blocking HTTP exchange with Candor (run in Synapse's thread pool). `body` may be an
    iterable of byte chunks: it is streamed as it is iterated."""
    u = urllib.parse.urlsplit(c.url)
    conn_cls = http.client.HTTPSConnection if u.scheme == "https" else http.client.HTTPConnection
    conn = conn_cls(u.hostname, u.port, timeout=c.timeout)
    try:
        conn.request(method, (u.path or "") + path, body=body, headers={
            "Authorization": f"Bearer {c.token}", **headers})
        resp = conn.getresponse()
        data = resp.read(16 << 20)
        status = resp.status
    except (OSError, http.client.HTTPException) as e:
        raise CandorUnavailable(f"{method} {path}: {e}") from e
    finally:
        conn.close()
    try:
        v = json.loads(data)
    except ValueError as e:
        raise CandorUnavailable(f"{method} {path}: HTTP {status}, not JSON") from e
    if status != 200:
        err = v.get("error") or {} if isinstance(v, dict) else {}
        raise CandorUnavailable(f"{method} {path}: HTTP {status}: {err.get('code')}: {err.get('message')}")
    return v


def scan(c: CandorConfig, context: Dict[str, Any], chunks: List[bytes]) -> Dict[str, Any]:
    boundary = "candor-synapse-" + uuid.uuid4().hex
    head = (
        f"--{boundary}\r\nContent-Disposition: form-data; name=\"context\"\r\n"
        f"Content-Type: application/json\r\n\r\n{json.dumps(context)}\r\n--{boundary}\r\n"
        f"Content-Disposition: form-data; name=\"file\"; filename=\"media\"\r\n"
        f"Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    size = len(head) + sum(len(x) for x in chunks) + len(tail)

    def body():
        yield head
        yield from chunks
        yield tail

    return _request(c, "POST", "/v1/scan", {
        "Content-Type": f"multipart/form-data; boundary={boundary}",
        "Content-Length": str(size),
    }, body())


class CandorMediaChecker:
    """`modules: [{module: candor_synapse.CandorMediaChecker, config: {...}}]`."""

    def __init__(self, config: CandorConfig, api: ModuleApi):
        self._c = config
        self._api = api
        api.register_spam_checker_callbacks(check_media_file_for_spam=self.check_media_file_for_spam)

    @staticmethod
    def parse_config(config: Dict[str, Any]) -> CandorConfig:
        return parse_config(config)

    def _wanted(self, file_info) -> bool:
        if getattr(file_info, "thumbnail", None) is not None and not self._c.check_thumbnails:
            return False
        if getattr(file_info, "url_cache", False) and not self._c.check_url_previews:
            return False
        if file_info.server_name is None:
            return self._c.check_local
        return self._c.check_remote

    @staticmethod
    def _uploader() -> Optional[str]:
        """The user of the request being served (Synapse's logging context: set for uploads,
        not for background work). The callback's arguments do not name the uploader."""
        try:
            from synapse.logging.context import current_context

            req = getattr(current_context(), "request", None)
            requester = getattr(req, "requester", None)
        except Exception:  # an internal API: never fail the check over it
            return None
        return requester if isinstance(requester, str) and requester.startswith("@") else None

    async def check_media_file_for_spam(self, file_wrapper, file_info) -> Union[str, Codes, Tuple[Codes, dict]]:
        if not self._wanted(file_info):
            return NOT_SPAM
        local = file_info.server_name is None
        origin = self._api.server_name if local else file_info.server_name
        uploader = self._uploader() if local else None
        jurisdiction = find_jurisdiction(self._c, uploader, uploader.split(":", 1)[1] if uploader else origin)
        chunks: List[bytes] = []
        total = 0

        def take(chunk: bytes) -> None:
            nonlocal total
            total += len(chunk)
            if total > self._c.max_bytes:
                raise _TooLarge()
            chunks.append(chunk)

        parts = [origin, file_info.file_id]
        t = getattr(file_info, "thumbnail", None)
        if t is not None:
            parts.append(f"thumb-{t.width}x{t.height}-{t.method}")
        content_id = puid(*parts)
        try:
            if jurisdiction is None:
                raise CandorUnavailable(f"no jurisdiction configured for {uploader or origin}")
            try:
                await file_wrapper.write_chunks_to(take)
            except _TooLarge:
                raise CandorUnavailable(f"media over max_bytes ({self._c.max_bytes})") from None
            ctype, ctype_other = sniff_content_type(chunks[0][:16] if chunks else b"")
            context = {
                "surface": self._c.surface,
                "content_id": content_id,
                "content_type": ctype,
                "sender": {"account": uploader or f"unknown@{origin}", "jurisdiction": jurisdiction},
                "audience": {"jurisdictions": self._c.audience or [jurisdiction]},
            }
            if ctype_other:
                context["content_type_other"] = ctype_other
            try:
                answer = await self._api.defer_to_thread(scan, self._c, context, chunks)
            except CandorUnavailable:
                raise
            except Exception as e:  # never an unhandled error in Synapse's upload path
                logger.exception("Candor: unexpected error checking %s", content_id)
                raise CandorUnavailable(f"unexpected error: {e!r}") from e
        except CandorUnavailable as e:
            if self._c.fail_open:
                logger.warning("Candor: could not check %s (%s); fail_mode open: allowed", content_id, e)
                return NOT_SPAM
            logger.warning("Candor: could not check %s (%s); fail_mode closed: refused", content_id, e)
            return Codes.FORBIDDEN, {"candor": "unavailable"}
        o = outcome(answer)
        if o.clean:
            logger.info("Candor: %s delivered", content_id)
            return NOT_SPAM
        for r in o.reasons:
            logger.info("Candor: %s refused: %s", content_id, r)
        if uploader and self._c.notices and self._api.is_mine(uploader):
            self._api.run_as_background_process("candor_notice", self._notify, uploader, content_id, o)
        return Codes.FORBIDDEN, {"candor_decisions": [d.get("id") for d in o.decisions]}

    async def _notice_texts(self, uploader: str, o: Outcome) -> List[str]:
        texts = []
        for d, reason in zip(o.decisions, o.reasons):
            text = None
            for n in d.get("notices") or []:
                if n.get("account") == uploader and n.get("role") == "sender":
                    try:
                        v = await self._api.defer_to_thread(
                            _request, self._c, "GET", "/v1/notices/" + urllib.parse.quote(n["id"]), {})
                        text = v.get("text")
                    except CandorUnavailable as e:
                        logger.warning("Candor: notice %s not fetched: %s", n.get("id"), e)
            texts.append(f"{text or reason}\n\n(Decision {d.get('id')}. {reason})")
        return texts or ["Your upload was refused by the content check."]

    async def _notify(self, uploader: str, content_id: str, o: Outcome) -> None:
        """Tell the uploader in a direct room from the notices user (the module API has no
        server-notice call): the room is created once per user and remembered in the notices
        user's account data."""
        try:
            bot = self._api.get_qualified_user_id(self._c.notices_localpart)
            if not await self._api.check_user_exists(bot):
                await self._api.register_user(self._c.notices_localpart, self._c.notices_displayname)
            rooms = dict(await self._api.account_data_manager.get_global(bot, NOTICE_ROOMS_TYPE) or {})
            room_id = rooms.get(uploader)
            if room_id is None:
                room_id, _ = await self._api.create_room(
                    bot,
                    {"preset": "trusted_private_chat", "invite": [uploader], "is_direct": True,
                     "name": self._c.notices_displayname},
                    ratelimit=False,
                )
                rooms[uploader] = room_id
                await self._api.account_data_manager.put_global(bot, NOTICE_ROOMS_TYPE, rooms)
            for text in await self._notice_texts(uploader, o):
                await self._api.create_and_send_event_into_room({
                    "type": "m.room.message",
                    "room_id": room_id,
                    "sender": bot,
                    "content": {"msgtype": "m.notice", "body": f"Upload {content_id} refused.\n\n{text}",
                                "org.candor.decisions": [d.get("id") for d in o.decisions]},
                })
        except Exception:
            logger.exception("Candor: could not send the notice to %s", uploader)
