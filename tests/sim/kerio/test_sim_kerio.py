#!/usr/bin/env python3
"""Tests of outpost-sim-kerio (the Kerio Connect simulator): starts it on an ephemeral
127.0.0.1 port with a test CA, then checks the JSON-RPC API, the Changes journal, the control
endpoint, faults, the state file and clean shutdown. Standard library only; every wait is
bounded. Usage: test_sim_kerio.py --sim BIN --gen-certs SCRIPT --workdir DIR [--only GROUP]"""

import argparse
import base64
import http.client
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time

FAILS = []


def check(cond, what):
    if not cond:
        FAILS.append(what)
        print("FAIL:", what, flush=True)
    return cond


class Sim:
    """A running simulator process."""

    def __init__(self, args, extra=(), state_file=None):
        self.args = args
        cmd = [args.sim, "--cert", os.path.join(args.certs, "server.pem"),
               "--key", os.path.join(args.certs, "server.key"), "--quiet"] + list(extra)
        if state_file:
            cmd += ["--state-file", state_file]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()  # the simulator prints READY within a few seconds
        if not line.startswith("READY https://127.0.0.1:"):
            self.proc.kill()
            raise SystemExit("simulator did not start: %r %s" % (line, self.proc.stderr.read()))
        self.port = int(line.strip().rsplit(":", 1)[1])
        self.ctx = ssl.create_default_context(cafile=os.path.join(args.certs, "ca.pem"))

    def conn(self, timeout=30):
        return http.client.HTTPSConnection("127.0.0.1", self.port, context=self.ctx, timeout=timeout)

    def control(self, method, path, body=None):
        c = self.conn()
        c.request(method, "/_sim/" + path, body=json.dumps(body) if body is not None else None,
                  headers={"Content-Type": "application/json"})
        r = c.getresponse()
        data = r.read()
        c.close()
        return r.status, json.loads(data)

    def stop(self, sig=signal.SIGTERM, timeout=20):
        self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            print("simulator did not exit within %ds" % timeout)
            return None
        if rc != 0:
            print("simulator exited with %r; stderr:\n%s" % (rc, self.proc.stderr.read()[-6000:]))
        return rc


class Client:
    """A JSON-RPC client keeping one keep-alive connection, the cookie and the token."""

    def __init__(self, sim, timeout=30):
        self.sim = sim
        self.c = sim.conn(timeout)
        self.cookie = None
        self.token = None
        self.next_id = 1

    def raw(self, body, headers=None, path="/webmail/api/jsonrpc/"):
        h = {"Content-Type": "application/json-rpc; charset=UTF-8", "Accept": "application/json-rpc"}
        if self.cookie:
            h["Cookie"] = self.cookie
        if self.token:
            h["X-Token"] = self.token
        h.update(headers or {})
        self.c.request("POST", path, body=body, headers=h)
        r = self.c.getresponse()
        return r, r.read()

    def call_full(self, method, params=None, headers=None):
        req = {"jsonrpc": "2.0", "id": self.next_id, "method": method}
        self.next_id += 1
        if params is not None:
            req["params"] = params
        r, data = self.raw(json.dumps(req), headers)
        return r, json.loads(data)

    def call(self, method, params=None):
        r, j = self.call_full(method, params)
        if "error" in j:
            raise RuntimeError("%s: %s" % (method, j["error"]))
        return j["result"]

    def login(self, user="jdoe", password="secret"):
        r, j = self.call_full("Session.login", {"userName": user, "password": password,
                                                "application": {"name": "t", "vendor": "o", "version": "1"}})
        if "result" in j:
            self.token = j["result"]["token"]
            sc = r.getheader("Set-Cookie") or ""
            self.cookie = sc.split(";", 1)[0]
        return r, j

    def folders(self):
        return {f["name"]: f for f in self.call("Folders.get")["list"]}

    def get(self, url):
        h = {"Cookie": self.cookie or "", "X-Token": self.token or ""}
        self.c.request("GET", url, headers=h)
        r = self.c.getresponse()
        return r, r.read()


def error_code(j):
    return j.get("error", {}).get("code")


# ---------------------------------------------------------------------------------------------

def t_session(args):
    sim = Sim(args, ["--session-idle", "2"])
    try:
        c = Client(sim)
        r, j = c.login(password="wrong")
        check(error_code(j) == -32000, "wrong password gives -32000, got %r" % j)
        r, j = c.login(user="nobody")
        check("error" in j, "unknown user rejected")
        r, j = c.login()
        check("token" in j.get("result", {}), "login returns token")
        check(c.cookie and c.cookie.startswith("SESSION_CONNECT_WEBMAIL="), "login sets cookie")
        check(c.call("Session.whoAmI")["userDetails"]["loginName"] == "jdoe@example.com", "whoAmI")
        # full address works too
        c2 = Client(sim)
        r, j = c2.login(user="jdoe@example.com")
        check("result" in j, "login with address")
        # token without cookie / cookie without token / wrong token
        tok, cookie = c.token, c.cookie
        c.cookie = None
        check(error_code(c.call_full("Folders.get")[1]) == -32001, "no cookie -> -32001")
        c.cookie, c.token = cookie, None
        check(error_code(c.call_full("Folders.get")[1]) == -32001, "no X-Token -> -32001")
        c.token = "0" * 64
        check(error_code(c.call_full("Folders.get")[1]) == -32001, "wrong X-Token -> -32001")
        c.token = c2.token
        check(error_code(c.call_full("Folders.get")[1]) == -32001, "token of another session -> -32001")
        c.token = tok
        check("list" in c.call("Folders.get"), "both -> ok")
        # unknown method, malformed JSON, bad params
        check(error_code(c.call_full("Folders.noSuchMethod")[1]) == -32601, "unknown method -32601")
        r, data = c.raw("{not json")
        check(error_code(json.loads(data)) == -32700, "malformed JSON -32700")
        check(error_code(c.call_full("Mails.get", {"folderIds": "x"})[1]) == -32602, "bad params -32602")
        check(error_code(c.call_full("Mails.getById", {"ids": 5})[1]) == -32602, "bad ids -32602")
        # no trailing slash
        r, data = c.raw(json.dumps({"jsonrpc": "2.0", "id": 1, "method": "Session.whoAmI"}),
                        path="/webmail/api/jsonrpc")
        check("result" in json.loads(data), "endpoint without trailing slash")
        # idle expiry
        time.sleep(3.2)
        check(error_code(c.call_full("Folders.get")[1]) == -32001, "idle session expires")
        c.login()
        c.call("Session.logout")
        check(error_code(c.call_full("Folders.get")[1]) == -32001, "logout ends session")
        c.c.close()
        c2.c.close()
        # IDL status mapping
    finally:
        check(sim.stop() == 0, "clean exit on SIGTERM")
    sim = Sim(args, ["--error-status", "idl"])
    try:
        c = Client(sim)
        r, j = c.call_full("Folders.get")
        check(r.status == 500 and error_code(j) == -32001, "idl mode: -32001 with HTTP 500")
        c.login()
        r, j = c.call_full("Nope.nope")
        check(r.status == 404, "idl mode: -32601 with HTTP 404")
    finally:
        check(sim.stop() == 0, "clean exit (idl)")


def t_folders(args):
    sim = Sim(args)
    try:
        c = Client(sim)
        c.login()
        fs = c.folders()
        for name, typ, sub in [("Inbox", "FMail", "FSubInbox"), ("Sent Items", "FMail", "FSubSentItems"),
                               ("Drafts", "FMail", "FSubDrafts"), ("Deleted Items", "FMail", "FSubDeletedItems"),
                               ("Junk E-mail", "FMail", "FSubJunkEmail"), ("Calendar", "FCalendar", "FSubDefault"),
                               ("Contacts", "FContact", "FSubDefault"), ("Tasks", "FTask", "FSubDefault"),
                               ("Notes", "FNote", "FSubDefault"), ("Archive", "FMail", "FSubNone")]:
            check(name in fs and fs[name]["type"] == typ and fs[name]["subType"] == sub,
                  "folder %s %s %s" % (name, typ, sub))
        root = [f for f in fs.values() if f["type"] == "FRoot"]
        check(len(root) == 1 and root[0]["nestingLevel"] == 0, "one root")
        check(any("Ü" in n for n in fs) and any("🎉" in n for n in fs), "unicode folder names")
        inbox = fs["Inbox"]
        check(fs["Projekte – Überblick"]["parentId"] == inbox["id"], "Inbox subfolder parent")
        res = c.call("Folders.create", {"folders": [
            {"name": "Proj ✈", "type": "FMail", "parentId": inbox["id"]},
            {"name": "Proj ✈", "type": "FMail", "parentId": inbox["id"]},
            {"name": "Bad", "type": "FMail", "parentId": "keriostorage://folder/nope"},
            {"name": "Cal2", "type": "FCalendar", "parentId": root[0]["id"]}]})
        check(len(res["result"]) == 2 and [e["inputIndex"] for e in res["errors"]] == [1, 2],
              "Folders.create per-item errors with inputIndex: %r" % res)
        check(res["errors"][0]["code"] == 1001, "duplicate folder -> 1001")
        new_id = res["result"][0]["id"]
        res = c.call("Folders.set", {"folders": [{"id": new_id, "name": "Renamed ✓"},
                                                 {"id": inbox["id"], "name": "NotInbox"}]})
        check([e["inputIndex"] for e in res["errors"]] == [1] and res["errors"][0]["code"] == 1003,
              "cannot rename Inbox (1003)")
        check("Renamed ✓" in c.folders(), "rename applied")
        res = c.call("Folders.remove", {"ids": [inbox["id"], new_id], "recursive": True})
        check([e["inputIndex"] for e in res["errors"]] == [0], "cannot delete Inbox")
        check("Renamed ✓" not in c.folders(), "folder removed")
    finally:
        check(sim.stop() == 0, "clean exit")


LIST_FIELDS = ["id", "folderId", "watermark", "from", "to", "cc", "subject", "receiveDate", "sendDate",
               "isSeen", "isFlagged", "isAnswered", "isForwarded", "isDraft", "isJunk", "hasAttachment",
               "priority", "size"]


def t_mails(args):
    sim = Sim(args, ["--messages", "3000", "--seed", "7"])
    try:
        c = Client(sim)
        c.login()
        fs = c.folders()
        inbox = fs["Inbox"]
        res = c.call("Mails.get", {"folderIds": [inbox["id"]], "query": {"fields": LIST_FIELDS, "start": 0, "limit": 50,
                                   "orderBy": [{"columnName": "receiveDate", "direction": "Desc"}]}})
        check(res["totalItems"] == inbox["messageCount"], "totalItems = messageCount")
        check(len(res["list"]) == 50, "limit 50")
        dates = [m["receiveDate"] for m in res["list"]]
        check(dates == sorted(dates, reverse=True), "ordered by receiveDate desc")
        check(all(set(m) <= set(LIST_FIELDS) for m in res["list"]), "fields projection")
        # paging covers everything exactly once
        seen = set()
        start = 0
        while start < res["totalItems"] and start < 100000:
            page = c.call("Mails.get", {"folderIds": [inbox["id"]], "query": {"fields": ["id"], "start": start, "limit": 400}})
            seen.update(m["id"] for m in page["list"])
            start += 400
        check(len(seen) == inbox["messageCount"], "paging yields every id once")
        cnt = c.call("Mails.get", {"folderIds": [inbox["id"]], "query": {"start": 0, "limit": 0}})
        check(cnt["list"] == [] and cnt["totalItems"] == inbox["messageCount"], "limit 0 = count only")
        unread = c.call("Mails.get", {"folderIds": [inbox["id"]], "query": {"fields": ["id"], "limit": -1,
                        "conditions": [{"fieldName": "isSeen", "comparator": "Eq", "value": "false"}]}})
        check(unread["totalItems"] == inbox["messageUnread"], "condition isSeen=false = messageUnread")
        # full mail
        ids = [m["id"] for m in res["list"][:20]]
        full = c.call("Mails.getById", {"ids": ids + ["keriostorage://mail/example.com/jdoe/nope/1"]})
        check(len(full["result"]) == 20 and full["errors"][0]["inputIndex"] == 20 and
              full["errors"][0]["code"] == 1002, "getById per-item error")
        m = full["result"][0]
        for k in ["from", "to", "cc", "bcc", "sendDate", "receiveDate", "modifiedDate", "displayableParts",
                  "attachments", "headers", "isSeen", "isFlagged", "isAnswered", "isForwarded", "isDraft",
                  "isJunk", "size", "priority", "watermark"]:
            check(k in m, "full mail has " + k)
        check(m["displayableParts"] and m["displayableParts"][0]["contentType"] in ("ctTextPlain", "ctTextHtml"),
              "displayable parts")
        check(any(h["type"] == "mhMessageID" for h in m["headers"]), "Message-ID header")
        # find a threaded mail and an attachment across the whole account
        allmail = c.call("Mails.get", {"folderIds": [], "query": {"fields": ["id", "hasAttachment", "subject"], "limit": -1}})
        check(allmail["totalItems"] == 3000, "3000 mails generated")
        withatt = [x["id"] for x in allmail["list"] if x["hasAttachment"]]
        check(50 <= len(withatt) <= 300, "about 5%% with attachments (%d)" % len(withatt))
        replies = [x for x in allmail["list"] if x["subject"].startswith("Re: ")]
        check(len(replies) > 300, "threads present")
        full = c.call("Mails.getById", {"ids": [replies[0]["id"]]})["result"][0]
        check(any(h["type"] == "mhInReplayTo" for h in full["headers"]), "In-Reply-To header (mhInReplayTo)")
        check(any(ord(ch) > 127 for x in allmail["list"][:200] for ch in x["subject"]), "unicode subjects")
        a = c.call("Mails.getById", {"ids": [withatt[0]]})["result"][0]["attachments"][0]
        r, data = c.get(a["url"])
        check(r.status == 200 and len(data) == a["size"], "attachment download size %d" % len(data))
        r2, data2 = c.get(a["url"])
        check(data == data2, "attachment bytes deterministic")
        c.cookie, ck = None, c.cookie
        r, _ = c.get(a["url"])
        check(r.status != 200, "download needs the session")
        c.cookie = ck
        # sizes: median ~4 KiB
        sizes = sorted(x["size"] for x in c.call("Mails.get", {"folderIds": [], "query": {"fields": ["size"], "limit": -1}})["list"])
        med = sizes[len(sizes) // 2]
        check(3000 < med < 12000, "median size ~4 KiB+headers (%d)" % med)
        # set flags (partial) -> watermark grows
        before = c.call("Mails.getById", {"ids": [ids[0]]})["result"][0]
        s = c.call("Mails.set", {"mails": [{"id": ids[0], "isFlagged": not before["isFlagged"]},
                                           {"id": "keriostorage://mail/example.com/jdoe/x/1", "isSeen": True}]})
        check(s["result"][0]["watermark"] > before["watermark"] and s["result"][0]["id"] == "" and
              s["errors"][0]["inputIndex"] == 1, "Mails.set result/errors")
        after = c.call("Mails.getById", {"ids": [ids[0]]})["result"][0]
        check(after["isFlagged"] != before["isFlagged"] and after["subject"] == before["subject"], "partial set")
        # move gives a new id; old id is gone
        arch = fs["Archive"]
        mv = c.call("Mails.move", {"ids": [ids[1]], "folder": arch["id"]})
        nid = mv["result"][0]["id"]
        check(nid != ids[1] and arch["id"].rsplit("/", 1)[1] in nid, "move -> new id in target folder")
        g = c.call("Mails.getById", {"ids": [ids[1], nid]})
        check(len(g["result"]) == 1 and g["errors"][0]["inputIndex"] == 0, "old id gone after move")
        cp = c.call("Mails.copy", {"ids": [nid], "folder": inbox["id"]})
        check(cp["result"][0]["id"] not in (nid, ids[1]), "copy -> new id")
        # remove = permanent
        rm = c.call("Mails.remove", {"ids": [cp["result"][0]["id"], "bogus"]})
        check([e["inputIndex"] for e in rm["errors"]] == [1], "remove per-item error")
        # upload + create draft + send
        up = upload(c, "r€port.txt", b"hello \xe2\x82\xac attachment\n")
        check(up and up.get("id"), "upload returns fileUpload.id")
        cr = c.call("Mails.create", {"mails": [{"from": {"address": "jdoe@example.com"}, "to": [{"address": "jdoe@example.com", "name": "Me"}],
                                                "subject": "Draft ✍", "displayableParts": [{"contentType": "ctTextPlain", "content": "Body ü"}],
                                                "attachments": [{"id": up["id"], "name": "r€port.txt", "contentType": "text/plain"}]}]})
        did = cr["result"][0]["id"]
        d = c.call("Mails.getById", {"ids": [did]})["result"][0]
        check(d["folderId"] == fs["Drafts"]["id"] and d["isDraft"] and d["attachments"][0]["size"] == 21 and
              d["to"][0] == {"name": "Me", "address": "jdoe@example.com", "contactId": ""}, "draft created: %r" % d)
        r, data = c.get(d["attachments"][0]["url"])
        check(data == b"hello \xe2\x82\xac attachment\n", "uploaded attachment round trip")
        fs = c.folders()
        sent = c.call("Mails.set", {"mails": [{"id": did, "send": True}]})
        check(sent["result"][0]["id"] and sent["result"][0]["id"] != did, "send from draft -> new id")
        fs2 = c.folders()
        check(fs2["Sent Items"]["messageCount"] == fs["Sent Items"]["messageCount"] + 1, "copy in Sent Items")
        check(fs2["Inbox"]["messageCount"] == fs["Inbox"]["messageCount"] + 1, "self-addressed mail delivered")
        check(fs2["Drafts"]["messageCount"] == fs["Drafts"]["messageCount"] - 1, "sent draft leaves Drafts")
        s2 = c.call("Mails.create", {"mails": [{"to": [{"address": "bob@example.org"}], "subject": "direct", "send": True},
                                               {"subject": "no rcpt", "send": True}]})
        check(len(s2["result"]) == 1 and s2["errors"][0]["code"] == 4103, "send without recipients -> 4103")
        # raw upload body with Content-Description
        r, resp = c.raw(b"raw bytes \x00\x01", {"Content-Type": "application/octet-stream",
                                               "Content-Description": "raw.bin"},
                        path="/webmail/api/jsonrpc/attachment-upload")
        fu = json.loads(resp).get("result", {}).get("fileUpload", {})
        check(fu.get("name") == "raw.bin" and fu.get("id"), "raw upload")
        c.token, tk = None, c.token
        r, resp = c.raw(b"x", {"Content-Type": "text/plain"}, path="/webmail/api/jsonrpc/attachment-upload/")
        check(error_code(json.loads(resp)) == -32001, "upload needs X-Token")
        c.token = tk
        # QUICKSEARCH
        q = c.call("Mails.get", {"folderIds": [], "query": {"fields": ["subject"], "limit": -1,
                   "conditions": [{"fieldName": "QUICKSEARCH", "comparator": "Like", "value": "direct"}]}})
        check(q["totalItems"] >= 1 and all("direct" in x["subject"].lower() for x in q["list"][:1]), "QUICKSEARCH")
    finally:
        check(sim.stop() == 0, "clean exit")


def upload(c, name, data):
    boundary = "----outpostsimtest"
    body = ("--%s\r\nContent-Disposition: form-data; name=\"file\"; filename=\"%s\"\r\nContent-Type: text/plain\r\n\r\n"
            % (boundary, name)).encode() + data + ("\r\n--%s--\r\n" % boundary).encode()
    r, resp = c.raw(body, {"Content-Type": "multipart/form-data; boundary=" + boundary},
                    path="/webmail/api/jsonrpc/attachment-upload/")
    j = json.loads(resp)
    return j.get("result", {}).get("fileUpload")


def t_calendar(args):
    sim = Sim(args, ["--events", "300"])
    try:
        c = Client(sim)
        c.login()
        fs = c.folders()
        cal = fs["Calendar"]
        ev = c.call("Events.get", {"ids": [cal["id"]], "query": {"limit": -1}})
        check(ev["totalItems"] == cal["messageCount"], "Events.get lists the calendar")
        rec = [e for e in ev["list"] if e["rule"]["isSet"]]
        check(len(rec) > 20, "recurring events present")
        occ = c.call("Occurrences.get", {"folderIds": [cal["id"]], "query": {"limit": -1, "conditions": [
            {"fieldName": "start", "comparator": "GreaterEq", "value": "20230101T000000Z"},
            {"fieldName": "end", "comparator": "LessThan", "value": "20270101T000000Z"}]}})
        check(occ["totalItems"] > ev["totalItems"], "occurrences expand recurring events")
        exc = [o for o in occ["list"] if o["isException"]]
        check(len(exc) > 0 and all("verschoben" in o["summary"] for o in exc), "exceptions (moved instances)")
        check(all("rule" not in o for o in occ["list"][:10]), "rule not filled in listing")
        one = c.call("Occurrences.getById", {"ids": [occ["list"][0]["id"]]})
        check(len(one["result"]) == 1 and "rule" in one["result"][0], "Occurrences.getById")
        # create a weekly event, delete one instance, modify another
        cr = c.call("Events.create", {"events": [{"folderId": cal["id"], "summary": "Jour fixe ☕", "start": "20250602T090000Z",
                                                  "end": "20250602T100000Z", "rule": {"isSet": True, "frequency": "Weekly",
                                                  "endBy": {"type": "ByRecurrenceDate", "date": "20250630T235959Z"},
                                                  "preciseBy": {"byInterval": 1}}},
                                                 {"summary": "no folder", "start": "20250602T090000Z"}]})
        check(len(cr["result"]) == 1 and cr["errors"][0]["inputIndex"] == 1, "Events.create needs folderId")
        eid = cr["result"][0]["id"]
        e1 = c.call("Events.getById", {"id": eid})["result"]
        check(e1["summary"] == "Jour fixe ☕", "Events.getById {id}")

        def mine():
            o = c.call("Occurrences.get", {"folderIds": [cal["id"]], "query": {"limit": -1, "conditions": [
                {"fieldName": "start", "comparator": "GreaterEq", "value": "20250601T000000Z"},
                {"fieldName": "end", "comparator": "LessThan", "value": "20250701T000000Z"}]}})
            return [x for x in o["list"] if x["eventId"] == eid]
        o = mine()
        check(len(o) == 5, "weekly June 2025 = 5 instances (%d)" % len(o))
        c.call("Occurrences.remove", {"occurrences": [{"id": o[1]["id"], "modification": "modifyThis"}]})
        c.call("Occurrences.set", {"occurrences": [{"id": o[2]["id"], "modification": "modifyThis", "summary": "Moved",
                                                    "start": "20250616T130000Z", "end": "20250616T140000Z"}]})
        o2 = mine()
        check(len(o2) == 4 and any(x["isException"] and x["summary"] == "Moved" and x["start"] == "20250616T130000Z" for x in o2),
              "occurrence exceptions written by client")
        rm = c.call("Events.remove", {"ids": [eid, "keriostorage://event/x/y/z/1"]})
        check([e["inputIndex"] for e in rm["errors"]] == [1] and mine() == [], "Events.remove")
    finally:
        check(sim.stop() == 0, "clean exit")


def t_pim(args):
    sim = Sim(args, ["--contacts", "80", "--tasks", "15", "--notes", "12"])
    try:
        c = Client(sim)
        c.login()
        fs = c.folders()
        for iface, folder, key, obj, field in [
                ("Contacts", "Contacts", "contacts", {"commonName": "Zoë Test", "firstName": "Zoë", "surName": "Test",
                  "emailAddresses": [{"address": "zoe@example.org", "type": "EmailWork", "preferred": True}]}, "commonName"),
                ("Tasks", "Tasks", "tasks", {"summary": "Task ✓", "status": "tsInProgress", "done": 50}, "summary"),
                ("Notes", "Notes", "notes", {"text": "Note 📝", "color": "Blue"}, "text")]:
            f = fs[folder]
            lst = c.call(iface + ".get", {"folderIds": [f["id"]], "query": {"limit": -1}})
            check(lst["totalItems"] == f["messageCount"] and lst["totalItems"] > 0, iface + ".get")
            ob = dict(obj, folderId=f["id"])
            cr = c.call(iface + ".create", {key: [ob, {"folderId": "keriostorage://folder/bad"}]})
            check(len(cr["result"]) == 1 and cr["errors"][0]["inputIndex"] == 1, iface + ".create per-item error")
            nid = cr["result"][0]["id"]
            got = c.call(iface + ".getById", {"ids": [nid]})["result"][0]
            check(got[field] == obj[field], iface + ".getById round trip")
            st = c.call(iface + ".set", {key: [{"id": nid, field: obj[field] + " (edited)"}]})
            check(st["result"][0]["watermark"] > cr["result"][0]["watermark"], iface + ".set bumps watermark")
            got = c.call(iface + ".getById", {"ids": [nid]})["result"][0]
            check(got[field].endswith("(edited)"), iface + ".set applied")
            rm = c.call(iface + ".remove", {"ids": [nid]})
            check(rm["errors"] == [], iface + ".remove")
        con = c.call("Contacts.get", {"folderIds": [], "query": {"limit": -1}})["list"]
        check(any(ord(ch) > 127 for x in con for ch in x["commonName"]), "unicode contact names")
    finally:
        check(sim.stop() == 0, "clean exit")


def t_changes(args):
    sim = Sim(args, ["--messages", "200"])
    try:
        c = Client(sim)
        c.login()
        fs = c.folders()
        inbox, arch = fs["Inbox"], fs["Archive"]
        k0 = c.call("Changes.getFolderSyncKey", {"folderId": inbox["id"]})["syncKey"]
        ch = c.call("Changes.getFolder", {"folderId": inbox["id"], "lastSyncKey": k0})
        check(ch["list"] == [] and ch["syncKey"] == k0, "no changes yet")
        # server-side new mail via control
        st, r = sim.control("POST", "items/create", {"type": "mail", "folder": "Inbox",
                                                     "item": {"subject": "Neue Nachricht ✉", "from": {"name": "Zoë", "address": "zoe@example.se"},
                                                              "to": [{"address": "jdoe@example.com"}],
                                                              "displayableParts": [{"contentType": "ctTextPlain", "content": "Hallo"}]}})
        check(st == 200 and r["watermark"] > k0, "control: new mail")
        new_id = r["id"]
        ch = c.call("Changes.getFolder", {"folderId": inbox["id"], "lastSyncKey": k0})
        types = [(x["type"], x["isFolder"]) for x in ch["list"]]
        check(("chtCreated", False) in types and ch["syncKey"] >= r["watermark"], "chtCreated seen: %r" % types)
        cr = [x for x in ch["list"] if x["type"] == "chtCreated"][0]
        check(cr["itemId"] == new_id and cr["itemType"] == "itMail" and cr["parentId"] == inbox["id"], "Change fields")
        m = c.call("Mails.getById", {"ids": [new_id]})["result"][0]
        check(m["watermark"] == cr["watermark"], "item watermark = change watermark")
        k1 = ch["syncKey"]
        # flag change by client, move by control, delete by control
        c.call("Mails.set", {"mails": [{"id": new_id, "isSeen": True}]})
        st, mv = sim.control("POST", "items/move", {"id": new_id, "folder": "Archive"})
        ch = c.call("Changes.getFolder", {"folderId": inbox["id"], "lastSyncKey": k1})
        types = [x["type"] for x in ch["list"] if not x["isFolder"]]
        check(types == ["chtReadFlagChanged", "chtMoved"], "read flag + move in source folder: %r" % types)
        moved = [x for x in ch["list"] if x["type"] == "chtMoved"][0]
        check(moved["origId"] == new_id and moved["itemId"] == mv["id"] and moved["parentId"] == arch["id"] and
              moved["origParentId"] == inbox["id"], "chtMoved has origId/origParentId")
        cha = c.call("Changes.getFolder", {"folderId": arch["id"], "lastSyncKey": k1})
        check(any(x["type"] == "chtMoved" for x in cha["list"]), "move visible in target folder")
        wms = [x["watermark"] for x in ch["list"]]
        check(wms == sorted(wms) and len(set(wms)) == len(wms), "watermarks strictly increase")
        k2 = ch["syncKey"]
        sim.control("POST", "items/remove", {"id": mv["id"]})
        cha = c.call("Changes.getFolder", {"folderId": arch["id"], "lastSyncKey": k2})
        check([x["type"] for x in cha["list"] if not x["isFolder"]] == ["chtDeleted"], "chtDeleted")
        # folder changes
        st, nf = sim.control("POST", "folders/create", {"parent": "Inbox", "name": "Server-made ✓"})
        st, _ = sim.control("POST", "folders/set", {"id": nf["id"], "name": "Renamed on server"})
        ch = c.call("Changes.getFolder", {"folderId": inbox["id"], "lastSyncKey": k2})
        ft = [x["type"] for x in ch["list"] if x["isFolder"] and x["itemId"] == nf["id"]]
        check(ft == ["chtCreated", "chtModified"], "folder create/rename changes: %r" % ft)
        # each kind through control
        for typ, folder in [("event", "Calendar"), ("contact", "Contacts"), ("task", "Tasks"), ("note", "Notes")]:
            item = {"summary": "X", "start": "20250601T100000Z", "end": "20250601T110000Z"} if typ == "event" else {}
            kf = c.call("Changes.getFolderSyncKey", {"folderId": fs[folder]["id"]})["syncKey"]
            st, r = sim.control("POST", "items/create", {"type": typ, "folder": folder, "item": item})
            st2, _ = sim.control("POST", "items/set", {"id": r.get("id"), "item": {"summary": "Y"} if typ in ("event", "task")
                                                       else {"text": "Y"} if typ == "note" else {"commonName": "Y"}})
            st3, _ = sim.control("POST", "items/remove", {"id": r.get("id")})
            ch = c.call("Changes.getFolder", {"folderId": fs[folder]["id"], "lastSyncKey": kf})
            check(st == st2 == st3 == 200 and [x["type"] for x in ch["list"]] == ["chtCreated", "chtModified", "chtDeleted"],
                  "%s create/edit/delete via control -> journal (%r)" % (typ, [x["type"] for x in ch["list"]]))
        # expired keys
        check(error_code(c.call_full("Changes.getFolder", {"folderId": inbox["id"], "lastSyncKey": 1})[1]) == 1000,
              "key before journal start -> 1000")
        check(error_code(c.call_full("Changes.getFolder", {"folderId": inbox["id"], "lastSyncKey": 10 ** 12})[1]) == 1000,
              "key from the future -> 1000")
        # long poll: wakes on change
        sk = c.call("Changes.getSyncKey")["syncKey"]
        c2 = Client(sim, timeout=20)
        c2.cookie, c2.token = c.cookie, c.token
        t0 = time.time()
        r = c2.call("Changes.get", {"lastSyncKey": sk, "timeout": 1})
        check(r["list"] == [] and 0.8 < time.time() - t0 < 5, "Changes.get times out empty")
        import threading
        out = {}

        def poll():
            out["r"] = c2.call("Changes.get", {"lastSyncKey": sk, "timeout": 15})
        th = threading.Thread(target=poll)
        t0 = time.time()
        th.start()
        time.sleep(0.5)
        sim.control("POST", "items/create", {"type": "mail", "folder": "Inbox", "item": {"subject": "wake"}})
        th.join(20)
        check("r" in out and out["r"]["list"] and time.time() - t0 < 10, "long-poll wakes on new mail")
        check(out.get("r", {}).get("syncKey", {}).get("watermark", 0) > sk["watermark"], "new SyncKey")
        # killRequest ends a waiting long-poll early
        sk = c.call("Changes.getSyncKey")["syncKey"]
        out = {}
        th = threading.Thread(target=poll)
        t0 = time.time()
        th.start()
        time.sleep(0.5)
        c.call("Changes.killRequest", {"lastSyncKey": sk})
        th.join(20)
        check("r" in out and out["r"]["list"] == [] and time.time() - t0 < 5, "killRequest ends the long-poll")
        sim.control("POST", "journal/truncate", {})
        check(error_code(c.call_full("Changes.getFolder", {"folderId": inbox["id"], "lastSyncKey": k0})[1]) == 1000,
              "truncated journal expires old keys")
    finally:
        check(sim.stop() == 0, "clean exit")


def t_control(args):
    sim = Sim(args, ["--messages", "50", "--events", "10", "--contacts", "5", "--tasks", "3", "--notes", "2"])
    try:
        st, info = sim.control("GET", "info")
        check(st == 200 and info["user"] == "jdoe@example.com" and "Inbox" in info["folders"], "info")
        st, state = sim.control("GET", "state")
        n = sum(len(f["items"]) for f in state["folders"])
        check(n == 50 + 10 + 5 + 3 + 2, "state dump has every item (%d)" % n)
        mails = [i for f in state["folders"] if f["type"] == "FMail" for i in f["items"]]
        check(all("displayableParts" in m for m in mails), "state dump includes content")
        evs = [i for f in state["folders"] if f["type"] == "FCalendar" for i in f["items"]]
        check(all("exceptions" in e for e in evs), "events carry exceptions in dump")
        st, s0 = sim.control("GET", "state?content=0")
        check(all("displayableParts" not in i for f in s0["folders"] for i in f["items"]), "content=0")
        c = Client(sim)
        c.login()
        fs = c.folders()
        # The API's fast mail writer and the state dump's jansson path must agree exactly.
        by_id = {m["id"]: m for m in mails}
        got = c.call("Mails.getById", {"ids": list(by_id)})["result"]
        check(len(got) == len(by_id) and all(g == by_id[g["id"]] for g in got),
              "Mails.getById equals the state dump for every mail")
        lst = c.call("Mails.get", {"folderIds": [], "query": {"limit": -1}})["list"]
        check(all(m == {k: v for k, v in by_id[m["id"]].items() if k != "displayableParts"} for m in lst),
              "Mails.get (all fields) equals the state dump minus bodies")
        ids = [m["id"] for m in c.call("Mails.get", {"folderIds": [fs["Inbox"]["id"]], "query": {"limit": 5}})["list"]]
        sim.control("POST", "counters/reset", {})
        c.call("Mails.set", {"mails": [{"id": i, "isFlagged": True} for i in ids]})
        c.call("Mails.set", {"mails": [{"id": ids[0], "isSeen": True}]})
        c.call("Mails.get", {"folderIds": [fs["Inbox"]["id"]], "query": {"limit": 1}})
        st, cnt = sim.control("GET", "counters")
        check(cnt["calls"].get("Mails.set") == 2 and cnt["items"].get("Mails.set") == 6 and "Mails.get" not in cnt["calls"],
              "write counters: %r" % cnt)
        st, r = sim.control("POST", "items/set", {"id": ids[1], "item": {"isFlagged": False, "subject": "Server edit"}})
        got = c.call("Mails.getById", {"ids": [ids[1]]})["result"][0]
        check(st == 200 and got["subject"] == "Server edit" and not got["isFlagged"], "control edit")
        st, r = sim.control("POST", "folders/remove", {"path": "Inbox"})
        check(st == 400, "control refuses to delete Inbox")
        st, r = sim.control("POST", "items/create", {"type": "mail", "folder": "Nope/Nope", "item": {}})
        check(st == 404, "control: unknown folder path -> 404")
        st, r = sim.control("POST", "nope", {})
        check(st == 404, "control: unknown call -> 404")
    finally:
        check(sim.stop() == 0, "clean exit")


def t_faults(args):
    sim = Sim(args, ["--messages", "30"])
    try:
        c = Client(sim, timeout=10)
        c.login()
        fs = c.folders()
        inbox = fs["Inbox"]["id"]
        # http 500, once
        sim.control("POST", "faults", {"kind": "http500", "method": "Folders.get"})
        r, data = c.raw(json.dumps({"jsonrpc": "2.0", "id": 1, "method": "Folders.get"}))
        check(r.status == 500, "http500 fault")
        check("list" in c.call("Folders.get"), "http500 is one-shot")
        # busy for next 2 calls
        sim.control("POST", "faults", {"kind": "busy", "method": "Mails.*", "count": 2})
        codes = [error_code(c.call_full("Mails.get", {"folderIds": [inbox]})[1]) for _ in range(3)]
        check(codes == [4101, 4101, None], "busy x2 then ok: %r" % codes)
        # delay
        sim.control("POST", "faults", {"kind": "delay", "delay_ms": 700, "method": "Folders.get"})
        t0 = time.time()
        c.call("Folders.get")
        check(time.time() - t0 >= 0.6, "delay fault")
        # malformed
        sim.control("POST", "faults", {"kind": "malformed", "method": "Folders.get"})
        r, data = c.raw(json.dumps({"jsonrpc": "2.0", "id": 1, "method": "Folders.get"}))
        try:
            json.loads(data)
            check(False, "malformed fault gives unparseable JSON")
        except ValueError:
            pass
        # drop after execution: the write happened
        ids = [m["id"] for m in c.call("Mails.get", {"folderIds": [inbox], "query": {"limit": 1}})["list"]]
        sim.control("POST", "counters/reset", {})
        sim.control("POST", "faults", {"kind": "drop", "method": "Mails.set"})
        try:
            c.raw(json.dumps({"jsonrpc": "2.0", "id": 1, "method": "Mails.set", "params": {"mails": [{"id": ids[0], "isFlagged": True}]}}))
            check(False, "drop fault cuts the reply")
        except (http.client.HTTPException, OSError):
            pass
        c.c.close()
        c.c = sim.conn(10)
        st, cnt = sim.control("GET", "counters")
        check(cnt["calls"].get("Mails.set") == 1, "dropped write was applied once")
        check(c.call("Mails.getById", {"ids": ids})["result"][0]["isFlagged"], "dropped write visible")
        # drop before: nothing applied
        sim.control("POST", "faults", {"kind": "drop_before", "method": "Mails.set"})
        try:
            c.raw(json.dumps({"jsonrpc": "2.0", "id": 1, "method": "Mails.set", "params": {"mails": [{"id": ids[0], "isFlagged": False}]}}))
            check(False, "drop_before closes the connection")
        except (http.client.HTTPException, OSError):
            pass
        c.c.close()
        c.c = sim.conn(10)
        check(c.call("Mails.getById", {"ids": ids})["result"][0]["isFlagged"], "drop_before applied nothing")
        # session expiry fault
        sim.control("POST", "faults", {"kind": "session_expired", "method": "Folders.get"})
        check(error_code(c.call_full("Folders.get")[1]) == -32001, "session_expired fault")
        c.login()
        # sync key expired
        k = c.call("Changes.getFolderSyncKey", {"folderId": inbox})["syncKey"]
        sim.control("POST", "faults", {"kind": "sync_key_expired"})
        check(error_code(c.call_full("Changes.getFolder", {"folderId": inbox, "lastSyncKey": k})[1]) == 1000, "sync_key_expired fault")
        check("list" in c.call("Changes.getFolder", {"folderId": inbox, "lastSyncKey": k}), "sync_key_expired one-shot")
        # offline for 1.5 s: API refused, control still answers
        sim.control("POST", "faults", {"kind": "offline", "seconds": 1.5})
        c.c.close()
        c.c = sim.conn(5)
        try:
            c.call("Folders.get")
            check(False, "offline drops API requests")
        except (http.client.HTTPException, OSError):
            pass
        st, _ = sim.control("GET", "info")
        check(st == 200, "control reachable while offline")
        time.sleep(1.7)
        c.c.close()
        c.c = sim.conn(5)
        check("list" in c.call("Folders.get"), "back online after the duration")
        st, fl = sim.control("GET", "faults")
        check(fl["faults"] == [], "all faults consumed")
        st, _ = sim.control("POST", "faults", {"kind": "nope"})
        check(st == 400, "unknown fault kind -> 400")
    finally:
        check(sim.stop() == 0, "clean exit")


def t_state(args):
    path = os.path.join(args.workdir, "state.json")
    if os.path.exists(path):
        os.unlink(path)
    sim = Sim(args, ["--messages", "100", "--seed", "42"], state_file=path)
    try:
        c = Client(sim)
        c.login()
        fs = c.folders()
        st, r = sim.control("POST", "items/create", {"type": "mail", "folder": "Inbox", "item": {"subject": "persist me ✓"}})
        up = upload(c, "a.bin", bytes(range(256)))
        cr = c.call("Mails.create", {"mails": [{"subject": "with blob", "attachments": [{"id": up["id"], "name": "a.bin"}]}]})
        c.call("Folders.create", {"folders": [{"name": "Kept 📁", "type": "FMail", "parentId": fs["Inbox"]["id"]}]})
        ids = [m["id"] for m in c.call("Mails.get", {"folderIds": [fs["Inbox"]["id"]], "query": {"limit": 3}})["list"]]
        c.call("Mails.set", {"mails": [{"id": ids[0], "isFlagged": True, "isSeen": False}]})
        k = c.call("Changes.getFolderSyncKey", {"folderId": fs["Inbox"]["id"]})["syncKey"]
        st, s1 = sim.control("GET", "state")
        st, saved = sim.control("POST", "save", {})
        check(st == 200 and os.path.exists(path), "control save")
        st, late = sim.control("POST", "items/create", {"type": "note", "item": {"text": "after save"}})
    finally:
        check(sim.stop() == 0, "clean exit")
    sim = Sim(args, ["--messages", "5", "--seed", "1"], state_file=path)  # state wins over options
    try:
        st, s2 = sim.control("GET", "state")
        notes = [i for f in s2["folders"] if f["type"] == "FNote" for i in f["items"]]
        check(any(n["id"] == late["id"] and n["text"] == "after save" for n in notes), "SIGTERM saved the state")
        sim.control("POST", "items/remove", {"id": late["id"]})
        st, s2 = sim.control("GET", "state")
        for s in (s1, s2):
            s.pop("watermark")
        check(s1 == s2, "state identical after restart")
        c = Client(sim)
        c.login()
        ch = c.call("Changes.getFolder", {"folderId": c.folders()["Inbox"]["id"], "lastSyncKey": k})
        check(ch["list"] == [] and ch["syncKey"] > k, "sync key still valid after restart")
        m = c.call("Mails.getById", {"ids": [cr["result"][0]["id"]]})["result"][0]
        r, data = c.get(m["attachments"][0]["url"])
        check(data == bytes(range(256)), "uploaded blob survives restart")
    finally:
        check(sim.stop() == 0, "clean exit after reload")


def t_places(args):
    # Without --shared: no other places, the own listing unchanged.
    sim = Sim(args)
    try:
        c = Client(sim)
        c.login()
        check(c.call("Folders.getPublic") == {"list": []}, "no public folders by default")
        check(c.call("Folders.getSubscribed") == {"list": []}, "no subscribed folders by default")
        check(c.call("Folders.getSharedMailboxList") == {"mailboxes": []}, "no shared mailboxes by default")
    finally:
        check(sim.stop() == 0, "clean exit")
    state = os.path.join(args.workdir, "places.json")
    if os.path.exists(state):
        os.remove(state)
    sim = Sim(args, ["--shared", "--messages", "5"], state_file=state)
    try:
        c = Client(sim)
        c.login()
        own = c.call("Folders.get")["list"]
        check(all(f["placeType"] == "FPlaceMailbox" for f in own), "Folders.get: the own mailbox only")
        check(len([f for f in own if f["subType"] == "FSubInbox"]) == 1, "one Inbox in Folders.get")
        pub = c.call("Folders.getPublic")["list"]
        check(all(f["placeType"] == "FPlacePublic" and f["ownerName"] == "" for f in pub), "public placeType")
        byname = {f["name"]: f for f in pub}
        check(byname["Public"]["type"] == "FRoot" and byname["Announcements"]["access"] == "FAccessReadOnly"
              and byname["Team Board"]["access"] == "FAccessReadWrite", "public folders: %r" % pub)
        check(byname["Announcements"]["parentId"] == byname["Public"]["id"], "public parent is the public root")
        boxes = c.call("Folders.getSubscribed")["list"]
        check(len(boxes) == 1, "one subscribed mailbox")
        mb = boxes[0]
        check(mb["principal"]["displayName"] == "Ann Smith" and mb["isLoaded"] is True, "SharedMailbox: %r" % mb)
        fs = {f["name"]: f for f in mb["folders"]}
        check(set(fs) == {"Inbox", "Projects"}, "subscribed folders: %r" % sorted(fs))
        check(sorted(mb["subscribedFolderIds"]) == sorted(f["id"] for f in mb["folders"]), "subscribedFolderIds")
        check(all(f["placeType"] == "FPlacePeople" and f["ownerName"] == "Ann Smith"
                  and f["emailAddress"] == "ann@example.com" and "/ann/" in f["id"] for f in mb["folders"]),
              "people folders: placeType, ownerName, emailAddress, ids")
        check(fs["Inbox"]["parentId"] == mb["mailboxId"], "mailboxId is the root folder id")
        # Items read as in the own mailbox; writes follow the access.
        ro = c.call("Mails.get", {"folderIds": [fs["Inbox"]["id"]], "query": {"start": 0, "limit": -1}})["list"]
        rw = c.call("Mails.get", {"folderIds": [fs["Projects"]["id"]], "query": {"start": 0, "limit": -1}})["list"]
        check(len(ro) == 3 and len(rw) == 3 and "/ann/" in ro[0]["id"], "three mails each")
        got = c.call("Mails.getById", {"ids": [ro[0]["id"]]})
        check(len(got["result"]) == 1 and not got["errors"], "getById in a shared folder")
        res = c.call("Mails.set", {"mails": [{"id": ro[0]["id"], "isFlagged": True}]})
        check(res["errors"] and res["errors"][0]["code"] == 1004, "read-only folder: 1004 %r" % res)
        res = c.call("Mails.remove", {"ids": [ro[0]["id"]]})
        check(res["errors"] and res["errors"][0]["code"] == 1004, "read-only folder: remove 1004")
        res = c.call("Mails.set", {"mails": [{"id": rw[0]["id"], "isFlagged": True}]})
        check(not res["errors"], "read-write folder takes a flag")
        res = c.call("Folders.create", {"folders": [{"name": "X", "type": "FMail", "parentId": fs["Projects"]["id"]}]})
        check(res["errors"] and res["errors"][0]["code"] == 1004, "no subfolder without FAccessAdmin")
        key = c.call("Changes.getFolderSyncKey", {"folderId": fs["Projects"]["id"]})["syncKey"]
        st, _ = sim.control("POST", "items/create", {"type": "mail", "folderId": fs["Projects"]["id"],
                                                     "item": {"subject": "new"}})
        ch = c.call("Changes.getFolder", {"folderId": fs["Projects"]["id"], "lastSyncKey": key})["list"]
        check(st == 200 and [x["type"] for x in ch if not x["isFolder"] and "/ann/" in x["itemId"]] == ["chtCreated"],
              "changes of a shared folder: %r" % ch)
        # Unsubscribe: gone from getSubscribed, still in getSharedMailboxList.
        st, _ = sim.control("POST", "folders/subscribe", {"id": fs["Projects"]["id"], "subscribed": False})
        check(st == 200, "folders/subscribe")
        names = [f["name"] for f in c.call("Folders.getSubscribed")["list"][0]["folders"]]
        check(names == ["Inbox"], "unsubscribed folder left out: %r" % names)
        all_f = c.call("Folders.getSharedMailboxList")["mailboxes"][0]["folders"]
        check("Projects" in [f["name"] for f in all_f], "getSharedMailboxList still lists it")
    finally:
        check(sim.stop() == 0, "clean exit")
    # The state file keeps the places.
    sim = Sim(args, ["--shared"], state_file=state)
    try:
        c = Client(sim)
        c.login()
        boxes = c.call("Folders.getSubscribed")["list"]
        check([f["name"] for f in boxes[0]["folders"]] == ["Inbox"], "subscription kept in the state file")
        check(len(c.call("Folders.getPublic")["list"]) == 3, "public folders kept in the state file")
    finally:
        check(sim.stop() == 0, "clean exit")


def t_perf(args):
    t0 = time.time()
    sim = Sim(args, ["--messages", "100000"])
    startup = time.time() - t0
    try:
        check(startup < 20, "100k-message account starts in %.2fs" % startup)
        c = Client(sim)
        c.login()
        inbox = c.folders()["Inbox"]
        t0 = time.time()
        n = 0
        start = 0
        while start < 6000:
            page = c.call("Mails.get", {"folderIds": [inbox["id"]], "query": {"fields": LIST_FIELDS, "start": start, "limit": 500,
                                        "orderBy": [{"columnName": "receiveDate", "direction": "Desc"}]}})
            ids = [m["id"] for m in page["list"]]
            for i in range(0, len(ids), 50):
                n += len(c.call("Mails.getById", {"ids": ids[i:i + 50]})["result"])
            start += 500
        dt = time.time() - t0
        print("perf: %d messages listed + fetched in %.2fs = %.0f msg/s (python client)" % (n, dt, n / dt))
        # The python client is the bottleneck here (see bench.c for the real rate); the bound is
        # loose so sanitizer builds pass, yet an O(n) regression per request still fails it.
        check(n == 6000 and n / dt > 300, "serving rate with a python client > 300 msg/s (%.0f)" % (n / dt))
    finally:
        check(sim.stop() == 0, "clean exit")


GROUPS = {"session": t_session, "folders": t_folders, "mails": t_mails, "calendar": t_calendar, "pim": t_pim,
          "changes": t_changes, "control": t_control, "faults": t_faults, "state": t_state, "places": t_places,
          "perf": t_perf}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sim", required=True)
    ap.add_argument("--gen-certs", required=True)
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--only", default="all")
    args = ap.parse_args()
    os.makedirs(args.workdir, exist_ok=True)
    args.certs = os.path.join(args.workdir, "certs")
    subprocess.run(["sh", args.gen_certs, args.certs], check=True, timeout=120)
    socket.setdefaulttimeout(30)
    groups = list(GROUPS) if args.only == "all" else args.only.split(",")
    for g in groups:
        print("== %s" % g, flush=True)
        try:
            GROUPS[g](args)
        except Exception as e:  # an exception is a failure of that group, not a crash of the run
            import traceback
            traceback.print_exc()
            FAILS.append("%s: exception %r" % (g, e))
    if FAILS:
        print("%d check(s) failed" % len(FAILS))
        sys.exit(1)
    print("all checks passed")


if __name__ == "__main__":
    main()
