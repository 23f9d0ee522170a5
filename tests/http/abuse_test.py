#!/usr/bin/env python3
"""The HTTP endpoint of the real daemon under abuse, driven by raw sockets on
loopback while the daemon holds 200k sleeping tasks.

Each case runs its abuse while a scraper fetches /metrics over fresh
connections and checks every answer (200, the exposition format, the live
task count); the scrape must come back within SERVE_WITHIN seconds. The
daemon's resident memory and open file descriptors are sampled throughout
and must stay within bounds of what they were before the abuse. Cases:

  idle       1100 idle connections (the server keeps 256 open): the excess is
             closed, the rest time out, freed slots are reused
  slowloris  50 clients sending one byte a second: the request timeout ends them
  oversized  1 MB of headers, a header line that never ends, a 1 MB URI,
             Content-Length: 10 GB, a chunked body that never ends (400: no
             Transfer-Encoding is accepted)
  malformed  garbage, binary, NUL bytes, HTTP/0.9, the HTTP/2 preface, absurd
             versions, broken framing: 4xx or closed, never 2xx
  methods    everything but GET and HEAD: 405 with Allow: GET, HEAD
  framing    pipelining, half-close, resets before, during and after a response
  no-reader  a client that pipelines requests and never reads the answers:
             the server gives up on the write
  combined   1000 idle connections and 50 slowloris clients, both reconnecting
             within 0.1 s of being closed: scrape latency against a quiet
             baseline in the same run (printed as p50/p99 and their ratio)
  fd limit   a second daemon under RLIMIT_NOFILE 256 with 250 idle connections:
             scrapes and /healthz are still served at once

usage: abuse_test.py BIN
Environment: COROSTORM_SANITIZED=1 for a sanitizer build (slower; looser bounds).
Exit code 0 when every check passed, 1 otherwise.

The same file is the abusing client: abuse_test.py --abuser KIND PORT COUNT
[--reconnect] holds COUNT connections of KIND (idle or slowloris) and answers
"report" and "stop" on stdin with one JSON line on stdout each.
"""

import argparse
import functools
import json
import os
import re
import resource
import selectors
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

SANITIZED = os.environ.get("COROSTORM_SANITIZED") == "1"

TASKS = 200_000
# The server's own limits (server_limits in src/server/http_server.h); the
# daemon does not change them.
MAX_CONNECTIONS = 256
REQUEST_TIMEOUT = 10.0  # seconds

# Generous bounds: the machine is shared and noisy.
SERVE_WITHIN = 15.0 if SANITIZED else 5.0  # seconds for one scrape
TIMEOUT_SLACK = 60.0 if SANITIZED else 20.0  # beyond REQUEST_TIMEOUT
READY_TIMEOUT = 120.0 if SANITIZED else 60.0
MiB = 1024 * 1024
# AddressSanitizer holds freed blocks in a quarantine (256 MiB by default, plus
# their redzones and metadata) before reusing them: under sustained connection
# churn a sanitized daemon grows by about 400 MiB and stays there.
RSS_GROWTH_MAX = 768 * MiB if SANITIZED else 64 * MiB
# Descriptors the daemon may hold beyond its baseline: every connection slot,
# plus a few being accepted or closed at the moment of the sample.
FD_GROWTH_MAX = MAX_CONNECTIONS + 32

STREAM_CAP = 256 * MiB  # a server that reads this much of an endless request has no limit
ABUSE_WINDOW = 3.0  # seconds each short-lived attack is repeated for while scraping
TCP_ESTABLISHED = 1  # tcpi_state values (include/net/tcp_states.h)

FAILURES = []


def log(message):
    print(message, flush=True)


def ok(message):
    log(f"ok   - {message}")


def fail(message):
    FAILURES.append(message)
    log(f"FAIL - {message}")


def check(condition, message, detail=""):
    if condition:
        ok(message)
    else:
        fail(f"{message}: {detail}" if detail else message)
    return condition


class Fatal(Exception):
    """A failure after which later checks mean nothing."""


# ---------------------------------------------------------------- HTTP ----


class Reply:
    def __init__(self, status, headers, body, seconds):
        self.status = status
        self.headers = headers  # names lower-cased
        self.body = body
        self.seconds = seconds


def parse_reply(data, head=False):
    """The first reply in data, or None if data does not hold a whole one."""
    end = data.find(b"\r\n\r\n")
    if end < 0:
        return None, data
    lines = data[:end].split(b"\r\n")
    match = re.match(rb"HTTP/1\.[01] (\d{3}) ", lines[0] + b" ")
    if not match:
        return None, data
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        headers[name.strip().lower().decode("latin-1")] = value.strip().decode("latin-1")
    length = 0 if head else int(headers.get("content-length", "0"))
    rest = data[end + 4 :]
    if len(rest) < length:
        return None, data
    return Reply(int(match.group(1)), headers, rest[:length], 0.0), rest[length:]


def status_of(data):
    """The status code at the start of data, or None."""
    match = re.match(rb"HTTP/1\.[01] (\d{3}) ", data)
    return int(match.group(1)) if match else None


def read_to_close(sock, deadline):
    """Everything the peer sends until it closes or resets; (bytes, how it ended)."""
    data = b""
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return data, "deadline"
        sock.settimeout(left)
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            return data, "reset"
        except socket.timeout:
            return data, "deadline"
        if not chunk:
            return data, "closed"
        data += chunk


def exchange(port, request, timeout=SERVE_WITHIN, head=False):
    """One request on a fresh connection that asks to be closed after it:
    (the reply, timed from connect to its last byte, or None; why there is
    none, or None)."""
    began = time.monotonic()
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
            sock.sendall(request)
            data, ended = read_to_close(sock, began + timeout)
    except OSError as e:
        return None, f"{type(e).__name__} after {time.monotonic() - began:.3f} s: {e}"
    reply, _ = parse_reply(data, head)
    if reply is None:
        return None, f"{len(data)} bytes, no whole reply, then {ended} after {time.monotonic() - began:.3f} s"
    reply.seconds = time.monotonic() - began
    return reply, None


def fetch(port, request, timeout=SERVE_WITHIN, head=False):
    """exchange()'s reply alone."""
    return exchange(port, request, timeout, head)[0]


def get_request(path):
    return f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode()


def get(port, path, timeout=SERVE_WITHIN):
    return fetch(port, get_request(path), timeout)


SAMPLE_LINE = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[^{}]*\})? [^ ]+$")
LIVE_LINE = re.compile(r'^corostorm_tasks_live\{[^}]*workload="idle"[^}]*\} (\S+)$', re.M)


def metrics_problem(reply):
    """Why a /metrics reply is not a valid scrape of the daemon, or None."""
    if reply is None:
        return "no reply"
    if reply.status != 200:
        return f"status {reply.status}"
    if not reply.headers.get("content-type", "").startswith("text/plain; version=0.0.4"):
        return f"content type {reply.headers.get('content-type')!r}"
    try:
        text = reply.body.decode("utf-8")
    except UnicodeDecodeError:
        return "body is not UTF-8"
    if not text.endswith("\n"):
        return "body does not end with a newline"
    for line in text.splitlines():
        if line and not line.startswith("#") and not SAMPLE_LINE.match(line):
            return f"not a sample line: {line[:120]!r}"
    if "# TYPE corostorm_tasks_live gauge" not in text:
        return "no TYPE line for corostorm_tasks_live"
    live = LIVE_LINE.search(text)
    if live is None or float(live.group(1)) != TASKS:
        return f"corostorm_tasks_live is {live.group(1) if live else 'missing'}, want {TASKS}"
    return None


def tcp_state(sock):
    """The kernel's TCP state of sock (1 = established; 8 = the peer closed)."""
    return sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 8)[0]


def reset(sock):
    """Closes sock with a reset (RST) instead of a FIN."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def percentile(values, q):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


# ------------------------------------------------------------ the daemon ----


class Daemon:
    SERVING = re.compile(r"serving /metrics /healthz /readyz /status on 127\.0\.0\.1:(\d+)")
    CRASH = re.compile(
        r"ERROR: (Address|Leak|Thread|Memory)Sanitizer|runtime error:|terminate called"
        r"|Aborted|Segmentation fault"
    )

    def __init__(self, binary, scratch, name="corostorm", nofile=None):
        """nofile: RLIMIT_NOFILE (soft and hard) to run the daemon under."""
        self.log_path = os.path.join(scratch, f"{name}.log")
        self.log_file = open(self.log_path, "wb")

        def limit_descriptors():
            if nofile is not None:
                resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))

        self.proc = subprocess.Popen(
            [
                binary,
                "run",
                "--set",
                "server.listen=127.0.0.1:0",
                "--set",
                "runtime.threads=2",
                "--set",
                "scenario.stages[0].tasks=200k",
                "--set",
                "scenario.stages[0].over=2s",
                "--set",
                "workloads[0].period=1s",
            ],
            stdin=subprocess.DEVNULL,
            stdout=self.log_file,
            stderr=subprocess.STDOUT,
            preexec_fn=limit_descriptors,
        )
        self.pid = self.proc.pid
        self.port = None

    def wait_listening(self):
        deadline = time.monotonic() + READY_TIMEOUT
        while self.port is None:
            match = self.SERVING.search(self.log())
            if match:
                self.port = int(match.group(1))
            elif self.proc.poll() is not None:
                raise Fatal(f"the daemon exited with {self.proc.returncode} before serving")
            elif time.monotonic() > deadline:
                raise Fatal("the daemon did not log its listening address")
            else:
                time.sleep(0.05)

    def log(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def alive(self):
        return self.proc.poll() is None

    def rss(self):
        with open(f"/proc/{self.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
        raise Fatal("no VmRSS in /proc/PID/status")

    def fds(self):
        return len(os.listdir(f"/proc/{self.pid}/fd"))

    def crash_report(self):
        match = self.CRASH.search(self.log())
        return match.group(0) if match else None

    def stop(self, timeout):
        """SIGTERM and wait; the exit code, or None if it had to be killed."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            return None
        finally:
            self.log_file.close()


# ------------------------------------------------------------- the scraper ----


class Watch:
    """Scrapes /metrics and samples the daemon's memory and descriptors; every
    scrape must be valid and prompt, every sample within bounds."""

    def __init__(self, daemon, rss_base, fd_base):
        self.daemon = daemon
        self.rss_base = rss_base
        self.fd_base = fd_base
        self.rss_max = rss_base
        self.fd_max = fd_base

    def sample(self):
        self.rss_max = max(self.rss_max, self.daemon.rss())
        self.fd_max = max(self.fd_max, self.daemon.fds())

    def scrape(self, what):
        """One checked scrape; its latency in seconds, or None (a failure recorded)."""
        if not self.daemon.alive():
            raise Fatal(f"{what}: the daemon died (exit code {self.daemon.proc.returncode})")
        reply, why = exchange(self.daemon.port, get_request("/metrics"))
        self.sample()
        problem = metrics_problem(reply)
        if problem is not None:
            fail(f"{what}: /metrics during the abuse: {problem}" + (f" ({why})" if why else ""))
            return None
        if reply.seconds > SERVE_WITHIN:
            fail(f"{what}: /metrics took {reply.seconds:.2f} s, want < {SERVE_WITHIN} s")
            return None
        return reply.seconds

    def scrape_until(self, what, done, timeout, pause=0.1):
        """Scrapes every `pause` s until done() holds or timeout passes; returns
        whether done() held, and how many scrapes were served well."""
        deadline = time.monotonic() + timeout
        served = 0
        while True:
            if done():
                return True, served
            if time.monotonic() > deadline:
                return False, served
            served += self.scrape(what) is not None
            time.sleep(pause)

    def check_bounds(self, what):
        growth = self.rss_max - self.rss_base
        check(
            growth < RSS_GROWTH_MAX,
            f"{what}: resident memory grew {growth / MiB:.1f} MiB at most"
            f" (bound {RSS_GROWTH_MAX // MiB} MiB)",
            f"{self.rss_base / MiB:.1f} -> {self.rss_max / MiB:.1f} MiB",
        )
        check(
            self.fd_max - self.fd_base <= FD_GROWTH_MAX,
            f"{what}: open descriptors grew by {self.fd_max - self.fd_base} at most (bound {FD_GROWTH_MAX})",
            f"{self.fd_base} -> {self.fd_max}",
        )


# ------------------------------------------------------------- abusers ----


class AbuserProcess:
    """A separate process holding idle or slowloris connections (see --abuser),
    so that its work does not slow the scraper's own measurements."""

    def __init__(self, kind, port, count, reconnect=False):
        args = [sys.executable, os.path.abspath(__file__), "--abuser", kind, str(port), str(count)]
        if reconnect:
            args.append("--reconnect")
        self.proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        ready = self._line()
        if ready.get("ready") != count:
            raise Fatal(f"{kind} abuser did not open its connections: {ready}")

    def _line(self):
        line = self.proc.stdout.readline()
        if not line:
            raise Fatal(f"an abuser process exited with {self.proc.wait()}")
        return json.loads(line)

    def report(self):
        self.proc.stdin.write("report\n")
        self.proc.stdin.flush()
        return self._line()

    def stop(self):
        if self.proc.poll() is None:
            try:
                self.proc.stdin.write("stop\n")
                self.proc.stdin.flush()
                final = self._line()
            except (BrokenPipeError, Fatal):
                final = None
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            return final
        return None


def run_abuser(kind, port, count, reconnect):
    """The --abuser process: holds `count` connections; answers stdin commands."""
    raise_fd_limit(count + 64)
    prefix = b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slowloris: " if kind == "slowloris" else b""
    sel = selectors.DefaultSelector()
    conns = {}  # fd -> [socket, opened at, first bytes received]
    # Lifetimes are of the connections the server closed, from connect to close seen.
    stats = {"opened": 0, "closed_by_peer": 0, "shortest_life": None, "longest_life": None, "answers": {}}

    def open_one():
        sock = socket.create_connection(("127.0.0.1", port))
        if prefix:
            sock.sendall(prefix)
        sock.setblocking(False)
        conns[sock.fileno()] = [sock, time.monotonic(), b""]
        sel.register(sock, selectors.EVENT_READ)
        stats["opened"] += 1

    def closed_by_peer(fd):
        sock, opened, received = conns.pop(fd)
        sel.unregister(sock)
        sock.close()
        stats["closed_by_peer"] += 1
        life = round(time.monotonic() - opened, 3)
        stats["shortest_life"] = min(life, stats["shortest_life"] or life)
        stats["longest_life"] = max(life, stats["longest_life"] or life)
        answer = str(status_of(received)) if received else "none"
        stats["answers"][answer] = stats["answers"].get(answer, 0) + 1

    def report(**extra):
        print(json.dumps({"open": len(conns), **stats, **extra}), flush=True)

    for _ in range(count):
        open_one()
    report(ready=count)
    sel.register(sys.stdin, selectors.EVENT_READ)
    next_tick = time.monotonic() + 1.0
    next_reconnect = 0.0
    while True:
        for key, _ in sel.select(timeout=max(0.0, min(0.1, next_tick - time.monotonic()))):
            if key.fileobj is sys.stdin:
                command = sys.stdin.readline().strip()
                if command in ("stop", ""):
                    report()
                    for sock, _, _ in conns.values():
                        sock.close()
                    return
                report()
                continue
            fd = key.fileobj.fileno()
            try:
                data = key.fileobj.recv(4096)
            except BlockingIOError:
                continue
            except ConnectionResetError:
                data = b""
            if not data:
                closed_by_peer(fd)
            elif len(conns[fd][2]) < 64:
                conns[fd][2] += data
        if time.monotonic() >= next_tick:
            next_tick += 1.0
            if kind == "slowloris":
                for fd in list(conns):
                    try:
                        conns[fd][0].send(b"a")
                    except (BrokenPipeError, ConnectionResetError):
                        closed_by_peer(fd)
                    except BlockingIOError:
                        pass
        # Closed connections come back at most ten times a second, in one burst.
        if reconnect and len(conns) < count and time.monotonic() >= next_reconnect:
            next_reconnect = time.monotonic() + 0.1
            while len(conns) < count:
                open_one()


def raise_fd_limit(want):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < want:
        if hard != resource.RLIM_INFINITY and hard < want:
            raise Fatal(f"need {want} open files, the hard limit is {hard} (raise it with ulimit -Hn)")
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))


def stream_until_closed(port, head, chunk=None, cap=STREAM_CAP, timeout=REQUEST_TIMEOUT + TIMEOUT_SLACK):
    """Sends `head`, then `chunk` over and over, reading whatever comes back,
    until the server closes or resets the connection; `cap` bytes sent or the
    timeout end it otherwise. Returns (how it ended: closed, reset, cap or
    deadline; bytes sent; the first bytes received)."""
    deadline = time.monotonic() + timeout
    sent, answer, pending = 0, b"", head
    with socket.create_connection(("127.0.0.1", port)) as sock, selectors.DefaultSelector() as sel:
        sock.setblocking(False)
        sel.register(sock, selectors.EVENT_READ | selectors.EVENT_WRITE)
        while time.monotonic() < deadline:
            for _, mask in sel.select(timeout=0.5):
                if mask & selectors.EVENT_READ:
                    try:
                        data = sock.recv(65536)
                    except ConnectionResetError:
                        return "reset", sent, answer
                    if not data:
                        return "closed", sent, answer
                    answer = (answer + data)[:4096]
                if mask & selectors.EVENT_WRITE:
                    if not pending:
                        if chunk is None:
                            sel.modify(sock, selectors.EVENT_READ)
                            continue
                        if sent >= cap:
                            return "cap", sent, answer
                        pending = chunk
                    try:
                        n = sock.send(pending)
                    except (BrokenPipeError, ConnectionResetError):
                        return "reset", sent, answer
                    except BlockingIOError:
                        continue
                    pending = pending[n:]
                    sent += n
    return "deadline", sent, answer


class Repeat(threading.Thread):
    """Runs attempt() over and over for `duration` seconds (at least once),
    keeping each result in `results`; stops early when one is not acceptable."""

    def __init__(self, name, duration, attempt, acceptable):
        super().__init__(name=name, daemon=True)
        self.duration, self.attempt, self.acceptable = duration, attempt, acceptable
        self.results = []

    def run(self):
        until = time.monotonic() + self.duration
        while True:
            self.results.append(self.attempt())
            if not self.acceptable(self.results[-1]) or time.monotonic() >= until:
                return

    def failures(self):
        return [r for r in self.results if not self.acceptable(r)]


# --------------------------------------------------------------- cases ----


def case_idle(daemon, watch):
    log("# idle: 1100 connections that send nothing")
    abuser = AbuserProcess("idle", daemon.port, 1100)
    try:
        excess = 1100 - MAX_CONNECTIONS
        state = {}

        def excess_closed():
            state.update(abuser.report())
            return state["closed_by_peer"] >= excess

        held, _ = watch.scrape_until("idle", excess_closed, SERVE_WITHIN * 2)
        check(
            held and state["open"] <= MAX_CONNECTIONS,
            f"idle: the server keeps at most {MAX_CONNECTIONS} open and closes the other {excess}",
            f"{state['open']} still open, {state['closed_by_peer']} closed",
        )
        # Every slot is taken by a connection that sends nothing; a scraper still gets in.
        holding = abuser.report()["open"]
        served = sum(watch.scrape("idle") is not None for _ in range(10))
        check(
            served == 10 and holding >= MAX_CONNECTIONS - 10,
            f"idle: 10 scrapes served while {holding} idle connections held the slots",
            f"{served} served, {holding} idle connections open",
        )
        gone, served = watch.scrape_until(
            "idle", lambda: abuser.report()["open"] == 0, REQUEST_TIMEOUT + TIMEOUT_SLACK, pause=0.5
        )
        final = abuser.report()
        check(
            gone,
            f"idle: the held connections are closed by the request timeout"
            f" ({served} scrapes served meanwhile)",
            f"{final['open']} still open after {REQUEST_TIMEOUT + TIMEOUT_SLACK:.0f} s",
        )
        answered = {k: v for k, v in final["answers"].items() if k != "none"}
        check(not answered, "idle: connections that sent nothing were answered nothing", str(answered))
    finally:
        abuser.stop()
    # Freed slots are reused: 200 new connections fit without any being evicted.
    fresh = AbuserProcess("idle", daemon.port, 200)
    try:
        watch.scrape_until("idle", lambda: False, 2.0)
        report = fresh.report()
        check(
            report["closed_by_peer"] == 0 and report["open"] == 200,
            "idle: once closed, the slots are free again (200 new connections all held)",
            json.dumps({k: report[k] for k in ("open", "closed_by_peer")}),
        )
    finally:
        fresh.stop()
    watch.check_bounds("idle")


def case_slowloris(daemon, watch):
    log("# slowloris: 50 clients sending a request one byte a second")
    abuser = AbuserProcess("slowloris", daemon.port, 50)
    try:
        began = time.monotonic()
        done, served = watch.scrape_until(
            "slowloris", lambda: abuser.report()["open"] == 0, REQUEST_TIMEOUT + TIMEOUT_SLACK, pause=0.25
        )
        elapsed = time.monotonic() - began
        final = abuser.report()
        check(
            done,
            f"slowloris: all 50 cut off by the request timeout within {elapsed:.1f} s"
            f" ({served} scrapes served meanwhile)",
            f"{final['open']} still trickling",
        )
        if final["shortest_life"] is not None:
            # They must not have been served or cut at once: they trickled until the timeout.
            check(
                final["shortest_life"] >= REQUEST_TIMEOUT / 2,
                f"slowloris: each lasted {final['shortest_life']:.1f} s or more"
                f" (the request timeout is {REQUEST_TIMEOUT:.0f} s)",
                f"one was closed after {final['shortest_life']:.1f} s",
            )
        answered = {k: v for k, v in final["answers"].items() if k not in ("none", "408", "400")}
        check(not answered, "slowloris: no incomplete request was answered as if whole", str(answered))
    finally:
        abuser.stop()
    watch.check_bounds("slowloris")


def case_oversized(daemon, watch):
    log(f"# oversized: headers, header lines, URIs and bodies without end, repeated for {ABUSE_WINDOW:.0f} s")
    port = daemon.port
    request = b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    huge_length = b"Content-Length: 10000000000\r\n\r\n"
    fields = b"".join(b"X-Fill-%05d: %s\r\n" % (i, b"h" * 86) for i in range(10_000))  # 1 MB
    attacks = [
        ("1 MB of headers", request + fields + b"\r\n", None, {431}),
        ("a header line that never ends", request + b"X-Endless: ", b"e" * 65536, {431}),
        ("a 1 MB URI", b"GET /" + b"u" * MiB + b" HTTP/1.1\r\n\r\n", None, {400, 414, 431}),
        ("Content-Length: 10 GB, body sent", request + huge_length, b"b" * 65536, {413}),
        (
            "a chunked body that never ends",
            request + b"Transfer-Encoding: chunked\r\n\r\n",
            b"10000\r\n" + b"c" * 65536 + b"\r\n",
            {400},  # any Transfer-Encoding is refused once the header is read
        ),
    ]
    threads = []
    for name, head, chunk, statuses in attacks:

        def acceptable(result, statuses=statuses):
            how, _, answer = result
            # The server may close with part of the request unread, and the reset
            # that follows may then beat its answer to the client.
            return how in ("closed", "reset") and (not answer or status_of(answer) in statuses)

        attempt = functools.partial(stream_until_closed, port, head, chunk)
        threads.append((Repeat(name, ABUSE_WINDOW, attempt, acceptable), statuses))
    for thread, _ in threads:
        thread.start()
    timeout = ABUSE_WINDOW + REQUEST_TIMEOUT + TIMEOUT_SLACK
    done, served = watch.scrape_until("oversized", lambda: not any(t.is_alive() for t, _ in threads), timeout)
    check(done, f"oversized: every attack ended ({served} scrapes served meanwhile)")
    for thread, statuses in threads:
        thread.join(SERVE_WITHIN)
        answers = sorted({str(status_of(answer)) if answer else "none" for _, _, answer in thread.results})
        most = max((sent for _, sent, _ in thread.results), default=0)
        bad = thread.failures()
        check(
            thread.results and not bad,
            f"oversized: {thread.name}: {len(thread.results)} tries, each closed or reset by the server"
            f" after {most / MiB:.1f} MiB at most; answers {', '.join(answers)}",
            f"{bad[0][0]} after {bad[0][1]} bytes, answer {bad[0][2][:60]!r}; want one of {sorted(statuses)}"
            if bad
            else "no try",
        )
    # With nothing sent past the headers, the refusal is always seen.
    with socket.create_connection(("127.0.0.1", port), timeout=SERVE_WITHIN) as sock:
        sock.sendall(request + huge_length)
        data, how = read_to_close(sock, time.monotonic() + SERVE_WITHIN)
    reply, _ = parse_reply(data)
    check(
        reply is not None and reply.status == 413 and how == "closed",
        "oversized: Content-Length: 10 GB is answered 413 before any body byte, then closed",
        f"{data[:60]!r}, {how}",
    )
    watch.check_bounds("oversized")


MALFORMED = [
    ("garbage", b"GARBAGE\r\n\r\n"),
    ("binary", bytes(range(256)) * 4),
    ("NUL bytes only", b"\x00" * 1024),
    ("NUL in the target", b"GET /met\x00rics HTTP/1.1\r\nHost: x\r\n\r\n"),
    ("NUL in a header", b"GET /metrics HTTP/1.1\r\nHost: x\x00y\r\n\r\n"),
    ("HTTP/0.9", b"GET /metrics\r\n"),
    ("HTTP/2 preface", b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"),
    ("HTTP/2.0", b"GET /metrics HTTP/2.0\r\nHost: x\r\n\r\n"),
    ("HTTP/9.9", b"GET /metrics HTTP/9.9\r\nHost: x\r\n\r\n"),
    ("HTTP/1.12345", b"GET /metrics HTTP/1.12345\r\nHost: x\r\n\r\n"),
    ("HTTP/-1", b"GET /metrics HTTP/-1\r\nHost: x\r\n\r\n"),
    ("HTTPS/1.1", b"GET /metrics HTTPS/1.1\r\nHost: x\r\n\r\n"),
    ("no version", b"GET /metrics\r\nHost: x\r\n\r\n"),
    ("request line only spaces", b"   \r\n\r\n"),
    ("empty method", b" /metrics HTTP/1.1\r\nHost: x\r\n\r\n"),
    ("two spaces", b"GET  /metrics HTTP/1.1\r\nHost: x\r\n\r\n"),
    ("space in the target", b"GET /met rics HTTP/1.1\r\nHost: x\r\n\r\n"),
    ("header without a colon", b"GET /metrics HTTP/1.1\r\nHost: x\r\nNoColon\r\n\r\n"),
    ("space before the colon", b"GET /metrics HTTP/1.1\r\nHost : x\r\n\r\n"),
    ("negative Content-Length", b"GET /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n"),
    (
        "two Content-Lengths",
        b"GET /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
    ),
    (
        "Content-Length and chunked",
        b"GET /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"0\r\n\r\n",
    ),
    ("bad chunk size", b"GET /metrics HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"),
    ("xchunked coding", b"GET /metrics HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: xchunked\r\n\r\n"),
    ("Transfer-Encoding: gzip", b"GET /metrics HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n"),
    ("empty Transfer-Encoding", b"GET /metrics HTTP/1.1\r\nHost: x\r\nTransfer-Encoding:\r\n\r\n"),
    (
        "chunked, empty body",
        b"GET /metrics HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    ),
    ("TLS client hello", bytes.fromhex("160301020001000200030300") + b"\x00" * 500),
]


def case_malformed(daemon, watch):
    log(f"# malformed requests, each sent again and again for {ABUSE_WINDOW:.0f} s")

    def attempt():
        results = []
        for name, data in MALFORMED:
            try:
                with socket.create_connection(("127.0.0.1", daemon.port), timeout=SERVE_WITHIN) as sock:
                    sock.sendall(data)
                    answer, how = read_to_close(sock, time.monotonic() + SERVE_WITHIN)
            except (BrokenPipeError, ConnectionResetError):
                answer, how = b"", "reset"
            results.append((name, answer, how))
        return results

    def acceptable_one(result):
        _, answer, how = result
        status = status_of(answer)
        return how != "deadline" and (not answer if status is None else 400 <= status < 500)

    sender = Repeat("malformed", ABUSE_WINDOW, attempt, lambda batch: all(map(acceptable_one, batch)))
    sender.start()
    timeout = ABUSE_WINDOW + SERVE_WITHIN * len(MALFORMED)
    watch.scrape_until("malformed", lambda: not sender.is_alive(), timeout)
    sender.join(SERVE_WITHIN)
    rounds = sender.results
    check(bool(rounds), f"malformed: {len(rounds)} rounds of {len(MALFORMED)} requests sent")
    for i, (name, _) in enumerate(MALFORMED):
        seen = [batch[i] for batch in rounds if i < len(batch)]
        bad = [r for r in seen if not acceptable_one(r)]
        answers = sorted({f"{status_of(answer) or 'no answer'}, then {how}" for _, answer, how in seen})
        check(
            seen and not bad,
            f"malformed: {name}: {'; '.join(answers)}",
            f"answer {bad[0][1][:60]!r}, ended by {bad[0][2]}; want a 4xx or nothing, then a close"
            if bad
            else "not sent",
        )
    watch.check_bounds("malformed")


def case_methods(daemon, watch):
    log("# methods other than GET and HEAD")
    port = daemon.port
    for method, target in [
        ("POST", "/metrics"),
        ("PUT", "/metrics"),
        ("DELETE", "/metrics"),
        ("PATCH", "/healthz"),
        ("OPTIONS", "*"),
        ("OPTIONS", "/metrics"),
        ("TRACE", "/metrics"),
        ("CONNECT", "127.0.0.1:443"),
        ("get", "/metrics"),
        ("Get", "/metrics"),
        ("head", "/metrics"),
        ("BREW", "/coffee"),
        ("M" * 1000, "/metrics"),
    ]:
        request = f"{method} {target} HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        reply = fetch(port, request.encode())
        check(
            reply is not None and reply.status == 405 and reply.headers.get("allow") == "GET, HEAD",
            f"methods: {method[:20]} {target}: 405, Allow: GET, HEAD",
            "no reply" if reply is None else f"{reply.status}, Allow {reply.headers.get('allow')!r}",
        )
    head = fetch(port, b"HEAD /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", head=True)
    check(
        head is not None and head.status == 200 and int(head.headers.get("content-length", "0")) > 0,
        "methods: HEAD /metrics 200 with the GET's Content-Length",
    )
    # TE lists the codings a client accepts in a response; the server applies none, so
    # any value is ignored (unlike Transfer-Encoding, which is refused).
    te = fetch(port, b"GET /healthz HTTP/1.1\r\nHost: x\r\nTE: xchunked\r\nConnection: close\r\n\r\n")
    check(
        te is not None and te.status == 200 and "transfer-encoding" not in te.headers,
        "methods: TE: xchunked is ignored: 200, framed by Content-Length",
        "no reply" if te is None else f"{te.status}, {te.headers}",
    )
    watch.scrape("methods")
    watch.check_bounds("methods")


def case_framing(daemon, watch):
    log("# pipelining, half-close, resets")
    port = daemon.port
    with socket.create_connection(("127.0.0.1", port), timeout=SERVE_WITHIN) as sock:
        sock.sendall(
            b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"
            b"HEAD /metrics HTTP/1.1\r\nHost: x\r\n\r\n"
            b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
            b"POST /status HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nab"
            b"GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        data, how = read_to_close(sock, time.monotonic() + SERVE_WITHIN)
    replies = []
    for head in (False, True, False, False, False):
        reply, data = parse_reply(data, head)
        replies.append(reply)
    statuses = [r.status if r else None for r in replies]
    check(
        statuses == [200, 200, 200, 405, 200]
        and metrics_problem(replies[0]) is None
        and not data
        and how == "closed",
        "framing: five pipelined requests, five replies in order, then closed",
        f"{statuses}, {len(data)} bytes left over, {how}",
    )

    # One hundred pipelined scrapes in one write.
    with socket.create_connection(("127.0.0.1", port), timeout=SERVE_WITHIN) as sock:
        scrape = b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"
        sock.sendall(scrape * 99 + scrape.replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n"))
        data, how = read_to_close(sock, time.monotonic() + SERVE_WITHIN * 4)
    good = 0
    while True:
        reply, data = parse_reply(data)
        if reply is None or metrics_problem(reply) is not None:
            break
        good += 1
    check(good == 100 and how == "closed", "framing: 100 pipelined scrapes all answered", f"{good}, {how}")

    # Half-closed: the request, then FIN; the whole reply still comes.
    with socket.create_connection(("127.0.0.1", port), timeout=SERVE_WITHIN) as sock:
        sock.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        sock.shutdown(socket.SHUT_WR)
        data, how = read_to_close(sock, time.monotonic() + SERVE_WITHIN)
    reply, rest = parse_reply(data)
    check(
        metrics_problem(reply) is None and not rest and how == "closed",
        "framing: a half-closed client gets its whole reply, then the server closes",
        f"{metrics_problem(reply)}, {how}",
    )
    # Half-closed in the middle of a request: closed, nothing answered.
    with socket.create_connection(("127.0.0.1", port), timeout=SERVE_WITHIN) as sock:
        sock.sendall(b"GET /metrics HTTP/1.1\r\nHost:")
        sock.shutdown(socket.SHUT_WR)
        data, how = read_to_close(sock, time.monotonic() + SERVE_WITHIN)
    check(
        how == "closed" and (not data or 400 <= (status_of(data) or 0) < 500),
        "framing: half-closed mid-request: closed without a 2xx",
        f"{data[:60]!r}, {how}",
    )

    # Resets: right after connecting, mid-request, after the request, mid-reply.
    resets = 0
    for i in range(400):
        sock = socket.create_connection(("127.0.0.1", port), timeout=SERVE_WITHIN)
        if i % 4 == 1:
            sock.sendall(b"GET /metrics HTTP/1.1\r\nHo")
        elif i % 4 == 2:
            sock.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        elif i % 4 == 3:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            sock.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n" * 4)
            sock.recv(100)
        reset(sock)
        resets += 1
        if i % 50 == 0:
            watch.scrape("framing")
    health = get(port, "/healthz")
    check(
        health is not None and health.status == 200 and watch.scrape("framing") is not None,
        f"framing: {resets} resets before, during and after requests and replies; still serving",
    )
    watch.check_bounds("framing")


def case_no_reader(daemon, watch):
    log("# a client that asks for /metrics and never reads the answers")
    port = daemon.port
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", port))
    sock.setblocking(False)
    # Requests until the server stops taking them (its replies fill every buffer).
    request = b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"
    wanted = 5000
    sent = 0
    stalled_since = None
    while sent < wanted:
        try:
            n = sock.send(request)
        except BlockingIOError:
            n = 0
        if n == len(request):
            sent += 1
            stalled_since = None
            continue
        if n:
            # A partial request would be a malformed one; finish it.
            sock.setblocking(True)
            sock.sendall(request[n:])
            sock.setblocking(False)
            sent += 1
            continue
        stalled_since = stalled_since or time.monotonic()
        if time.monotonic() - stalled_since > 2.0:
            break
        time.sleep(0.01)
    log(f"     {sent} pipelined requests sent; no reply will be read until the server closes")
    ended, served = watch.scrape_until(
        "no-reader", lambda: tcp_state(sock) != TCP_ESTABLISHED, REQUEST_TIMEOUT + TIMEOUT_SLACK, pause=0.25
    )
    check(
        ended,
        f"no-reader: the server gives up on the unread replies and closes"
        f" ({served} scrapes served meanwhile)",
        f"still established after {REQUEST_TIMEOUT + TIMEOUT_SLACK:.0f} s",
    )
    sock.setblocking(True)
    data, how = read_to_close(sock, time.monotonic() + SERVE_WITHIN)
    sock.close()
    replies = data.count(b"HTTP/1.1 200 OK\r\n")
    check(
        how in ("closed", "reset") and replies < sent,
        f"no-reader: the connection ended ({how}) with {replies} of {sent} replies received",
        f"{how}, {replies} replies",
    )
    watch.check_bounds("no-reader")


def case_combined(daemon, watch, baseline):
    log("# combined: 1000 idle connections and 50 slowloris clients, both reconnecting")
    idle = AbuserProcess("idle", daemon.port, 1000, reconnect=True)
    slow = AbuserProcess("slowloris", daemon.port, 50, reconnect=True)
    try:
        latencies = []
        failures_before = len(FAILURES)
        rss_peak = daemon.rss()
        began = time.monotonic()
        for _ in range(len(baseline)):
            seconds = watch.scrape("combined")
            if seconds is not None:
                latencies.append(seconds)
            rss_peak = max(rss_peak, daemon.rss())
            time.sleep(0.025)
        idle_report, slow_report = idle.report(), slow.report()
        window = time.monotonic() - began
    finally:
        idle.stop()
        slow.stop()
    check(
        len(FAILURES) == failures_before and len(latencies) == len(baseline),
        f"combined: all {len(latencies)} scrapes served, valid, each within {SERVE_WITHIN} s",
    )
    closed = idle_report["closed_by_peer"] + slow_report["closed_by_peer"]
    check(
        idle_report["closed_by_peer"] > 0 and slow_report["opened"] >= 50,
        f"combined: the abuse went on for {window:.1f} s: {idle_report['opened']} idle and"
        f" {slow_report['opened']} slowloris connections opened, {closed} closed by the server"
        f" ({closed / window:.0f} a second)",
    )
    if latencies:
        b50, b99 = percentile(baseline, 0.5), percentile(baseline, 0.99)
        a50, a99 = percentile(latencies, 0.5), percentile(latencies, 0.99)
        log(
            f"     scrape latency, {len(baseline)} scrapes each:"
            f" quiet p50 {b50 * 1e3:.2f} ms p99 {b99 * 1e3:.2f} ms;"
            f" under abuse p50 {a50 * 1e3:.2f} ms p99 {a99 * 1e3:.2f} ms;"
            f" ratio p50 {a50 / b50:.2f}x p99 {a99 / b99:.2f}x"
        )
        log(
            f"     resident memory: {watch.rss_base / MiB:.1f} MiB before any abuse,"
            f" peak {rss_peak / MiB:.1f} MiB in this case (+{(rss_peak - watch.rss_base) / MiB:.1f} MiB),"
            f" peak growth over all cases +{(watch.rss_max - watch.rss_base) / MiB:.1f} MiB"
        )
    watch.check_bounds("combined")


def case_descriptor_limit(binary, scratch):
    """A second daemon, limited to 256 descriptors (soft and hard, as `ulimit -n
    256` sets them): 250 idle connections would take the last of them before
    the server's own limit of 256 connections is reached."""
    log("# descriptor limit: a daemon under RLIMIT_NOFILE 256 holding 250 idle connections")
    daemon = Daemon(binary, scratch, name="fd-limit", nofile=256)
    try:
        daemon.wait_listening()
        wait_ready(daemon)
        watch = Watch(daemon, daemon.rss(), daemon.fds())
        abuser = AbuserProcess("idle", daemon.port, 250)
        try:
            served = sum(watch.scrape("descriptor limit") is not None for _ in range(10))
            health = [get(daemon.port, "/healthz") for _ in range(10)]
            healthy = sum(r is not None and r.status == 200 and r.seconds < SERVE_WITHIN for r in health)
            fds = daemon.fds()
            check(
                served == 10 and healthy == 10,
                f"descriptor limit: 10 scrapes and 10 /healthz served promptly next to 250 idle"
                f" connections ({fds} of 256 descriptors open)",
                f"{served} scrapes, {healthy} /healthz served",
            )
        finally:
            abuser.stop()
    finally:
        rc = daemon.stop(60 if SANITIZED else 30)
        check(rc == 0, "descriptor limit: SIGTERM: the daemon exits 0", f"exit code {rc}")
        crash = daemon.crash_report()
        check(crash is None, "descriptor limit: no crash or sanitizer report", crash or "")


# ---------------------------------------------------------------- main ----


def wait_ready(daemon):
    deadline = time.monotonic() + READY_TIMEOUT
    problem = "not asked"
    while time.monotonic() < deadline:
        if not daemon.alive():
            raise Fatal(f"the daemon exited with {daemon.proc.returncode} during its ramp")
        problem = metrics_problem(get(daemon.port, "/metrics"))
        if problem is None:
            return
        time.sleep(0.2)
    raise Fatal(f"/metrics did not show {TASKS} live tasks within {READY_TIMEOUT:.0f} s: {problem}")


def run(binary):
    raise_fd_limit(4096)
    with tempfile.TemporaryDirectory(prefix="corostorm-http-") as scratch:
        daemon = Daemon(binary, scratch)
        try:
            daemon.wait_listening()
            ok(f"daemon listening on port {daemon.port} (pid {daemon.pid})")
            wait_ready(daemon)
            ok(f"{TASKS} tasks live")
            for _ in range(20):  # warm up: the first scrapes allocate what later ones reuse
                get(daemon.port, "/metrics")
            watch = Watch(daemon, daemon.rss(), daemon.fds())
            log(f"     baseline: resident {watch.rss_base / MiB:.1f} MiB, {watch.fd_base} descriptors")

            baseline = []
            for _ in range(200):
                seconds = watch.scrape("baseline")
                if seconds is not None:
                    baseline.append(seconds)
                time.sleep(0.025)
            check(len(baseline) == 200, "baseline: 200 quiet scrapes served")

            cases = (case_idle, case_slowloris, case_oversized, case_malformed, case_methods, case_framing)
            for case in cases + (case_no_reader,):
                case(daemon, watch)
            case_combined(daemon, watch, baseline)

            for path in ("/healthz", "/readyz"):
                reply = get(daemon.port, path)
                check(reply is not None and reply.status == 200, f"after the abuse: {path} 200")
            check(metrics_problem(get(daemon.port, "/metrics")) is None, "after the abuse: /metrics valid")
            text = daemon.log()
            markers = ("X-Slowloris", "X-Endless", "X-Fill", "PRI *", "uuuuuuuu", "MMMMMMMM")
            leaked = [marker for marker in markers if marker in text]
            check(
                not leaked and len(text) < 64 * 1024,
                f"the log echoes no request ({len(text)} bytes)",
                f"found {leaked}",
            )
        except Fatal as e:
            fail(str(e))
        finally:
            rc = daemon.stop(60 if SANITIZED else 30)
            check(rc == 0, "SIGTERM: the daemon exits 0", f"exit code {rc}")
            crash = daemon.crash_report()
            check(crash is None, "the daemon's log has no crash or sanitizer report", crash or "")
            if FAILURES:
                log("---- last lines of the daemon's log ----")
                log("\n".join(daemon.log().splitlines()[-40:]))
        try:
            case_descriptor_limit(binary, scratch)
        except Fatal as e:
            fail(str(e))
    if FAILURES:
        log(f"{len(FAILURES)} check(s) failed")
        return 1
    log("all HTTP abuse checks passed")
    return 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("binary", nargs="?")
    parser.add_argument("--abuser", nargs=3, metavar=("KIND", "PORT", "COUNT"))
    parser.add_argument("--reconnect", action="store_true")
    args = parser.parse_args()
    if args.abuser:
        kind, port, count = args.abuser
        run_abuser(kind, int(port), int(count), args.reconnect)
        return 0
    if not args.binary or not os.access(args.binary, os.X_OK):
        parser.error("BIN must be the corostorm executable")
    return run(args.binary)


if __name__ == "__main__":
    sys.exit(main())
