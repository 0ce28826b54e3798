#!/usr/bin/env python3
"""kerio_mock.py - a small Kerio Connect Client API server for wire-format tests of the Kerio
transport, written from Kerio's public API description (shared/research/kerio-api.md), not from
tests/sim/kerio: JSON-RPC 2.0 on POST /webmail/api/jsonrpc/, Session.login with a token for
X-Token plus session cookies, Folders.get (with placeType and access; folders of another user and
public ones under "foreign_folders"; writes refused in folders without write access), Events.get
(folder list named "ids" as in the IDL), Mails.get/getById/set/move/copy/remove, Changes.*.

It varies what the documentation leaves open (the "variant" control): cookie names and
attributes, int64 members quoted as strings, the JSON-RPC id as a string, member order, unknown
and null members, gzip and chunked replies, HTTP 500 with errors. Faults ("faults" control)
answer one method with HTTP 5xx (JSON, HTML or empty), a 413 HTML page, a body cut off (short of its Content-Length,
without a length, chunked without its last chunk, or no body at all) or complete but holding half a
JSON text, an HTML page with 200, a
redirect, a JSON-RPC error (with or without data), an expired session; attachment downloads
(method "download") the same, or 404/410, or a JSON-RPC error with a chosen HTTP status; per-item errors of a
batch call for one id; an item deleted or created just before a call.

usage: kerio_mock.py --cert PEM --key KEY   (prints "READY https://127.0.0.1:PORT")
Control (GET/POST /_sim/...): info, variant, faults, faults/clear, state?folder=NAME,
items/create {folder, subject}, items/delete {id}, items/set {id, isSeen...}, journal/truncate,
sessions/expire, calls (per-method counts), calls/reset. Loopback only; test use only.
"""
import argparse
import gzip
import http.server
import json
import secrets
import ssl
import sys
import threading
import urllib.parse

DOMAIN, USER, PASSWORD = "example.com", "jdoe", "secret"
LOCK = threading.RLock()


def kid(kind, folder_uuid=None, n=None):
    base = "keriostorage://%s/%s/%s" % (kind, DOMAIN, USER)
    if folder_uuid is not None:
        base += "/" + folder_uuid
    if n is not None:
        base += "/%d" % n
    return base


class Store:
    def __init__(self):
        self.watermark = 7000  # journal counter (int64)
        self.floor = 0         # sync keys below this are expired
        self.journal = []      # Change objects
        self.folders = []
        self.items = {}        # id -> mail
        self.counters = {}     # folder id -> next item number
        self.files = {}        # attachment URL path -> bytes
        self.events = {}       # id -> event
        root = {"id": kid("folder", "root"), "parentId": "", "name": "", "type": "FRoot", "subType": "FSubNone",
                "placeType": "FPlaceMailbox", "access": "FAccessAdmin"}
        self.folders.append(root)
        for name, sub, typ in (("Inbox", "FSubInbox", "FMail"), ("Deleted Items", "FSubDeletedItems", "FMail"),
                               ("Archive", "FSubNone", "FMail"), ("Calendar", "FSubDefault", "FCalendar")):
            uuid = secrets.token_hex(4) + "-0000-4000-8000-" + secrets.token_hex(6)
            self.folders.append({"id": kid("folder", uuid), "parentId": root["id"], "name": name, "type": typ,
                                 "subType": sub, "uuid": uuid, "placeType": "FPlaceMailbox", "access": "FAccessAdmin"})
        # Folders of other places (Folder.placeType): another user's mailbox shared with this
        # one, and the public folders, each under a root of its own. Folders.get lists them
        # (first) only under the variant "foreign_folders".
        self.foreign = []
        for name, sub, place, parent in (("", "FSubNone", "FPlacePublic", None),
                                         ("Public Mail", "FSubNone", "FPlacePublic", 0),
                                         ("", "FSubNone", "FPlacePeople", None),
                                         ("Deleted Items", "FSubDeletedItems", "FPlacePeople", 2),
                                         ("Inbox", "FSubInbox", "FPlacePeople", 2)):
            uuid = secrets.token_hex(4) + "-0000-4000-8000-" + secrets.token_hex(6)
            f = {"id": "keriostorage://folder/%s/%s/%s" % (DOMAIN, "public" if place == "FPlacePublic" else "asmith",
                                                            uuid),
                 "parentId": "" if parent is None else self.foreign[parent]["id"], "name": name,
                 "type": "FRoot" if parent is None else "FMail", "subType": sub, "uuid": uuid, "placeType": place,
                 "access": "FAccessReadWrite", "ownerName": "" if place == "FPlacePublic" else "Anna Smith"}
            self.foreign.append(f)
        self.folders.extend(self.foreign)
        cal = self.folder("Calendar")
        for n in (1, 2):
            eid = kid("event", cal["uuid"], n)
            self.events[eid] = {"id": eid, "folderId": cal["id"], "watermark": self.bump(), "summary": "event %d" % n,
                                "location": "", "description": "", "start": "2024010%dT090000Z" % n,
                                "end": "2024010%dT100000Z" % n, "isAllDay": False, "freeBusy": "Busy",
                                "isPrivate": False, "priority": "Normal", "rule": {"isSet": False}, "attendees": [],
                                "reminder": {"isSet": False}, "categories": []}

    def folder(self, key):
        for f in self.folders:
            if f["id"] == key or f["name"] == key:
                return f
        return None

    def bump(self):
        self.watermark += 1
        return self.watermark

    def log(self, typ, item_id, parent, orig_id="", orig_parent=""):
        self.journal.append({"isFolder": False, "type": typ, "itemType": "itMail", "itemId": item_id,
                             "parentId": parent, "origId": orig_id, "origParentId": orig_parent,
                             "watermark": self.watermark, "messageUnread": 0})

    def create(self, folder, fields):
        f = self.folder(folder)
        n = self.counters.get(f["id"], 1)
        self.counters[f["id"]] = n + 1
        mid = kid("mail", f["uuid"], n)
        subject = fields.get("subject", "mail %d" % n)
        body = fields.get("body", "Hello,\nthis is %s.\n" % subject)
        m = {"id": mid, "folderId": f["id"], "watermark": self.bump(),
             "from": {"name": "Alice", "address": "alice@example.org", "contactId": ""},
             "to": [{"name": "", "address": "jdoe@example.com", "contactId": ""}], "cc": [], "bcc": [], "replyTo": [],
             "subject": subject, "sendDate": "20240105T101455Z", "receiveDate": "20240105T101500Z",
             "modifiedDate": "20240105T101500Z", "priority": "Normal", "size": len(body.encode()) + 200,
             "isSeen": False, "isAnswered": False, "isFlagged": False, "isForwarded": False, "isJunk": False,
             "isDraft": False, "hasAttachment": False, "isReadOnly": False,
             "displayableParts": [{"id": "0", "contentType": "ctTextPlain", "content": body}],
             "attachments": [], "headers": [{"type": "mhMessageID", "value": "<m%d.%s@example.org>" % (n, f["uuid"])}]}
        for k in ("isSeen", "isFlagged", "isAnswered", "headers"):
            if k in fields:
                m[k] = fields[k]
        if fields.get("attachment"):
            # Downloaded from a server-relative URL (IDL comment on Attachment.url).
            name = fields["attachment"]["name"]
            url = "/webmail/api/download/attachment/%s/%d/1/%s" % (f["uuid"], n, name)
            self.files[url] = fields["attachment"]["data"].encode()
            m["hasAttachment"] = True
            m["attachments"] = [{"id": "1", "url": url, "name": name, "contentType": "text/plain", "contentId": "",
                                 "size": len(self.files[url])}]
        self.items[mid] = m
        self.log("chtCreated", mid, f["id"])
        return m

    def delete(self, mid):
        m = self.items.pop(mid)
        self.bump()
        self.log("chtDeleted", mid, m["folderId"])

    def move(self, mid, target, copy=False):
        m = self.items[mid]
        t = self.folder(target)
        n = self.counters.get(t["id"], 1)
        self.counters[t["id"]] = n + 1
        nid = kid("mail", t["uuid"], n)
        nm = json.loads(json.dumps(m))
        nm["id"], nm["folderId"], nm["watermark"] = nid, t["id"], self.bump()
        self.items[nid] = nm
        if copy:
            self.log("chtCopied", nid, t["id"], mid, m["folderId"])
        else:
            del self.items[mid]
            self.log("chtMoved", nid, t["id"], mid, m["folderId"])
        return nm


STORE = Store()
SESSIONS = {}      # token -> {cookie name: value}
VARIANT = {}
FAULTS = []        # dicts: method, kind, skip, count, ...
CALLS = {}
STATS = {"gzipped": 0, "chunked": 0, "logins": 0}
INT64_MEMBERS = ("watermark", "size", "totalItems", "syncKey", "inputIndex", "messageUnread", "code")


def take_fault(method):
    with LOCK:
        for f in FAULTS:
            if f.get("method") not in (method, "*") or f.get("count", 1) == 0:
                continue
            if f.get("skip", 0) > 0:
                f["skip"] -= 1
                continue
            f["count"] = f.get("count", 1) - 1
            return dict(f)
    return None


def shape(v):
    """Applies the wire variants to a result value (a copy)."""
    if isinstance(v, dict):
        items = [(k, shape(x)) for k, x in v.items()]
        if VARIANT.get("ints_as_strings"):
            items = [(k, str(x) if k in INT64_MEMBERS and isinstance(x, int) and not isinstance(x, bool) else x)
                     for k, x in items]
        if VARIANT.get("reorder"):
            items.reverse()
        if VARIANT.get("null_empty"):
            items = [(k, None if k in ("errors", "list") and x == [] else x) for k, x in items]
        d = dict(items)
        if VARIANT.get("extra_members") and "id" in d:
            d["xUnknownMember"] = {"nested": [1, {"a": None}], "note": "ignored by clients"}
            for k in ("cc", "bcc", "replyTo", "sendDate", "modifiedDate", "contactId", "isReadOnly"):
                if k in d:
                    d[k] = None
        return d
    if isinstance(v, list):
        return [shape(x) for x in v]
    return v


def project(m, fields):
    if not fields:
        return dict(m)
    out = {"id": m["id"]}
    for k in fields:
        if k in m:
            out[k] = m[k]
    return out


class RpcError(Exception):
    def __init__(self, code, message, params=None):
        super().__init__(message)
        self.code, self.message, self.params = code, message, params


def kerio_error(code, message, params=None, with_data=True):
    e = {"code": code, "message": message}
    if with_data:
        e["data"] = {"messageParameters": {"positionalParameters": params or [], "plurals": 1}}
    return e


def batch(ids, fn):
    """A batch call: per-item errors with inputIndex, results for the rest."""
    errors, results = [], []
    for i, x in enumerate(ids):
        f = take_fault("item:" + (x if isinstance(x, str) else x.get("id", "")))
        if f:
            e = kerio_error(f.get("code", 1000), f.get("message", "Operation failed."), [x])
            if not f.get("no_index"):
                e["inputIndex"] = i
            errors.append(e)
            continue
        try:
            r = fn(x)
        except KeyError:
            errors.append(dict(kerio_error(1002, "Item %1 does not exist.", [str(x)]), inputIndex=i))
            continue
        except RpcError as e:
            errors.append(dict(kerio_error(e.code, e.message, e.params), inputIndex=i))
            continue
        if r is not None:
            r["inputIndex"] = i
            results.append(r)
    return {"errors": errors, "result": results}


def check_int(v):
    if isinstance(v, bool) or not isinstance(v, (int, str)):
        raise RpcError(-32602, "Invalid params.")
    return int(v)


def check_echo(v):
    """A server value sent back (lastSyncKey) must come in the JSON type the server gave it:
    with ints_as_strings, int64 members are strings (SyncKey objects: their watermark)."""
    if VARIANT.get("ints_as_strings"):
        w = v.get("watermark") if isinstance(v, dict) else v
        if not isinstance(w, str):
            raise RpcError(-32602, "Invalid params.")
    return v


def access_of(f):
    """Folder.access: the variant "access" ({folder name: FAccess...}) overrides a folder's."""
    return (VARIANT.get("access") or {}).get(f["name"], f.get("access", "FAccessAdmin"))


def writable(fid):
    """Items may be written in a folder with read-write or full access only (Folder.access)."""
    f = STORE.folder(fid)
    if f and access_of(f) not in ("FAccessReadWrite", "FAccessAdmin"):
        raise RpcError(1004, "Access denied.")


def check_query(q):
    """Under the variant "strict_query", a SearchQuery must hold every member the IDL's struct
    has (fields, conditions, combining, start, limit, orderBy), as the IDL's generated stubs
    read them; otherwise -32602."""
    want = {"fields": list, "conditions": list, "combining": str, "start": (int, str), "limit": (int, str),
            "orderBy": list}
    if VARIANT.get("strict_query") and (not isinstance(q, dict) or
                                        any(not isinstance(q.get(k), t) for k, t in want.items())):
        raise RpcError(-32602, "Invalid params.")
    return q or {}


def dispatch(method, params):
    s = STORE
    if method == "Session.logout":
        return {}
    if method == "Folders.get":
        fs = [f for f in s.folders if f not in s.foreign]
        if VARIANT.get("foreign_folders"):
            fs = s.foreign + fs
        return {"list": [dict({k: v for k, v in f.items() if k != "uuid"}, access=access_of(f)) for f in fs]}
    if method == "Events.get":
        # The IDL names this method's folder list "ids" (the other X.get: "folderIds"); an
        # absent list is an empty one.
        q = check_query(params.get("query"))
        fids = params.get("ids") or []
        evs = sorted((e for e in s.events.values() if e["folderId"] in fids), key=lambda e: e["id"])
        start, limit = int(q.get("start", 0)), int(q.get("limit", -1))
        page = evs[start:] if limit < 0 else evs[start:start + limit]
        return {"list": [project(e, q.get("fields")) for e in page], "totalItems": len(evs)}
    if method == "Changes.getFolderSyncKey":
        return {"syncKey": s.watermark}
    if method == "Changes.getSyncKey":
        return {"syncKey": {"id": 1, "version": 1, "watermark": s.watermark, "publicFolder": 0, "accountSyncKey": []}}
    if method in ("Changes.get", "Changes.killRequest"):
        check_echo(params.get("lastSyncKey"))
        return {"list": [], "syncKey": {"id": 1, "version": 1, "watermark": s.watermark, "publicFolder": 0,
                                        "accountSyncKey": []}} if method == "Changes.get" else {}
    if method == "Changes.getFolder":
        key = check_int(check_echo(params.get("lastSyncKey")))
        fid = params.get("folderId")
        if key < s.floor:
            raise RpcError(1000, "Sync key expired.")
        lst = [c for c in s.journal if c["watermark"] > key and fid in (c["parentId"], c["origParentId"])]
        if VARIANT.get("newmail_everywhere"):
            # chtNewMail: "Valid only for item type 'itMail' ... Folder filter is not applied
            # for this": one for every mail that arrived, in whichever folder.
            lst += [dict(c, type="chtNewMail") for c in s.journal
                    if c["watermark"] > key and c["type"] == "chtCreated"]
        if VARIANT.get("changes_reversed"):
            lst = list(reversed(lst))  # the order of the list is not documented
        if VARIANT.get("change_no_parent"):
            # The folder is implied by the call: entries other than moves without parent ids.
            lst = [c if c["type"] == "chtMoved" else {k: v for k, v in c.items() if "arentId" not in k} for c in lst]
        return {"list": lst, "syncKey": s.watermark}
    if method == "Mails.get":
        q = check_query(params.get("query"))
        fids = params.get("folderIds") or []
        ms = [m for m in s.items.values() if m["folderId"] in fids]
        for ob in reversed(q.get("orderBy") or []):
            col = ob.get("columnName")
            ms.sort(key=lambda m: str(m.get(col, "")), reverse=ob.get("direction") == "Desc")
        start, limit = int(q.get("start", 0)), int(q.get("limit", -1))
        if VARIANT.get("max_limit") and (limit < 0 or limit > VARIANT["max_limit"]):
            limit = VARIANT["max_limit"]  # the service's own safety limit
        page = ms[start:] if limit < 0 else ms[start:start + limit]
        return {"list": [project(m, q.get("fields")) for m in page], "totalItems": len(ms)}
    if method == "Mails.getById":
        def full(i):
            m = json.loads(json.dumps(s.items[i]))
            if VARIANT.get("absolute_urls"):
                for a in m["attachments"]:
                    a["url"] = VARIANT["absolute_urls"] + a["url"]
            return m
        return batch(params.get("ids") or [], full)
    if method == "Mails.set":
        def set1(x):
            m = s.items[x["id"]]
            writable(m["folderId"])
            m.update({k: v for k, v in x.items() if k.startswith("is")})
            m["watermark"] = s.bump()
            s.log("chtModifiedMetadata", m["id"], m["folderId"])
            return {"id": "", "watermark": m["watermark"]}
        return batch(params.get("mails") or [], set1)
    if method in ("Mails.move", "Mails.copy"):
        target = params.get("folder")
        if not s.folder(target):
            raise RpcError(4104, "Folder does not exist.")
        writable(s.folder(target)["id"])

        def mv(i):
            if method == "Mails.move":
                writable(s.items[i]["folderId"])
            nm = s.move(i, target, method == "Mails.copy")
            return {"id": nm["id"], "watermark": nm["watermark"]}
        return batch(params.get("ids") or [], mv)
    if method == "Mails.remove":
        r = batch(params.get("ids") or [], lambda i: (writable(s.items[i]["folderId"]), s.delete(i))[1])
        return {"errors": r["errors"]}
    if method == "Mails.create":
        def cr(x):
            f = s.folder(x.get("folderId", ""))
            if not f:
                raise KeyError(x.get("folderId"))
            writable(f["id"])
            body = "".join(p.get("content", "") for p in x.get("displayableParts") or [])
            m = s.create(f["id"], {"subject": x.get("subject", ""), "body": body, "isSeen": x.get("isSeen", False),
                                   "headers": x.get("headers") or []})
            return {"id": m["id"], "watermark": m["watermark"]}
        return batch(params.get("mails") or [], cr)
    raise RpcError(-32601, "Method not found.")


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def send_body(self, status, body, ctype="application/json-rpc; charset=UTF-8", headers=()):
        if VARIANT.get("gzip") and "gzip" in (self.headers.get("Accept-Encoding") or ""):
            body = gzip.compress(body)
            headers = list(headers) + [("Content-Encoding", "gzip")]
            STATS["gzipped"] += 1
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        for k, v in headers:
            self.send_header(k, v)
        if VARIANT.get("chunked"):
            STATS["chunked"] += 1
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for i in range(0, len(body), 4000):
                part = body[i:i + 4000]
                self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
            self.wfile.write(b"0\r\n\r\n")
        else:
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    def control(self, path, body):
        global VARIANT
        with LOCK:
            if path == "info":
                return {"folders": {f["name"]: f["id"] for f in STORE.folders if f["name"] and f not in STORE.foreign},
                        "foreign": [f["id"] for f in STORE.foreign],
                        "sessions": len(SESSIONS), "stats": STATS, "watermark": STORE.watermark}
            if path == "variant":
                VARIANT = body
                if "watermark" in body and body["watermark"] > STORE.watermark:
                    # Journal positions above 2^53: every item gets a new watermark there.
                    STORE.watermark = body["watermark"]
                    for m in STORE.items.values():
                        m["watermark"] = STORE.bump()
                return VARIANT
            if path == "faults":
                FAULTS.append(body)
                return {"armed": len(FAULTS)}
            if path == "faults/clear":
                FAULTS.clear()
                return {}
            if path.startswith("state"):
                q = urllib.parse.parse_qs(urllib.parse.urlparse(path).query)
                f = STORE.folder(q.get("folder", ["Inbox"])[0])
                return {"items": sorted((m for m in STORE.items.values() if m["folderId"] == f["id"]),
                                        key=lambda m: m["id"])}
            if path == "items/create":
                return STORE.create(STORE.folder(body.get("folder", "Inbox"))["id"], body)
            if path == "items/set":
                m = STORE.items[body["id"]]
                m.update({k: v for k, v in body.items() if k.startswith("is")})
                m["watermark"] = STORE.bump()
                STORE.log("chtModifiedMetadata", m["id"], m["folderId"])
                return m
            if path == "items/delete":
                STORE.delete(body["id"])
                return {}
            if path == "journal/truncate":
                STORE.floor = STORE.watermark
                return {}
            if path == "sessions/expire":
                SESSIONS.clear()
                return {}
            if path == "calls":
                return dict(CALLS)
            if path == "calls/reset":
                CALLS.clear()
                return {}
        return None

    def do_GET(self):
        if self.path.startswith("/_sim/"):
            r = self.control(self.path[6:], None)
            return self.send_body(200 if r is not None else 404, json.dumps(r).encode(), "application/json")
        with LOCK:
            data = STORE.files.get(self.path)
            jar = SESSIONS.get(self.headers.get("X-Token") or "")
            ok = jar is not None and all(self.cookies().get(k) == v for k, v in jar.items())
            CALLS["download"] = CALLS.get("download", 0) + 1
        # Faults of the method "download": the raw ones of calls (5xx, cut replies), 404/410
        # pages, or a JSON-RPC error envelope (code, message) with the HTTP status "status".
        f = take_fault("download") if data is not None and ok else None
        if f and self.raw_fault(f):
            return None
        if f and f["kind"] == "error":
            body = {"jsonrpc": "2.0", "id": None, "error": kerio_error(f.get("code", 1002), f.get("message",
                                                                                                 "Attachment not found."))}
            return self.send_body(f.get("status", 404), json.dumps(body).encode())
        if data is not None and ok:
            return self.send_body(200, data, "application/octet-stream")
        if data is not None:
            return self.reply(None, error=kerio_error(-32001, "Session expired."))
        self.send_body(404, b"<html><body>Not found</body></html>", "text/html")

    def cookies(self):
        jar = {}
        for part in (self.headers.get("Cookie") or "").split(";"):
            if "=" in part:
                k, v = part.strip().split("=", 1)
                jar[k] = v
        return jar

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n)
        if self.path.startswith("/_sim/"):
            r = self.control(self.path[6:], json.loads(raw or b"{}"))
            return self.send_body(200 if r is not None else 404, json.dumps(r).encode(), "application/json")
        if self.path.rstrip("/") != "/webmail/api/jsonrpc":
            return self.send_body(404, b"<html><body>Not found</body></html>", "text/html")
        try:
            req = json.loads(raw)
            method, rid, params = req["method"], req.get("id"), req.get("params") or {}
        except (ValueError, KeyError, TypeError):
            return self.reply(None, error=kerio_error(-32700, "Parse error."))
        with LOCK:
            CALLS[method] = CALLS.get(method, 0) + 1
        f = take_fault(method)
        if f and self.raw_fault(f):
            return None
        if f and f["kind"] == "error":
            return self.reply(rid, error=kerio_error(f.get("code", 1000), f.get("message", "Operation failed."),
                                                     ["x"], f.get("data", True)))
        if f and f["kind"] == "expire":
            with LOCK:
                SESSIONS.clear()
        if f and f["kind"] == "mutate":
            with LOCK:
                for mid in f.get("delete", []):
                    STORE.delete(mid)
                for subj in f.get("create", []):
                    STORE.create(STORE.folder("Inbox")["id"], {"subject": subj})
        if method == "Session.login":
            return self.login(rid, params)
        with LOCK:
            jar = SESSIONS.get(self.headers.get("X-Token") or "")
            if jar is None or any(self.cookies().get(k) != v for k, v in jar.items()):
                return self.reply(rid, error=kerio_error(-32001, "Session expired."))
            if method == "Session.logout":  # the session ends
                del SESSIONS[self.headers.get("X-Token")]
            try:
                return self.reply(rid, result=dispatch(method, params))
            except RpcError as e:
                return self.reply(rid, error=kerio_error(e.code, e.message, e.params))

    def login(self, rid, params):
        if params.get("userName") not in (USER, USER + "@" + DOMAIN) or params.get("password") != PASSWORD:
            return self.reply(rid, error=kerio_error(-32602 if VARIANT.get("login_code") is None else
                                                     VARIANT["login_code"], "Username or password is not correct."))
        # The token is opaque: any length (long_token: a 3000-character one).
        token = secrets.token_hex(1500 if VARIANT.get("long_token") else 16)
        if VARIANT.get("cookies") == "multi":
            jar = {"TOKEN_CONNECT_WEBMAIL": secrets.token_hex(8), "SESSION_CONNECT_WEBMAIL": secrets.token_hex(8)}
            hdrs = [("Set-Cookie", "TOKEN_CONNECT_WEBMAIL=%s; Path=/webmail/; Secure; HttpOnly; SameSite=Strict"
                     % jar["TOKEN_CONNECT_WEBMAIL"]),
                    ("Set-Cookie", "SESSION_CONNECT_WEBMAIL=%s; path=/; secure; HttpOnly" % jar["SESSION_CONNECT_WEBMAIL"]),
                    ("Set-Cookie", "lang=en; Path=/; Max-Age=86400")]
        else:
            jar = {"SESSION_CONNECT_WEBMAIL": secrets.token_hex(8)}
            hdrs = [("Set-Cookie", "SESSION_CONNECT_WEBMAIL=%s; path=/; secure; HttpOnly" % jar["SESSION_CONNECT_WEBMAIL"])]
        with LOCK:
            SESSIONS[token] = jar
            STATS["logins"] += 1
        return self.reply(rid, result={"token": token}, headers=hdrs)

    def reply(self, rid, result=None, error=None, headers=()):
        if VARIANT.get("id_as_string") and rid is not None:
            rid = str(rid)
        env = {"jsonrpc": "2.0", "id": rid}
        if error is not None:
            env["error"] = shape(error)
        else:
            env["result"] = shape(result)
        if VARIANT.get("reorder"):
            env = dict(reversed(list(env.items())))
        body = json.dumps(env, ensure_ascii=not VARIANT.get("utf8")).encode()
        status = 500 if error is not None and VARIANT.get("error_status") == "idl" else 200
        return self.send_body(status, body, headers=headers)

    def raw_fault(self, f):
        k = f["kind"]
        if k == "http500_json":
            self.send_body(500, json.dumps({"jsonrpc": "2.0", "id": 1, "error": kerio_error(-32603, "Internal error.")})
                           .encode())
        elif k == "http502_html":
            self.send_body(502, b"<html><head><title>502 Bad Gateway</title></head><body>Bad Gateway</body></html>",
                           "text/html")
        elif k == "http413":
            self.send_body(413, b"<html><body>Request Entity Too Large</body></html>", "text/html")
        elif k in ("http404", "http410"):
            self.send_body(int(k[4:]), b"<html><body>Not found</body></html>", "text/html")
        elif k == "http401":
            self.send_body(401, b"<html><body>Unauthorized</body></html>", "text/html")
        elif k == "http500_empty":
            self.send_body(500, b"", "text/plain")
        elif k == "html200":
            self.send_body(200, b"<!DOCTYPE html><html><body><h1>Kerio Connect</h1>Please log in.</body></html>",
                           "text/html")
        elif k == "redirect":
            self.send_body(302, b"<html><body>Moved</body></html>", "text/html",
                           [("Location", "https://mail.example.net/webmail/api/jsonrpc/")])
        elif k in ("cut", "cut_close", "cut_chunked", "empty_close", "short_json"):
            # cut: Content-Length of the whole reply, half of it sent, connection closed;
            # cut_close: no Content-Length (the end of the connection ends the reply), half
            # sent; cut_chunked: chunked, the last chunk never sent; empty_close: headers,
            # then the connection ends; short_json: a complete reply (Content-Length of what
            # is sent) holding half a JSON text, the connection kept.
            body = b'{"jsonrpc":"2.0","id":1,"result":{"list":[{"id":"' + b"x" * 5000 + b'"}]}}'
            half = body[:len(body) // 2] if k != "empty_close" else b""
            self.send_response(200)
            self.send_header("Content-Type", "application/json-rpc")
            if k == "cut":
                self.send_header("Content-Length", str(len(body)))
            elif k == "short_json":
                self.send_header("Content-Length", str(len(half)))
            elif k == "cut_chunked":
                self.send_header("Transfer-Encoding", "chunked")
            else:
                self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(b"%x\r\n%s\r\n" % (len(half), half) if k == "cut_chunked" else half)
            self.wfile.flush()
            self.close_connection = k != "short_json"
        else:
            return False
        return True


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--messages", type=int, default=12)
    a = ap.parse_args()
    inbox = STORE.folder("Inbox")["id"]
    for i in range(a.messages):
        STORE.create(inbox, {"subject": "message %d" % (i + 1)})
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(a.cert, a.key)
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    print("READY https://127.0.0.1:%d" % srv.server_address[1], flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    sys.exit(main())
