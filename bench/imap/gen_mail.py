#!/usr/bin/env python3
"""bench/imap/gen_mail.py — the deterministic test mailbox of bench-imap.

make_message(i, salt) returns message i as CRLF bytes plus its flags and
internal date. The same i and salt always give the same bytes, so Dovecot's
Maildir and Outpost's cache are loaded with identical messages.

Shape (close to a real inbox): median about 4 KiB; 5% multipart/mixed with a
100 KiB base64 attachment; 20% multipart/alternative (text + HTML); 25% of
the senders and 20% of the subjects carry RFC 2047 encoded Unicode; unique
Message-IDs; 80% \\Seen (some also \\Answered or \\Flagged). About 1% of the
bodies contain SEARCH_WORD, a word found nowhere else.

As a program: gen_mail.py MAILDIR COUNT writes cur/, new/ and tmp/ with file
names Dovecot sorts in message order (time prefix), carrying S= and W=, the
flags after ":2," and the internal date as mtime.
"""
import base64
import os
import random
import sys

SEARCH_WORD = "marmalade"
BASE_TIME = 1_600_000_000          # internal date of message 0 (2020-09-13)
STEP = 300                          # seconds between messages

_SYL = ["ba", "ce", "di", "fo", "gu", "ha", "je", "ki", "lo", "mu", "na", "pe", "qi", "ro", "su", "ta",
        "ve", "wi", "xo", "yu", "za", "bre", "cla", "dro", "fli", "gra", "plo", "sta", "tri", "nor", "len",
        "mar", "tor", "vin", "sel", "rom", "pan", "dex", "lux", "quo"]
_COMMON = ("the of and to in is you that it he was for on are as with his they at be this have from or "
           "one had by word but not what all were we when your can said there use an each which she do how "
           "their if will up other about out many then them these so some her would make like him into time "
           "has look two more write go see number no way could people my than first water been call who oil "
           "its now find long down day did get come made may part meeting report budget project review "
           "schedule invoice contract customer release server backup office travel team update draft").split()
_FIRST = ["Alice", "Bob", "Carol", "David", "Erin", "Frank", "Grace", "Heidi", "Ivan", "Judy", "Mallory",
          "Oscar", "Peggy", "Trent", "Victor", "Walter", "Zoë", "Jürgen", "Łukasz", "Søren", "Renée",
          "José", "Ångström", "Νίκος", "Дмитрий", "李", "美咲", "Çağla"]
_LAST = ["Smith", "Jones", "Brown", "Taylor", "Wilson", "Müller", "Dvořák", "Żółkiewski", "Øster",
         "Nuñez", "Ιωάννου", "Иванов", "王", "佐藤", "Yılmaz", "Okafor", "Novak", "Kowalski"]
_UNI_SUBJ = ["Réunion budgétaire", "Überprüfung der Verträge", "Отчёт за квартал", "会議の議事録",
             "Προσφορά έργου", "Ερώτηση", "Fwd: café ☕ on Friday", "Zażółć gęślą jaźń", "naïve façade"]
_DOMAINS = ["example.com", "example.org", "mail.example.net", "corp.example", "bench.example"]


def _vocab():
    rng = random.Random(1)
    words = set(_COMMON)
    while len(words) < 6000:
        w = "".join(rng.choice(_SYL) for _ in range(rng.randint(2, 4)))
        if SEARCH_WORD[:5] not in w and SEARCH_WORD not in w:
            words.add(w)
    out = sorted(words)
    assert not any(SEARCH_WORD in w for w in out)
    rng.shuffle(out)  # Zipf ranks independent of spelling
    return out


_VOCAB = _vocab()
_WEIGHTS = [1.0 / (k + 1) for k in range(len(_VOCAB))]  # Zipf-like
_CUM = None


def _words(rng, n):
    global _CUM
    if _CUM is None:
        import itertools
        _CUM = list(itertools.accumulate(_WEIGHTS))
    return rng.choices(_VOCAB, cum_weights=_CUM, k=n)


def _enc(s, rng):
    """RFC 2047 encoded word for non-ASCII, else the text as is."""
    try:
        s.encode("ascii")
        return s
    except UnicodeEncodeError:
        pass
    if rng.random() < 0.5:
        return "=?UTF-8?B?" + base64.b64encode(s.encode()).decode() + "?="
    q = "".join(c if c.isascii() and c.isalnum() else "".join("=%02X" % b for b in c.encode()) for c in s)
    return "=?UTF-8?Q?" + q + "?="


def _person(rng):
    first, last = rng.choice(_FIRST), rng.choice(_LAST)
    addr = (first.encode("ascii", "ignore").decode() or "user").lower() + "." + \
        (last.encode("ascii", "ignore").decode() or "x").lower() + str(rng.randint(1, 99))
    return f"{_enc(first + ' ' + last, rng)} <{addr}@{rng.choice(_DOMAINS)}>"


def _paragraphs(rng, nbytes, word):
    lines, size, put_word = [], 0, word is not None
    while size < nbytes:
        ws = _words(rng, rng.randint(9, 13))
        if put_word and (size > nbytes / 2 or rng.random() < 0.1):
            ws[rng.randrange(len(ws))] = word
            put_word = False
        line = " ".join(ws)
        lines.append(line)
        size += len(line) + 2
        if rng.random() < 0.12:
            lines.append("")
    if put_word:
        lines.append(word)
    return "\r\n".join(lines) + "\r\n"


def _date(ts):
    import email.utils
    return email.utils.formatdate(ts, localtime=False)


def make_message(i, salt=""):
    """(bytes, flags string in Maildir letters, internal date in seconds)."""
    rng = random.Random(f"outpost-bench-imap/{salt}/{i}")
    ts = BASE_TIME + i * STEP
    r = rng.random()
    kind = "attach" if r < 0.05 else "alt" if r < 0.25 else "plain"
    word = SEARCH_WORD if rng.random() < 0.01 else None
    body_len = int(min(60000, max(300, rng.lognormvariate(7.75, 0.75))))  # median ~2.3 KB
    subj = rng.choice(_UNI_SUBJ) if rng.random() < 0.2 else " ".join(_words(rng, rng.randint(3, 8))).capitalize()
    if rng.random() < 0.3:
        subj = "Re: " + subj
    mid = f"<{salt}{i}.{rng.getrandbits(48):012x}@bench.outpost.example>"
    h = [f"Return-Path: <bounce-{i}@{rng.choice(_DOMAINS)}>",
         f"Received: from mx{rng.randint(1, 9)}.example.net (mx.example.net [192.0.2.{rng.randint(1, 254)}])\r\n"
         f"\tby mail.example.com (Postfix) with ESMTPS id {rng.getrandbits(40):010X}\r\n\tfor <me@example.com>; {_date(ts)}",
         f"Received: from client.example.org (client.example.org [198.51.100.{rng.randint(1, 254)}])\r\n"
         f"\tby mx.example.net with ESMTPSA id {rng.getrandbits(40):010x}; {_date(ts - 2)}",
         f"Date: {_date(ts - 3)}",
         f"From: {_person(rng)}",
         "To: " + ", ".join(_person(rng) for _ in range(rng.randint(1, 3)))]
    if rng.random() < 0.4:
        h.append("Cc: " + ", ".join(_person(rng) for _ in range(rng.randint(1, 4))))
    h.append(f"Subject: {_enc(subj, rng)}")
    h.append(f"Message-ID: {mid}")
    if subj.startswith("Re: "):
        ref = f"<{rng.getrandbits(48):012x}@bench.outpost.example>"
        h += [f"In-Reply-To: {ref}", f"References: {ref}"]
    h += ["MIME-Version: 1.0", f"X-Mailer: Bench Mailer {rng.randint(1, 9)}.{rng.randint(0, 9)}",
          f"X-Spam-Score: {rng.random() * 5:.2f}"]
    text = _paragraphs(rng, body_len, word)
    if kind == "plain":
        h += ["Content-Type: text/plain; charset=utf-8; format=flowed", "Content-Transfer-Encoding: 7bit"]
        body = text
    else:
        b = f"=_bench_{i}_{rng.getrandbits(32):08x}"
        if kind == "alt":
            h.append(f'Content-Type: multipart/alternative; boundary="{b}"')
            html = "<html><body>\r\n" + "".join(f"<p>{ln}</p>\r\n" for ln in text.split("\r\n") if ln) + \
                "</body></html>\r\n"
            parts = [("text/plain; charset=utf-8", "7bit", text), ("text/html; charset=utf-8", "7bit", html)]
        else:
            h.append(f'Content-Type: multipart/mixed; boundary="{b}"')
            blob = base64.encodebytes(rng.randbytes(100 * 1024)).decode().replace("\n", "\r\n")
            parts = [("text/plain; charset=utf-8", "7bit", text),
                     (f'application/pdf; name="report-{i}.pdf"\r\nContent-Disposition: attachment; '
                      f'filename="report-{i}.pdf"', "base64", blob)]
        body = "This is a multi-part message in MIME format.\r\n\r\n"
        for ctype, cte, content in parts:
            body += f"--{b}\r\nContent-Type: {ctype}\r\nContent-Transfer-Encoding: {cte}\r\n\r\n{content}\r\n"
        body += f"--{b}--\r\n"
    data = ("\r\n".join(h) + "\r\n\r\n" + body).encode()
    f = rng.random()
    flags = ""
    if f < 0.02:
        flags += "F"
    if f < 0.8 and rng.random() < 0.1:
        flags += "R"
    if f < 0.8:
        flags += "S"
    return data, flags, ts


def _write_range(args):
    root, lo, hi = args
    total = 0
    for i in range(lo, hi):
        data, flags, ts = make_message(i)
        name = f"{ts}.M{i % 1000000:06d}P4242.bench,S={len(data)},W={len(data)}:2,{flags}"
        path = os.path.join(root, "cur", name)
        with open(path, "wb") as f:
            f.write(data)
        os.utime(path, (ts, ts))
        total += len(data)
    return total


def write_maildir(root, count, jobs=None):
    """Writes messages 0..count-1 (in parallel); returns the total bytes."""
    import multiprocessing
    for d in ("cur", "new", "tmp"):
        os.makedirs(os.path.join(root, d), exist_ok=True)
    step = 2000
    ranges = [(root, lo, min(count, lo + step)) for lo in range(0, count, step)]
    with multiprocessing.Pool(jobs or os.cpu_count() or 2) as pool:
        return sum(pool.imap_unordered(_write_range, ranges))


if __name__ == "__main__":
    n = int(sys.argv[2])
    t = write_maildir(sys.argv[1], n)
    print(f"{n} messages, {t / 1e6:.0f} MB")
