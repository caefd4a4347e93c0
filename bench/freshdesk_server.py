"""A local server that speaks the Freshdesk API v2 agents contract, for the tests and the extraction benchmark.

    python -m bench.freshdesk_server --agents 10000 --deactivated 500 --rate-limit 400 --latency 0.25 \
        --port 8089 --key demo

- ``GET /api/v2/agents?per_page=N&page=P``: the listed agents, ``per_page`` capped at 100, with a
  ``Link: <…>; rel="next"`` header on every page but the last;
- ``GET /api/v2/agents/<id>``: one agent's details; 404 for an agent that is not there (deleted);
- basic auth with the API key as user name (401 otherwise);
- a per-account rate limit per window (``X-Ratelimit-Total``, ``X-Ratelimit-Remaining``,
  ``X-Ratelimit-Used-CurrentRequest``; 429 with ``Retry-After`` once it is spent);
- ``faults``: answers to give instead of the real one, in order, per path (``/api/v2/agents/7``) or per list
  page (``page=2``): a status code, ``"timeout"`` (no answer for ``hang_seconds``), ``("429", seconds)`` or
  ``("200", body)`` (a 200 whose body is ``body``: bytes as they are, say an HTML page, or a JSON document such
  as another agent's record); ``always``: a status every list page answers (a list endpoint that is down);
- what a misbehaving list does: ``max_per_page`` (the most records a page holds, 100), ``repeat_first_page``
  (N: pages 2 to N + 1 answer page 1's records again, each naming a next page: the same agents paged over and
  over) and ``drift(agent_id)`` (the agent moves to the front of the list once page 1 has next been served: it
  is on no page of that pass).
"""
import argparse
import base64
import contextlib
import json
import math
import threading
import time
from collections import defaultdict, deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

AGENTS = "/api/v2/agents"
MAX_PER_PAGE = 100


class Account:
    """The agents a Freshdesk account holds: list records of the active ones, details of every one."""

    def __init__(self, listed: list[dict], details: dict[int, dict]):
        self.listed = listed
        self.details = details  # agent id → details record; an id not here answers 404

    @classmethod
    def synthetic(cls, active: int, deactivated: int = 0, seed: int = 1, first_id: int = 11200000001):
        """``active`` listed agents and ``deactivated`` ones (details only, flagged), shaped as bench.synth's."""
        import datetime
        import random

        from bench.synth import Agent

        rng, now = random.Random(seed), datetime.datetime(2024, 1, 1, 6, tzinfo=datetime.timezone.utc)
        agents = [Agent(first_id + n, rng, now) for n in range(active + deactivated)]
        for agent in agents[active:]:
            agent.active, agent.flagged = False, True
        return cls([a.list_record() for a in agents if a.active], {a.id: a.details_record() for a in agents})

    @classmethod
    def from_raw_day(cls, day_dir: Path):
        """The account as a raw day shows it: its list pages' records and its details files."""
        def natural(path):
            return int(path.stem) if path.stem.isdigit() else path.stem

        listed = [record for page in sorted((day_dir / "agents").glob("*.json"), key=natural)
                  for record in json.loads(page.read_text(encoding="utf-8"))]
        details = {}
        for path in (day_dir / "agent_details").glob("*.json"):
            document = json.loads(path.read_text(encoding="utf-8"))
            for record in document if isinstance(document, list) else [document]:
                details[record["id"]] = record
        return cls(listed, details)

    def write_raw_day(self, day_dir: Path) -> None:
        """The account as a hand-laid export of a day: list pages of 100 and every agent's details."""
        (day_dir / "agents").mkdir(parents=True)
        (day_dir / "agent_details").mkdir()
        for start in range(0, len(self.listed), MAX_PER_PAGE):
            page = self.listed[start:start + MAX_PER_PAGE]
            (day_dir / "agents" / f"{start // MAX_PER_PAGE + 1}.json").write_text(json.dumps(page), encoding="utf-8")
        for agent_id, record in self.details.items():
            (day_dir / "agent_details" / f"{agent_id}.json").write_text(json.dumps(record), encoding="utf-8")


class FakeFreshdesk:
    """The server, on 127.0.0.1 in a thread of this process: ``with FakeFreshdesk(account, "key") as api:``,
    then ``api.base_url``. ``requests`` logs every request as (path and query, whether its key was right)."""

    def __init__(self, account: Account, api_key: str, rate_limit: int | None = None, window_seconds: float = 60.0,
                 hang_seconds: float = 2.0, port: int = 0, latency_seconds: float = 0.0):
        self.account, self.api_key = account, api_key
        self.rate_limit, self.window_seconds, self.hang_seconds = rate_limit, window_seconds, hang_seconds
        self.latency_seconds = latency_seconds  # each answer takes this long, as over the internet
        self.faults: dict[str, deque] = defaultdict(deque)
        self.always: int | None = None
        self.max_per_page = MAX_PER_PAGE  # the API's cap of per_page
        self.repeat_first_page = 0  # pages 2 … 1 + N answer page 1's records again, each naming a next page
        self.drifting: deque = deque()  # agents to move to the front of the list once page 1 has been served
        self.requests: list[tuple[str, bool]] = []
        self.lock = threading.Lock()
        self.window_start, self.used = time.monotonic(), 0
        self.server = ThreadingHTTPServer(("127.0.0.1", port), self._handler())
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), name="fake-freshdesk",
                                       daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def fail(self, where: str, *answers) -> None:
        """Give ``answers`` (in order) to the next requests of ``where`` (a path, or ``page=N``)."""
        self.faults[where].extend(answers)

    def drift(self, agent_id: int) -> None:
        """Move ``agent_id`` to the front of the list (onto page 1) once page 1 has next been served: while a
        client pages through, the agent slips onto a page it has already fetched."""
        self.drifting.append(agent_id)

    def _drift(self) -> None:
        """Apply the drifts planned with :meth:`drift`, on a copy of the account's list (the account may be shared)."""
        with self.lock:
            moved, self.drifting = list(self.drifting), deque()
        if moved:
            listed = [record for record in self.account.listed if record["id"] not in moved]
            front = [record for record in self.account.listed if record["id"] in moved]
            self.account = Account(front + listed, self.account.details)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *_):
        self.server.shutdown()
        self.server.server_close()

    def _spend(self) -> tuple[dict, float | None]:
        """Rate-limit headers for a request, and the seconds to wait when the budget is spent (a 429)."""
        if self.rate_limit is None:
            return {}, None
        with self.lock:
            now = time.monotonic()
            if now - self.window_start >= self.window_seconds:
                self.window_start, self.used = now, 0
            headers = {"X-Ratelimit-Total": str(self.rate_limit)}
            if self.used >= self.rate_limit:
                headers["X-Ratelimit-Remaining"] = "0"
                return headers, self.window_start + self.window_seconds - now
            self.used += 1
            headers.update({"X-Ratelimit-Remaining": str(self.rate_limit - self.used),
                            "X-Ratelimit-Used-CurrentRequest": "1"})
            return headers, None

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as the real API
            wbufsize = 1 << 16  # the headers and the body in one write: no delayed-ACK wait between them

            def log_message(self, *_):
                pass

            def do_GET(self):  # noqa: N802  (http.server's name)
                if fake.latency_seconds:
                    time.sleep(fake.latency_seconds)
                parts = urlsplit(self.path)
                expected = "Basic " + base64.b64encode(f"{fake.api_key}:X".encode()).decode()
                authorized = self.headers.get("Authorization") == expected
                with fake.lock:
                    fake.requests.append((self.path, authorized))
                if not authorized:
                    return self.answer(401, {"code": "invalid_credentials",
                                             "message": "You have to be logged in to perform this action."})
                query = parse_qs(parts.query)
                page = int(query.get("page", ["1"])[0])
                listing = parts.path.rstrip("/") == AGENTS
                for where in (f"page={page}" if listing else parts.path, "*"):
                    with fake.lock:
                        fault = fake.faults[where].popleft() if fake.faults.get(where) else None
                    if fault is not None:
                        return self.fault(fault)
                if listing and fake.always:
                    return self.answer(fake.always, {"code": "internal_error"})
                headers, wait = fake._spend()
                if wait is not None:
                    return self.answer(429, {"message": "rate limit exceeded"},
                                       {**headers, "Retry-After": str(max(1, math.ceil(wait)))})
                if listing:
                    per_page = min(int(query.get("per_page", ["30"])[0]), fake.max_per_page)
                    return self.list_page(page, per_page, headers)
                agent_id = parts.path.rsplit("/", 1)[-1]
                record = fake.account.details.get(int(agent_id)) if agent_id.isdigit() else None
                if record is None:
                    return self.answer(404, None, headers)
                return self.answer(200, record, headers)

            def list_page(self, page, per_page, headers):
                listed = fake.account.listed
                served = 1 if page <= 1 + fake.repeat_first_page else page - fake.repeat_first_page
                records = listed[(served - 1) * per_page:served * per_page]
                if served * per_page < len(listed) or page <= fake.repeat_first_page:
                    headers["Link"] = f'<{fake.base_url}{AGENTS}?per_page={per_page}&page={page + 1}>; rel="next"'
                if page == 1:  # the page is taken: the agents drift before the client can ask for the next one
                    fake._drift()
                self.answer(200, records, headers)

            def fault(self, fault):
                if fault == "timeout":
                    time.sleep(fake.hang_seconds)
                    return self.answer(500, {"code": "too_late"})
                if isinstance(fault, tuple) and fault[0] == "200":  # ("200", body): bytes as they are, or JSON
                    if isinstance(fault[1], bytes):
                        return self.answer(200, fault[1], {"Content-Type": "text/html; charset=utf-8"})
                    return self.answer(200, fault[1])
                if isinstance(fault, tuple):  # ("429", seconds)
                    return self.answer(429, {"message": "rate limit exceeded"}, {"Retry-After": str(fault[1])})
                return self.answer(int(fault), {"code": "fault", "message": f"planned {fault}"})

            def answer(self, status, document, headers=None):
                """Send ``document`` as JSON (bytes: as they are; None: no body), with ``headers``."""
                body = document if isinstance(document, bytes) else \
                    b"" if document is None else json.dumps(document, indent=2).encode()
                headers = {"Content-Type": "application/json; charset=utf-8", **(headers or {})}
                try:
                    self.send_response(status)
                    self.send_header("Content-Length", str(len(body)))
                    for name, value in headers.items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(body)
                    self.wfile.flush()
                except (BrokenPipeError, ConnectionResetError):  # the client gave up (a timeout)
                    self.close_connection = True

        return Handler


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=250, help="listed (active) agents")
    parser.add_argument("--deactivated", type=int, default=0, help="agents with details only (deactivated)")
    parser.add_argument("--rate-limit", type=int, default=None, help="requests per minute (default: no limit)")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds each answer takes")
    parser.add_argument("--port", type=int, default=8089)
    parser.add_argument("--key", default="demo", help="the API key the server accepts")
    parser.add_argument("--fail-list", type=int, default=None, metavar="STATUS",
                        help="every list page answers this status (a list endpoint that is down, e.g. 503)")
    args = parser.parse_args(argv)
    account = Account.synthetic(args.agents, args.deactivated)
    with FakeFreshdesk(account, args.key, rate_limit=args.rate_limit, port=args.port,
                       latency_seconds=args.latency) as server:
        server.always = args.fail_list
        print(f"Freshdesk API v2 (agents) on {server.base_url}, key {args.key!r}; Ctrl-C stops it", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            server.thread.join()


if __name__ == "__main__":
    main()
