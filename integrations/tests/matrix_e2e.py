#!/usr/bin/env python3
"""End to end: a real Synapse (PyPI matrix-synapse, SQLite) with the candor_synapse module and
the real matrix-content-scanner (1.0.8) with `candor scan-file` as its scan.script, against a
fresh `candor serve`. Everything listens on 127.0.0.1, lives in one temporary directory and is
stopped at the end (also on failure or SIGTERM).

    python3 integrations/tests/matrix_e2e.py --candor target/debug/candor

Run by crates/candor/tests/matrix.rs (which skips it when the Python packages are missing,
unless CANDOR_REQUIRE_INTEGRATIONS=1). Exit 0 when every check passed.
"""

import argparse
import hashlib
import hmac
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
IMAGES = ROOT / "testdata" / "pdq" / "images" / "reference"
BANKED = IMAGES / "bridge-mods" / "aaa-orig.jpg"  # in the tcap-hashes bank from the start
UNKNOWN = IMAGES / "misc-images" / "wee.jpg"  # in no bank
LATER = IMAGES / "misc-images" / "small.jpg"  # banked only after it was uploaded
POLICIES = ROOT / "crates" / "candor-policy" / "examples" / "policies.toml"
SERVER_NAME = "candor.test"
SHARED_SECRET = "candor-e2e-registration-secret"
USER = f"@alice:{SERVER_NAME}"
NOTICES_USER = f"@candor-notices:{SERVER_NAME}"

PROCS = []


def log(msg):
    print(f"[matrix-e2e {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def fail(msg):
    raise AssertionError(msg)


def check(cond, msg):
    if not cond:
        fail(msg)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http(method, url, body=None, headers=None, timeout=30):
    """(status, parsed JSON or raw bytes)."""
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            status, data = r.status, r.read()
    except urllib.error.HTTPError as e:
        status, data = e.code, e.read()
    try:
        return status, json.loads(data)
    except ValueError:
        return status, data


def bearer(token, extra=None):
    return {"Authorization": f"Bearer {token}", **(extra or {})}


class Proc:
    """A child in its own process group, stopped (TERM, then KILL) by stop() or at exit."""

    def __init__(self, name, cmd, logfile, env=None, cwd=None):
        self.name = name
        self.logfile = logfile
        self.out = open(logfile, "ab")
        self.p = subprocess.Popen(cmd, stdout=self.out, stderr=subprocess.STDOUT, env=env, cwd=cwd,
                                  start_new_session=True)
        PROCS.append(self)

    def alive(self):
        return self.p.poll() is None

    def stop(self):
        if self.alive():
            try:
                os.killpg(self.p.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.p.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.p.pid, signal.SIGKILL)
                self.p.wait(5)
        self.out.close()
        if self in PROCS:
            PROCS.remove(self)

    def tail(self, n=40):
        try:
            return "\n".join(Path(self.logfile).read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""


def wait_for(proc, url, seconds):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not proc.alive():
            fail(f"{proc.name} exited at start:\n{proc.tail()}")
        try:
            status, _ = http("GET", url, timeout=2)
            if status == 200:
                return
        except OSError:
            pass
        time.sleep(0.3)
    fail(f"{proc.name} did not answer {url} within {seconds} s:\n{proc.tail()}")


class Candor:
    def __init__(self, binary, tmp):
        self.bin = binary
        self.data = tmp / "candor-data"
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.logfile = tmp / "candor.log"
        self.proc = None

    def start(self):
        self.proc = Proc("candor serve", [self.bin, "serve", "--data", str(self.data), "--listen",
                                          f"127.0.0.1:{self.port}"], self.logfile,
                         env={**os.environ, "CANDOR_LOG": "warn"})
        wait_for(self.proc, self.base + "/healthz", 60)

    def stop(self):
        self.proc.stop()

    def token(self, role, name):
        out = subprocess.run([self.bin, "token", "create", "--data", str(self.data), "--role", role,
                              "--name", name], capture_output=True, text=True, timeout=60)
        check(out.returncode == 0, f"candor token create: {out.stderr}")
        return out.stdout.strip()


class Synapse:
    def __init__(self, tmp, candor_url, token, fail_mode):
        self.dir = tmp / "synapse"
        self.dir.mkdir(exist_ok=True)
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.config = self.dir / "homeserver.yaml"
        self.write_config(candor_url, token, fail_mode)
        self.proc = None

    def write_config(self, candor_url, token, fail_mode):
        d = self.dir
        module = {
            "module": "candor_synapse.CandorMediaChecker",
            "config": {
                "url": candor_url,
                "token": token,
                "surface": "group",
                "jurisdiction": {"default": "DE", "users": [{"@*:example.fr": "FR"}]},
                "fail_mode": fail_mode,
                "timeout": 20,
            },
        }
        cfg = {
            "server_name": SERVER_NAME,
            "pid_file": str(d / "homeserver.pid"),
            "listeners": [{"port": self.port, "bind_addresses": ["127.0.0.1"], "type": "http",
                           "tls": False, "x_forwarded": False,
                           "resources": [{"names": ["client"], "compress": False}]}],
            "database": {"name": "sqlite3", "args": {"database": str(d / "homeserver.db")}},
            "media_store_path": str(d / "media_store"),
            "signing_key_path": str(d / "signing.key"),
            "registration_shared_secret": SHARED_SECRET,
            "macaroon_secret_key": "candor-e2e-macaroon",
            "form_secret": "candor-e2e-form",
            "report_stats": False,
            "trusted_key_servers": [],
            "suppress_key_server_warning": True,
            "federation_domain_whitelist": [],
            "url_preview_enabled": False,
            "enable_metrics": False,
            # matrix-content-scanner 1.0.8 downloads through the unauthenticated media API.
            "enable_authenticated_media": False,
            "rc_message": {"per_second": 1000, "burst_count": 1000},
            "rc_media_create": {"per_second": 1000, "burst_count": 1000},
            "modules": [module],
        }
        # JSON is YAML.
        self.config.write_text(json.dumps(cfg, indent=1))

    def env(self):
        path = [str(ROOT / "integrations" / "synapse")]
        if os.environ.get("PYTHONPATH"):
            path.append(os.environ["PYTHONPATH"])
        return {**os.environ, "PYTHONPATH": os.pathsep.join(path)}

    def start(self):
        gen = subprocess.run([sys.executable, "-m", "synapse.app.homeserver", "-c", str(self.config),
                              "--generate-keys"], capture_output=True, text=True, timeout=120,
                             env=self.env())
        check(gen.returncode == 0, f"synapse --generate-keys: {gen.stdout}{gen.stderr}")
        self.proc = Proc("synapse", [sys.executable, "-m", "synapse.app.homeserver", "-c",
                                     str(self.config)], self.dir / "synapse.log", env=self.env())
        wait_for(self.proc, self.base + "/_matrix/client/versions", 180)

    def stop(self):
        self.proc.stop()

    def register(self, localpart, password):
        url = self.base + "/_synapse/admin/v1/register"
        status, v = http("GET", url)
        check(status == 200, f"register nonce: {status} {v}")
        nonce = v["nonce"]
        digest = hmac.new(SHARED_SECRET.encode(),
                          b"\x00".join(p.encode() for p in (nonce, localpart, password, "notadmin")),
                          digestmod=hashlib.sha1).hexdigest()
        body = json.dumps({"nonce": nonce, "username": localpart, "password": password,
                           "admin": False, "mac": digest}).encode()
        status, v = http("POST", url, body, {"Content-Type": "application/json"})
        check(status == 200, f"register {localpart}: {status} {v}")
        return v["access_token"]

    def login(self, localpart, password):
        body = json.dumps({"type": "m.login.password", "identifier": {"type": "m.id.user", "user": localpart},
                           "password": password}).encode()
        status, v = http("POST", self.base + "/_matrix/client/v3/login", body, {"Content-Type": "application/json"})
        check(status == 200, f"login: {status} {v}")
        return v["access_token"]

    def upload(self, token, path):
        return http("POST", self.base + "/_matrix/media/v3/upload?filename=" + urllib.parse.quote(path.name),
                    path.read_bytes(), bearer(token, {"Content-Type": "image/jpeg"}), timeout=60)


def scan_context_ok(candor, platform, decision_id, account):
    """The decision, the uploader's notice and the decision's log entry under the checkpoint."""
    status, d = http("GET", f"{candor.base}/v1/decisions/{decision_id}", headers=bearer(platform))
    check(status == 200, f"decision {decision_id}: {status} {d}")
    status, notices = http("GET", f"{candor.base}/v1/notices?account={urllib.parse.quote(account)}",
                           headers=bearer(platform))
    check(status == 200, f"notices: {status} {notices}")
    mine = [n for n in notices if n.get("decision") == decision_id]
    check(mine, f"no notice for {account} about {decision_id}: {notices}")
    status, cp = http("GET", f"{candor.base}/log/checkpoint")
    check(status == 200, f"checkpoint: {status}")
    size = int(cp.decode().splitlines()[1])
    check(d["log_index"] < size, f"decision log index {d['log_index']} not under checkpoint size {size}")
    return d, mine[0]


def notice_in_matrix(syn, token, decision_id, seconds=60):
    """The uploader is invited to a room by the notices user and finds the decision there."""
    deadline = time.monotonic() + seconds
    room = None
    since = ""
    while time.monotonic() < deadline and room is None:
        # With `since`: Synapse caches an identical initial sync for minutes.
        status, s = http("GET", syn.base + "/_matrix/client/v3/sync?timeout=1000" + since, headers=bearer(token))
        check(status == 200, f"sync: {status} {s}")
        since = "&since=" + urllib.parse.quote(s["next_batch"])
        for room_id, r in (s.get("rooms", {}).get("invite") or {}).items():
            senders = {e.get("sender") for e in r.get("invite_state", {}).get("events", [])}
            if NOTICES_USER in senders:
                room = room_id
    check(room is not None, f"no invite from {NOTICES_USER} within {seconds} s")
    status, v = http("POST", f"{syn.base}/_matrix/client/v3/join/{urllib.parse.quote(room)}", b"{}",
                     bearer(token, {"Content-Type": "application/json"}))
    check(status == 200, f"join: {status} {v}")
    while time.monotonic() < deadline:
        status, m = http("GET", f"{syn.base}/_matrix/client/v3/rooms/{urllib.parse.quote(room)}/messages?dir=b&limit=20",
                         headers=bearer(token))
        check(status == 200, f"messages: {status} {m}")
        bodies = [e["content"].get("body", "") for e in m.get("chunk", []) if e.get("type") == "m.room.message"]
        if any(decision_id in b for b in bodies):
            return bodies
        time.sleep(0.5)
    fail(f"no message naming {decision_id} in {room}")


def unit_checks():
    """The module's pure parts: config checks, jurisdiction rules, puid, the outcome rule."""
    sys.path.insert(0, str(ROOT / "integrations" / "synapse"))
    import candor_synapse as cs
    from synapse.module_api.errors import ConfigError

    base = {"url": "http://127.0.0.1:1", "token": "t", "jurisdiction": "de"}
    c = cs.parse_config(base)
    check(c.default_jurisdiction == "DE" and not c.fail_open and c.surface == "group", f"defaults: {c}")
    for bad in ({"surface": "chat"}, {"jurisdiction": "Germany"}, {"fail_mode": "maybe"}, {"tokn": "x"},
                {"url": "ftp://x"}, {"token": ""}, {"timeout": 0}, {"jurisdiction": {}},
                {"check": {"everything": True}}):
        try:
            cs.parse_config({**base, **bad})
        except ConfigError:
            continue
        fail(f"config {bad} was accepted")
    c = cs.parse_config({**base, "jurisdiction": {"default": "DE", "users": [{"@bob:*": "AT"}, {"@*:x.fr": "FR"}],
                                                  "servers": [{"*.be": "BE"}]}})
    check(cs.find_jurisdiction(c, "@bob:x.fr", "x.fr") == "AT", "first user pattern wins")
    check(cs.find_jurisdiction(c, "@eve:x.fr", "x.fr") == "FR", "user pattern")
    check(cs.find_jurisdiction(c, None, "media.be") == "BE", "server pattern")
    check(cs.find_jurisdiction(c, None, "other.org") == "DE", "default")
    check(cs.puid("a.b:8448", "Xy_z") == "a-b-8448_Xy_z", cs.puid("a.b:8448", "Xy_z"))
    check(not cs.outcome({"audience": [{"action": "deliver"}, {"action": "withhold"}]}).clean, "one withhold")
    check(not cs.outcome({}).clean, "no actions is not clean")
    check(cs.outcome({"audience": [{"action": "deliver"}]}).clean, "deliver is clean")
    log("module unit checks passed")


def run(args, tmp):
    unit_checks()
    candor = Candor(args.candor, tmp)
    candor.start()
    curator = candor.token("curator", "e2e-curator")
    platform = candor.token("platform", "synapse")
    status, v = http("PUT", candor.base + "/v1/policies", POLICIES.read_bytes(),
                     bearer(curator, {"Content-Type": "application/toml"}))
    check(status == 200, f"policies: {status} {v}")
    for name, category in (("tcap-hashes", "STATEMENT_CATEGORY_RISK_FOR_PUBLIC_SECURITY"),
                           ("ncmec-hashes", "STATEMENT_CATEGORY_PROTECTION_OF_MINORS")):
        status, v = http("POST", candor.base + "/v1/banks", json.dumps(
            {"name": name, "category": category, "provenance": "imported", "list_name": "e2e"}).encode(),
            bearer(curator, {"Content-Type": "application/json"}))
        check(status in (200, 201), f"bank {name}: {status} {v}")
    status, v = http("POST", candor.base + "/v1/banks/tcap-hashes/content", BANKED.read_bytes(), bearer(curator))
    check(status in (200, 201), f"bank content: {status} {v}")
    log(f"candor up on {candor.base}: policies, banks, {BANKED.name} in tcap-hashes")

    syn = Synapse(tmp, candor.base, platform, "closed")
    syn.start()
    log(f"synapse up on {syn.base} (fail_mode closed)")
    alice = syn.register("alice", "alice-password-1")

    # A banked image: refused, with Candor's decision, the uploader's notice and a log entry.
    status, v = syn.upload(alice, BANKED)
    check(status == 400, f"banked upload: expected 400, got {status} {v}")
    status, notices = http("GET", f"{candor.base}/v1/notices?account={urllib.parse.quote(USER)}",
                           headers=bearer(platform))
    check(status == 200 and notices, f"no Candor notice for {USER}: {status} {notices}")
    decision_id = notices[0]["decision"]
    d, notice = scan_context_ok(candor, platform, decision_id, USER)
    check(d["action"] == "withhold" and d["policy"] == "terrorist-content-eu", f"decision: {d}")
    check(d["statement"]["puid"].startswith(SERVER_NAME.replace(".", "-") + "_"), f"puid: {d['statement']['puid']}")
    log(f"banked upload refused: decision {decision_id} ({d['action']}, {d['policy']}), log index {d['log_index']}")
    bodies = notice_in_matrix(syn, alice, decision_id)
    log(f"the uploader was told in Matrix: {bodies[0][:100]!r}…")

    # An unknown image: stored, and served back unchanged.
    status, v = syn.upload(alice, UNKNOWN)
    check(status == 200 and "content_uri" in v, f"unknown upload: {status} {v}")
    unknown_mxc = v["content_uri"]
    media = unknown_mxc[len("mxc://"):]
    status, data = http("GET", f"{syn.base}/_matrix/media/v3/download/{media}")
    check(status == 200 and data == UNKNOWN.read_bytes(), f"download of {media}: {status}")
    log(f"unknown upload stored: {unknown_mxc}")

    status, v = syn.upload(alice, LATER)
    check(status == 200, f"second unknown upload: {status} {v}")
    later_media = v["content_uri"][len("mxc://"):]

    # matrix-content-scanner with `candor scan-file` as its script.
    if not args.skip_scanner:
        run_scanner(args, tmp, candor, curator, platform, syn, media, later_media)

    # Candor down: fail closed refuses, fail open stores.
    candor.stop()
    status, v = syn.upload(alice, UNKNOWN)
    check(status == 400, f"Candor down, fail_mode closed: expected 400, got {status} {v}")
    log("Candor stopped: upload refused (fail_mode closed)")
    syn.stop()
    syn.write_config(candor.base, platform, "open")
    syn.start()
    alice = syn.login("alice", "alice-password-1")
    status, v = syn.upload(alice, UNKNOWN)
    check(status == 200 and "content_uri" in v, f"Candor down, fail_mode open: {status} {v}")
    log("Candor stopped: upload stored (fail_mode open)")
    syn.stop()


def run_scanner(args, tmp, candor, curator, platform, syn, clean_media, later_media):
    d = tmp / "scanner"
    (d / "files").mkdir(parents=True)
    script = d / "candor-scan"
    # The scanner runs `script PATH`: a two-line wrapper adds the subcommand.
    script.write_text(f"#!/bin/sh\nexec {json.dumps(str(Path(args.candor).resolve()))} scan-file \"$1\"\n")
    script.chmod(0o755)
    port = free_port()
    cfg = {
        "web": {"host": "127.0.0.1", "port": port},
        "scan": {"script": str(script), "temp_directory": str(d / "files")},
        "download": {"base_homeserver_url": syn.base},
        "crypto": {"pickle_path": str(d / "pickle"), "pickle_key": "candor-e2e-pickle"},
        "result_cache": {"exit_codes_to_ignore": [2]},
    }
    (d / "config.yaml").write_text(json.dumps(cfg))
    env = {**os.environ, "CANDOR_SERVER": candor.base, "CANDOR_TOKEN": platform,
           "CANDOR_JURISDICTION": "DE", "CANDOR_SURFACE": "group"}
    mcs = Proc("matrix-content-scanner", [sys.executable, "-m", "matrix_content_scanner.mcs", "-c",
                                          str(d / "config.yaml")], d / "mcs.log", env=env)
    base = f"http://127.0.0.1:{port}/_matrix/media_proxy/unstable"
    try:
        wait_for(mcs, base + "/public_key", 60)
        log(f"matrix-content-scanner up on 127.0.0.1:{port}")
        status, v = http("GET", f"{base}/scan/{clean_media}", timeout=60)
        check(status == 200 and v.get("clean") is True, f"scanner on unknown media: {status} {v}\n{mcs.tail()}")
        log(f"scanner: {clean_media} clean")
        # Banked after it was uploaded: the scanner's check finds it.
        status, v = http("POST", candor.base + "/v1/banks/ncmec-hashes/content", LATER.read_bytes(), bearer(curator))
        check(status in (200, 201), f"bank content: {status} {v}")
        status, v = http("GET", f"{base}/scan/{later_media}", timeout=60)
        # 1.0.8's /scan answers 200 with clean: false (its /download answers 403).
        check(status == 200 and v.get("clean") is False, f"scanner on banked media: {status} {v}\n{mcs.tail()}")
        tail = mcs.tail(200)
        check("csam-block" in tail, f"the scanner's log has no Candor reason:\n{tail}")
        log(f"scanner: {later_media} not clean ({v})")
    finally:
        mcs.stop()


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--candor", required=True, help="the candor binary")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    ap.add_argument("--skip-scanner", action="store_true")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="candor-matrix-"))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(3))
    ok = False
    try:
        run(args, tmp)
        ok = True
        log("all checks passed")
    except AssertionError as e:
        print(f"matrix-e2e: FAILED: {e}", file=sys.stderr)
        for p in list(PROCS):
            print(f"--- {p.name} log tail ---\n{p.tail()}", file=sys.stderr)
    finally:
        for p in list(PROCS):
            p.stop()
        if args.keep or not ok:
            print(f"matrix-e2e: files in {tmp}", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
