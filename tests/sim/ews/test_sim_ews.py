#!/usr/bin/env python3
"""Protocol tests of outpost-sim-ews (the EWS simulator): starts it on an ephemeral 127.0.0.1
port with the test CA and checks SOAP shapes, authentication, autodiscover, sync paging and
states, writes with change keys, faults, the control endpoint and the state file. Standard
library only; every wait is bounded.
Usage: test_sim_ews.py --sim BIN --gen-certs SCRIPT --workdir DIR [--only GROUP]"""

import argparse
import base64
import http.client
import json
import os
import re
import signal
import ssl
import subprocess
import sys
import xml.etree.ElementTree as ET

FAILS = []
NS = {"s": "http://schemas.xmlsoap.org/soap/envelope/",
      "m": "http://schemas.microsoft.com/exchange/services/2006/messages",
      "t": "http://schemas.microsoft.com/exchange/services/2006/types",
      "e": "http://schemas.microsoft.com/exchange/services/2006/errors"}


def check(cond, what):
    if not cond:
        FAILS.append(what)
        print("FAIL:", what, flush=True)
    return cond


class Sim:
    def __init__(self, args, extra=(), state_file=None):
        cmd = [args.sim, "--cert", os.path.join(args.certs, "server.pem"),
               "--key", os.path.join(args.certs, "server.key"), "--quiet",
               "--messages", "40", "--events", "10", "--contacts", "5", "--tasks", "4", "--notes", "3"] + list(extra)
        if state_file:
            cmd += ["--state-file", state_file]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        if not line.startswith("READY https://127.0.0.1:"):
            self.proc.kill()
            raise SystemExit("simulator did not start: %r %s" % (line, self.proc.stderr.read()))
        self.port = int(line.strip().rsplit(":", 1)[1])
        self.ctx = ssl.create_default_context(cafile=os.path.join(args.certs, "ca.pem"))
        self.auth = "Basic " + base64.b64encode(b"jdoe@example.com:secret").decode()

    def conn(self):
        return http.client.HTTPSConnection("127.0.0.1", self.port, context=self.ctx, timeout=30)

    def control(self, method, path, body=None):
        c = self.conn()
        c.request(method, "/_sim/" + path, body=json.dumps(body) if body is not None else None)
        r = c.getresponse()
        d = r.read()
        c.close()
        return r.status, json.loads(d)

    def post(self, path, body, auth=True, headers=None):
        c = self.conn()
        h = {"Content-Type": "text/xml; charset=utf-8"}
        if auth:
            h["Authorization"] = self.auth if auth is True else auth
        h.update(headers or {})
        c.request("POST", path, body=body.encode(), headers=h)
        r = c.getresponse()
        d = r.read()
        c.close()
        return r, d

    def soap(self, op, version="Exchange2013_SP1", auth=True):
        hdr = '<t:RequestServerVersion Version="%s"/>' % version if version else ""
        env = ('<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="%s" xmlns:m="%s" xmlns:t="%s">'
               '<soap:Header>%s</soap:Header><soap:Body>%s</soap:Body></soap:Envelope>'
               % (NS["s"], NS["m"], NS["t"], hdr, op))
        r, d = self.post("/EWS/Exchange.asmx", env, auth)
        root = ET.fromstring(d) if d.startswith(b"<?xml") else None
        return r.status, root, d

    def stop(self, sig=signal.SIGTERM):
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            return None


def msgs(root):
    return [m for m in root.iter() if m.tag.endswith("ResponseMessage") and m.tag.startswith("{%s}" % NS["m"])]


def code(m):
    return m.findtext("m:ResponseCode", namespaces=NS)


def sync_items(sim, folder, state=None, maxc=10):
    st = "<m:SyncState>%s</m:SyncState>" % state if state else ""
    return sim.soap('<m:SyncFolderItems><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape></m:ItemShape>'
                    '<m:SyncFolderId><t:DistinguishedFolderId Id="%s"/></m:SyncFolderId>%s'
                    '<m:MaxChangesReturned>%d</m:MaxChangesReturned></m:SyncFolderItems>' % (folder, st, maxc))


def folder_items(sim, path):
    _, st = sim.control("GET", "state?content=0")
    for f in st["folders"]:
        if f["path"] == path:
            return f["items"]
    return []


def t_protocol(args):
    sim = Sim(args, ["--token", "tkn"])
    try:
        status, root, _ = sim.soap('<m:GetFolder><m:FolderShape><t:BaseShape>Default</t:BaseShape></m:FolderShape>'
                                   '<m:FolderIds><t:DistinguishedFolderId Id="inbox"/><t:DistinguishedFolderId Id="nosuch"/>'
                                   '</m:FolderIds></m:GetFolder>')
        check(status == 200, "GetFolder 200")
        sv = root.find("s:Header/t:ServerVersionInfo", NS)
        check(sv is not None and sv.get("MajorVersion") == "15", "ServerVersionInfo header")
        ms = msgs(root)
        check(len(ms) == 2 and code(ms[0]) == "NoError" and ms[1].get("ResponseClass") == "Error"
              and code(ms[1]) == "ErrorFolderNotFound", "one message per id, in order")
        check(ms[0].find("m:Folders/t:Folder/t:DisplayName", NS).text == "Inbox", "Inbox display name")
        # authentication
        status, _, _ = sim.soap("<m:GetFolder/>", auth=False)
        check(status == 401, "no credentials: 401")
        r, _ = sim.post("/EWS/Exchange.asmx", "<x/>", auth="Basic " + base64.b64encode(b"jdoe:bad").decode())
        check(r.status == 401 and "Basic" in (r.getheader("WWW-Authenticate") or ""), "bad password: 401 with challenge")
        status, root, _ = sim.soap('<m:GetFolder><m:FolderShape><t:BaseShape>IdOnly</t:BaseShape></m:FolderShape>'
                                   '<m:FolderIds><t:DistinguishedFolderId Id="inbox"/></m:FolderIds></m:GetFolder>',
                                   auth="Bearer tkn")
        check(status == 200 and code(msgs(root)[0]) == "NoError", "bearer token accepted")
        status, _, _ = sim.soap("<m:GetFolder/>", auth="Bearer nope")
        check(status == 401, "wrong bearer token: 401")
        # versions and faults
        status, root, _ = sim.soap("<m:GetFolder/>", version="Exchange2010_SP2")
        check(status == 500 and root.find(".//faultcode").text == "a:ErrorInvalidServerVersion", "old version refused")
        status, root, _ = sim.soap("<m:GetFolder/>", version=None)
        check(status == 500, "missing RequestServerVersion refused")
        r, d = sim.post("/EWS/Exchange.asmx", "<not xml")
        check(r.status == 500 and b"ErrorSchemaValidation" in d, "malformed request: schema fault")
        status, root, _ = sim.soap("<m:NoSuchOperation/>")
        check(status == 500 and b"ErrorInvalidRequest" in _, "unknown operation")
        status, root, d = sync_items(sim, "inbox", maxc=513)
        check(status == 500 and b"ErrorSchemaValidation" in d, "MaxChangesReturned 513 refused")
        status, root, d = sync_items(sim, "inbox", maxc=0)
        check(status == 500, "MaxChangesReturned 0 refused")
        # autodiscover
        body = ('<?xml version="1.0" encoding="utf-8"?><Autodiscover xmlns="http://schemas.microsoft.com/exchange/'
                'autodiscover/outlook/requestschema/2006"><Request><EMailAddress>jdoe@example.com</EMailAddress>'
                '<AcceptableResponseSchema>http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a'
                '</AcceptableResponseSchema></Request></Autodiscover>')
        r, d = sim.post("/autodiscover/autodiscover.xml", body)
        check(r.status == 200 and ("https://127.0.0.1:%d/EWS/Exchange.asmx" % sim.port).encode() in d, "autodiscover EWS URL")
        r, d = sim.post("/autodiscover/autodiscover.xml", body.replace("jdoe@", "other@"))
        check(b"<ErrorCode>500</ErrorCode>" in d, "autodiscover unknown address")
        r, d = sim.post("/autodiscover/autodiscover.xml", body, auth=False)
        check(r.status == 401, "autodiscover needs authentication")
    finally:
        sim.stop()


def t_sync(args):
    sim = Sim(args)
    try:
        total = len(folder_items(sim, "Inbox"))
        seen, state, pages = set(), None, 0
        while pages < 50:
            status, root, _ = sync_items(sim, "inbox", state, 7)
            m = msgs(root)[0]
            check(code(m) == "NoError", "sync page ok")
            ch = m.find("m:Changes", NS)
            n = len(list(ch))
            check(n <= 7, "page bounded by MaxChangesReturned")
            for c in ch:
                seen.add(c.find(".//t:ItemId", NS).get("Id"))
            state = m.findtext("m:SyncState", namespaces=NS)
            pages += 1
            if m.findtext("m:IncludesLastItemInRange", namespaces=NS) == "true":
                break
        check(len(seen) == total and pages == (total + 6) // 7 + (1 if total % 7 == 0 else 0) or len(seen) == total,
              "initial listing complete (%d of %d)" % (len(seen), total))
        # incremental: one of each change kind
        items = folder_items(sim, "Inbox")
        a, b, c, d = items[0]["id"], items[1]["id"], items[2]["id"], items[3]["id"]
        sim.control("POST", "items/create", {"folder": "Inbox", "item": {"subject": "new"}})
        sim.control("POST", "items/set", {"id": a, "read": not items[0]["flags"]["read"]})
        sim.control("POST", "items/set", {"id": b, "item": {"subject": "edited"}})
        sim.control("POST", "items/remove", {"id": c})
        sim.control("POST", "items/move", {"id": d, "folder": "Inbox/Projekte"})
        status, root, _ = sync_items(sim, "inbox", state, 100)
        ch = msgs(root)[0].find("m:Changes", NS)
        kinds = sorted(x.tag.split("}")[1] for x in ch)
        check(kinds == ["Create", "Delete", "Delete", "ReadFlagChange", "Update"], "incremental change kinds %s" % kinds)
        # a state of another folder, garbage, and an expired state
        status, root, _ = sync_items(sim, "sentitems", state, 5)
        check(code(msgs(root)[0]) == "ErrorInvalidSyncStateData", "state of another folder refused")
        check(msgs(root)[0].findtext("m:SyncState", namespaces=NS) in ("", None), "error carries an empty SyncState")
        status, root, _ = sync_items(sim, "inbox", "AAAA", 5)
        check(code(msgs(root)[0]) == "ErrorInvalidSyncStateData", "garbage state refused")
        sim.control("POST", "syncstates/expire", {})
        status, root, _ = sync_items(sim, "inbox", state, 5)
        check(code(msgs(root)[0]) == "ErrorInvalidSyncStateData", "expired state refused")
        # hierarchy
        status, root, _ = sim.soap('<m:SyncFolderHierarchy><m:FolderShape><t:BaseShape>AllProperties</t:BaseShape>'
                                   '</m:FolderShape><m:SyncFolderId><t:DistinguishedFolderId Id="msgfolderroot"/>'
                                   '</m:SyncFolderId></m:SyncFolderHierarchy>')
        m = msgs(root)[0]
        names = [f.findtext("t:DisplayName", namespaces=NS) for f in m.find("m:Changes", NS).iter()
                 if f.tag.endswith("Folder") and f.find("t:DisplayName", NS) is not None]
        check("Calendar" in names and "Ünïcødé 2025 – 日本" in names and len(names) == 13, "hierarchy lists %s" % names)
        classes = {f.findtext("t:DisplayName", namespaces=NS): f.findtext("t:FolderClass", namespaces=NS)
                   for f in m.find("m:Changes", NS).iter() if f.find("t:FolderClass", NS) is not None}
        check(classes.get("Notes") == "IPF.StickyNote" and classes.get("Contacts") == "IPF.Contact", "folder classes")
        # GetItem shapes
        it = folder_items(sim, "Calendar")
        ids = "".join('<t:ItemId Id="%s"/>' % x["id"] for x in it)
        status, root, _ = sim.soap('<m:GetItem><m:ItemShape><t:BaseShape>AllProperties</t:BaseShape></m:ItemShape>'
                                   '<m:ItemIds>%s</m:ItemIds></m:GetItem>' % ids)
        cal = root.findall(".//t:CalendarItem", NS)
        check(len(cal) == len(it), "GetItem returns every calendar item")
        check(any(c.find("t:Recurrence", NS) is not None for c in cal), "recurring masters")
        check(any(c.find("t:ModifiedOccurrences/t:Occurrence/t:OriginalStart", NS) is not None for c in cal), "exceptions")
        check(any(c.find("t:DeletedOccurrences", NS) is not None for c in cal), "deleted occurrences")
        mail = folder_items(sim, "Inbox")[0]
        status, root, _ = sim.soap('<m:GetItem><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape><t:IncludeMimeContent>true'
                                   '</t:IncludeMimeContent></m:ItemShape><m:ItemIds><t:ItemId Id="%s"/></m:ItemIds></m:GetItem>'
                                   % mail["id"])
        mime = base64.b64decode(root.find(".//t:MimeContent", NS).text)
        check(mime.startswith(b"From: ") and b"Message-ID: " + mail["messageId"].encode() in mime, "MimeContent is the MIME")
    finally:
        sim.stop()


def t_write(args):
    sim = Sim(args)
    try:
        mail = folder_items(sim, "Inbox")[0]
        upd = ('<m:UpdateItem ConflictResolution="%s" MessageDisposition="SaveOnly"><m:ItemChanges><t:ItemChange>'
               '<t:ItemId Id="%s"%s/><t:Updates><t:SetItemField><t:FieldURI FieldURI="message:IsRead"/><t:Message>'
               '<t:IsRead>true</t:IsRead></t:Message></t:SetItemField></t:Updates></t:ItemChange></m:ItemChanges></m:UpdateItem>')
        status, root, _ = sim.soap(upd % ("NeverOverwrite", mail["id"], ""))
        check(code(msgs(root)[0]) == "ErrorChangeKeyRequiredForWriteOperations", "UpdateItem without ChangeKey")
        # the attributes the UpdateItem reference requires per item kind
        status, root, _ = sim.soap(upd.replace(' MessageDisposition="SaveOnly"', '')
                                   % ("AlwaysOverwrite", mail["id"], ' ChangeKey="%s"' % mail["changeKey"]))
        check(code(msgs(root)[0]) == "ErrorMessageDispositionRequired", "UpdateItem of a message without MessageDisposition")
        ev = folder_items(sim, "Calendar")[0]
        status, root, _ = sim.soap('<m:UpdateItem ConflictResolution="AlwaysOverwrite"><m:ItemChanges><t:ItemChange>'
                                   '<t:ItemId Id="%s" ChangeKey="%s"/><t:Updates><t:SetItemField><t:FieldURI '
                                   'FieldURI="item:Subject"/><t:CalendarItem><t:Subject>x</t:Subject></t:CalendarItem>'
                                   '</t:SetItemField></t:Updates></t:ItemChange></m:ItemChanges></m:UpdateItem>'
                                   % (ev["id"], ev["changeKey"]))
        check(code(msgs(root)[0]) == "ErrorSendMeetingInvitationsOrCancellationsRequired",
              "UpdateItem of a calendar item without SendMeetingInvitationsOrCancellations")
        status, root, _ = sim.soap(upd % ("NeverOverwrite", mail["id"], ' ChangeKey="%s"' % mail["changeKey"]))
        m = msgs(root)[0]
        check(code(m) == "NoError", "UpdateItem with ChangeKey")
        newck = m.find(".//t:ItemId", NS).get("ChangeKey")
        check(newck != mail["changeKey"], "new ChangeKey")
        status, root, _ = sim.soap(upd % ("NeverOverwrite", mail["id"], ' ChangeKey="%s"' % mail["changeKey"]))
        check(code(msgs(root)[0]) == "ErrorIrresolvableConflict", "stale ChangeKey: ErrorIrresolvableConflict")
        status, root, _ = sim.soap(upd % ("AlwaysOverwrite", mail["id"], ' ChangeKey="%s"' % mail["changeKey"]))
        check(code(msgs(root)[0]) == "NoError", "AlwaysOverwrite ignores a stale key")
        # CreateItem with raw MIME keeps it byte for byte; SendAndSaveCopy returns no id
        raw = b"Subject: raw\r\nX-Custom: 1\r\nMessage-ID: <raw@x>\r\n\r\nbody\r\n"
        status, root, _ = sim.soap('<m:CreateItem MessageDisposition="SaveOnly"><m:SavedItemFolderId><t:DistinguishedFolderId '
                                   'Id="drafts"/></m:SavedItemFolderId><m:Items><t:Message><t:MimeContent>%s</t:MimeContent>'
                                   '</t:Message></m:Items></m:CreateItem>' % base64.b64encode(raw).decode())
        nid = msgs(root)[0].find(".//t:ItemId", NS).get("Id")
        status, root, _ = sim.soap('<m:GetItem><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape><t:IncludeMimeContent>true'
                                   '</t:IncludeMimeContent></m:ItemShape><m:ItemIds><t:ItemId Id="%s"/></m:ItemIds></m:GetItem>' % nid)
        check(base64.b64decode(root.find(".//t:MimeContent", NS).text) == raw, "raw MIME round trip")
        status, root, _ = sim.soap('<m:CreateItem MessageDisposition="SendAndSaveCopy"><m:Items><t:Message><t:MimeContent>%s'
                                   '</t:MimeContent></t:Message></m:Items></m:CreateItem>' % base64.b64encode(raw).decode())
        check(code(msgs(root)[0]) == "NoError" and root.find(".//t:ItemId", NS) is None, "SendAndSaveCopy: no ItemId")
        # move and copy give new ids; delete types
        mv = ('<m:%s><m:ToFolderId><t:DistinguishedFolderId Id="junkemail"/></m:ToFolderId><m:ItemIds><t:ItemId Id="%s"/>'
              '</m:ItemIds></m:%s>')
        status, root, _ = sim.soap(mv % ("MoveItem", nid, "MoveItem"))
        moved = root.find(".//t:ItemId", NS).get("Id")
        check(moved != nid, "MoveItem new id")
        status, root, _ = sim.soap(mv % ("CopyItem", moved, "CopyItem"))
        check(root.find(".//t:ItemId", NS).get("Id") not in (moved, nid), "CopyItem new id")
        status, root, d = sim.soap('<m:DeleteItem><m:ItemIds><t:ItemId Id="%s"/></m:ItemIds></m:DeleteItem>' % moved)
        check(status == 500 and b"ErrorSchemaValidation" in d, "DeleteType required")
        ev = folder_items(sim, "Calendar")[0]["id"]
        status, root, _ = sim.soap('<m:DeleteItem DeleteType="HardDelete"><m:ItemIds><t:ItemId Id="%s"/></m:ItemIds>'
                                   '</m:DeleteItem>' % ev)
        check(code(msgs(root)[0]) == "ErrorSendMeetingCancellationsRequired", "calendar delete needs SendMeetingCancellations")
        status, root, _ = sim.soap('<m:DeleteItem DeleteType="MoveToDeletedItems"><m:ItemIds><t:ItemId Id="%s"/>'
                                   '</m:ItemIds></m:DeleteItem>' % moved)
        check(code(msgs(root)[0]) == "NoError", "MoveToDeletedItems")
        status, root, _ = sim.soap('<m:DeleteItem DeleteType="HardDelete"><m:ItemIds><t:ItemId Id="%s"/></m:ItemIds>'
                                   '</m:DeleteItem>' % moved)
        check(code(msgs(root)[0]) == "ErrorItemNotFound", "deleted id is gone")
        # folders
        cf = ('<m:CreateFolder><m:ParentFolderId><t:DistinguishedFolderId Id="inbox"/></m:ParentFolderId><m:Folders>'
              '<t:Folder><t:DisplayName>%s</t:DisplayName></t:Folder></m:Folders></m:CreateFolder>')
        status, root, _ = sim.soap(cf % "Neu")
        fid = root.find(".//t:FolderId", NS).get("Id")
        status, root, _ = sim.soap(cf % "Neu")
        check(code(msgs(root)[0]) == "ErrorFolderExists", "duplicate folder")
        status, root, _ = sim.soap('<m:DeleteFolder DeleteType="HardDelete"><m:FolderIds><t:DistinguishedFolderId Id="inbox"/>'
                                   '</m:FolderIds></m:DeleteFolder>')
        check(code(msgs(root)[0]) == "ErrorDeleteDistinguishedFolder", "distinguished folders stay")
        status, root, _ = sim.soap('<m:DeleteFolder DeleteType="HardDelete"><m:FolderIds><t:FolderId Id="%s"/>'
                                   '</m:FolderIds></m:DeleteFolder>' % fid)
        check(code(msgs(root)[0]) == "NoError", "DeleteFolder")
        _, c = sim.control("GET", "counters")
        mu = c["mutations"]
        check(mu.get("item.flags") == 2 and mu.get("item.create") == 2 and mu.get("mail.send") == 1
              and mu.get("item.move") == 1 and mu.get("item.copy") == 1 and mu.get("item.trash") == 1
              and mu.get("folder.create") == 1 and mu.get("folder.delete") == 1, "mutation counters %s" % mu)
    finally:
        sim.stop()


def t_faults(args):
    sim = Sim(args)
    try:
        def arm(spec):
            st, _ = sim.control("POST", "faults", spec)
            check(st == 200, "arm %s" % spec)
        arm({"kind": "busy", "method": "SyncFolderItems", "backoff_ms": 4321})
        status, root, d = sync_items(sim, "inbox")
        check(status == 500 and root.find(".//e:ResponseCode", NS).text == "ErrorServerBusy"
              and root.find(".//t:Value[@Name='BackOffMilliseconds']", NS).text == "4321", "busy as SOAP fault")
        arm({"kind": "busy", "method": "SyncFolderItems", "form": "message", "backoff_ms": 99})
        status, root, d = sync_items(sim, "inbox")
        m = msgs(root)[0]
        check(status == 200 and code(m) == "ErrorServerBusy" and m.get("ResponseClass") == "Error"
              and m.find("m:MessageXml/t:Value", NS).text == "99", "busy as error message")
        check(m.findtext("m:IncludesLastItemInRange", namespaces=NS) == "true", "busy message keeps the trap fields")
        arm({"kind": "invalid_sync_state"})
        status, root, d = sync_items(sim, "inbox")
        check(code(msgs(root)[0]) == "ErrorInvalidSyncStateData", "invalid sync state fault")
        for kind, want in (("http401", 401), ("http500", 500), ("http503", 503)):
            arm({"kind": kind, "method": "GetFolder"})
            status, _, _ = sim.soap("<m:GetFolder/>")
            check(status == want, "%s → %d" % (kind, status))
        arm({"kind": "malformed", "method": "GetFolder"})
        status, _, d = sim.soap("<m:GetFolder/>") if False else (None, None, sim.post("/EWS/Exchange.asmx",
            '<?xml version="1.0"?><soap:Envelope xmlns:soap="%s" xmlns:m="%s" xmlns:t="%s"><soap:Header>'
            '<t:RequestServerVersion Version="Exchange2013_SP1"/></soap:Header><soap:Body><m:GetFolder/></soap:Body>'
            '</soap:Envelope>' % (NS["s"], NS["m"], NS["t"]))[1])
        try:
            ET.fromstring(d)
            check(False, "malformed reply parses")
        except ET.ParseError:
            pass
        arm({"kind": "drop_before", "method": "GetFolder"})
        try:
            sim.soap("<m:GetFolder/>")
            check(False, "dropped connection")
        except (http.client.HTTPException, ConnectionError, OSError):
            pass
        arm({"kind": "drop", "method": "GetFolder"})
        try:
            sim.soap('<m:GetFolder><m:FolderIds><t:DistinguishedFolderId Id="inbox"/></m:FolderIds></m:GetFolder>')
            check(False, "half reply")
        except (http.client.HTTPException, ConnectionError, OSError, ET.ParseError):
            pass
        arm({"kind": "error", "method": "GetFolder", "code": "ErrorMailboxStoreUnavailable"})
        status, root, _ = sim.soap('<m:GetFolder><m:FolderIds><t:DistinguishedFolderId Id="inbox"/>'
                                   '<t:DistinguishedFolderId Id="drafts"/></m:FolderIds></m:GetFolder>')
        check([code(m) for m in msgs(root)] == ["ErrorMailboxStoreUnavailable"] * 2, "error per input item")
        arm({"kind": "busy", "method": "*", "skip": 1, "count": 1})
        s1, _, _ = sim.soap("<m:GetFolder/>")
        s2, _, _ = sim.soap("<m:GetFolder/>")
        s3, _, _ = sim.soap("<m:GetFolder/>")
        check((s1, s2, s3) == (200, 500, 200), "skip and count %s" % [s1, s2, s3])
        _, f = sim.control("GET", "faults")
        check(f["faults"] == [], "faults consumed")
    finally:
        sim.stop()


def t_control(args):
    sim = Sim(args)
    try:
        st, info = sim.control("GET", "info")
        check(st == 200 and info["ewsUrl"].endswith("/EWS/Exchange.asmx") and "Inbox/Projekte" in info["folders"], "info")
        st, state = sim.control("GET", "state")
        inbox = [f for f in state["folders"] if f["path"] == "Inbox"][0]
        check(inbox["distinguished"] == "inbox" and inbox["count"] == len(inbox["items"]), "state counts")
        check(all("size" in i and "props" in i for i in inbox["items"]), "state has sizes and properties")
        st, r = sim.control("POST", "items/create", {"type": "event", "item": {"subject": "Server", "start": 1748851200,
                                                                               "end": 1748854800, "uid": "srv-1"}})
        check(st == 200 and r["id"], "create event")
        st, r2 = sim.control("POST", "items/set", {"id": r["id"], "item": {"subject": "Server 2"}})
        check(r2["changeKey"] != r["changeKey"], "set changes the key")
        st, r3 = sim.control("POST", "folders/create", {"parent": "Calendar", "name": "Team", "type": "event"})
        check(st == 200, "folder create")
        st, _ = sim.control("POST", "items/move", {"id": r["id"], "folder": "Calendar/Team"})
        check(st == 200, "move")
        st, e = sim.control("POST", "items/remove", {"id": "nope"})
        check(st == 404 and "error" in e, "unknown item: 404")
        st, e = sim.control("POST", "folders/remove", {"path": "Inbox"})
        check(st == 409, "distinguished folder stays")
        st, _ = sim.control("POST", "counters/reset", {})
        st, c = sim.control("GET", "counters")
        check(c == {"calls": {}, "items": {}, "mutations": {}}, "counters reset")
        # lazily generated: 100k messages start quickly and list fast
        big = Sim(args, ["--messages", "100000", "--seed", "3"])
        try:
            status, root, _ = sync_items(big, "inbox", None, 512)
            check(len(list(msgs(root)[0].find("m:Changes", NS))) == 512, "100k mailbox pages")
        finally:
            big.stop()
    finally:
        sim.stop()


def t_state(args):
    path = os.path.join(args.workdir, "state.json")
    if os.path.exists(path):
        os.unlink(path)
    sim = Sim(args, state_file=path)
    try:
        status, root, _ = sync_items(sim, "inbox", None, 100)
        state = msgs(root)[0].findtext("m:SyncState", namespaces=NS)
        sim.control("POST", "items/create", {"folder": "Inbox", "mime": "Subject: kept\r\nMessage-ID: <kept@x>\r\n\r\nhi\r\n"})
        victim = folder_items(sim, "Inbox")[0]["id"]
        sim.control("POST", "items/remove", {"id": victim})
        _, before = sim.control("GET", "state")
    finally:
        check(sim.stop() == 0, "SIGTERM exits 0")
    check(os.path.exists(path), "state file written")
    sim = Sim(args, state_file=path)
    try:
        _, after = sim.control("GET", "state")
        check(before == after, "state survives a restart")
        status, root, _ = sync_items(sim, "inbox", state, 100)
        kinds = sorted(x.tag.split("}")[1] for x in msgs(root)[0].find("m:Changes", NS))
        check(kinds == ["Create", "Delete"], "old sync state still valid after restart: %s" % kinds)
    finally:
        sim.stop()


def subscribe(sim, body):
    status, root, _ = sim.soap("<m:Subscribe>%s</m:Subscribe>" % body)
    return status, root


EVENTS = ("<t:EventTypes><t:EventType>NewMailEvent</t:EventType><t:EventType>CreatedEvent</t:EventType>"
          "<t:EventType>DeletedEvent</t:EventType><t:EventType>ModifiedEvent</t:EventType></t:EventTypes>")


def get_events(sim, sid, wm):
    status, root, _ = sim.soap("<m:GetEvents><m:SubscriptionId>%s</m:SubscriptionId><m:Watermark>%s</m:Watermark>"
                               "</m:GetEvents>" % (sid, wm))
    return msgs(root)[0]


def t_notify(args):
    sim = Sim(args)
    try:
        # pull subscription on the inbox: nothing yet is one StatusEvent
        status, root = subscribe(sim, '<m:PullSubscriptionRequest><t:FolderIds><t:DistinguishedFolderId Id="inbox"/>'
                                      '</t:FolderIds>%s<t:Timeout>5</t:Timeout></m:PullSubscriptionRequest>' % EVENTS)
        m = msgs(root)[0]
        sid, wm = m.findtext("m:SubscriptionId", namespaces=NS), m.findtext("m:Watermark", namespaces=NS)
        check(code(m) == "NoError" and sid and wm, "subscribe: id and watermark")
        n = get_events(sim, sid, wm).find("m:Notification", NS)
        check(n is not None and n.find("t:StatusEvent", NS) is not None and n.findtext("t:MoreEvents", namespaces=NS)
              == "false", "no change: a StatusEvent")
        wm = n.find("t:StatusEvent/t:Watermark", NS).text
        # a new message in the inbox and one in Sent Items (not subscribed)
        _, r = sim.control("POST", "items/create", {"type": "mail", "folder": "Inbox", "item": {"subject": "ping"}})
        sim.control("POST", "items/create", {"type": "mail", "folder": "Sent Items", "item": {"subject": "other"}})
        n = get_events(sim, sid, wm).find("m:Notification", NS)
        kinds = [e.tag.split("}")[1] for e in n if e.tag.endswith("Event")]
        check(sorted(kinds) == ["CreatedEvent", "NewMailEvent"], "new mail: Created + NewMail events, got %s" % kinds)
        ev = n.find("t:CreatedEvent", NS)
        check(ev.find("t:ItemId", NS).get("Id") == r["id"] and ev.find("t:ParentFolderId", NS) is not None,
              "event names the item and its folder")
        check(n.findtext("t:PreviousWatermark", namespaces=NS) == wm, "previous watermark echoed")
        wm2 = [e.findtext("t:Watermark", namespaces=NS) for e in n if e.tag.endswith("Event")][-1]
        # read flag and delete of that message
        sim.control("POST", "items/set", {"id": r["id"], "item": {"isRead": True}})
        sim.control("POST", "items/remove", {"id": r["id"]})
        n = get_events(sim, sid, wm2).find("m:Notification", NS)
        kinds = [e.tag.split("}")[1] for e in n if e.tag.endswith("Event")]
        check(kinds == ["DeletedEvent"], "changed then deleted: one DeletedEvent, got %s" % kinds)
        # errors: bad watermark, unknown subscription, unsubscribe, streaming not served
        check(code(get_events(sim, sid, "bm9wZQ==")) == "ErrorInvalidWatermark", "bad watermark")
        status, root, _ = sim.soap("<m:Unsubscribe><m:SubscriptionId>%s</m:SubscriptionId></m:Unsubscribe>" % sid)
        check(code(msgs(root)[0]) == "NoError", "unsubscribe")
        check(code(get_events(sim, sid, wm2)) == "ErrorSubscriptionNotFound", "gone after unsubscribe")
        status, root = subscribe(sim, '<m:StreamingSubscriptionRequest><t:FolderIds><t:DistinguishedFolderId '
                                      'Id="inbox"/></t:FolderIds>%s</m:StreamingSubscriptionRequest>' % EVENTS)
        check(code(msgs(root)[0]) == "ErrorInvalidRequest", "streaming subscriptions are not served")
        status, root = subscribe(sim, '<m:PullSubscriptionRequest SubscribeToAllFolders="true">%s<t:Timeout>0'
                                      '</t:Timeout></m:PullSubscriptionRequest>' % EVENTS)
        check(status == 500, "timeout out of range: schema fault")
        # all folders: the Sent Items message made earlier is before its watermark; a new one is seen
        status, root = subscribe(sim, '<m:PullSubscriptionRequest SubscribeToAllFolders="true">%s<t:Timeout>5'
                                      '</t:Timeout></m:PullSubscriptionRequest>' % EVENTS)
        m = msgs(root)[0]
        sid, wm = m.findtext("m:SubscriptionId", namespaces=NS), m.findtext("m:Watermark", namespaces=NS)
        sim.control("POST", "items/create", {"type": "mail", "folder": "Sent Items", "item": {"subject": "again"}})
        n = get_events(sim, sid, wm).find("m:Notification", NS)
        check(n.find("t:CreatedEvent", NS) is not None, "all folders: created in Sent Items")
    finally:
        sim.stop()


GROUPS = {"protocol": t_protocol, "sync": t_sync, "write": t_write, "faults": t_faults, "control": t_control,
          "state": t_state, "notify": t_notify}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sim", required=True)
    ap.add_argument("--gen-certs", required=True)
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--only")
    args = ap.parse_args()
    os.makedirs(args.workdir, exist_ok=True)
    args.certs = os.path.join(args.workdir, "certs")
    subprocess.run(["sh", args.gen_certs, args.certs], check=True)
    for name, fn in GROUPS.items():
        if args.only and name != args.only:
            continue
        print("==", name, flush=True)
        fn(args)
    if FAILS:
        print("%d check(s) failed" % len(FAILS))
        sys.exit(1)
    print("ok")


if __name__ == "__main__":
    main()
