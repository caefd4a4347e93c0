"""The Freshdesk API v2 as the extraction calls it: GET with the API key as basic auth, over a bounded number
of connections, paced by the rate-limit headers and patient with what a busy API answers.

- ``429 Too Many Requests``: every connection waits ``Retry-After`` seconds, then the request is sent again
  (up to ``MAX_THROTTLES`` times in a row for one request); the time held back is the *throttled seconds*. A
  ``Retry-After`` beyond ``MAX_RETRY_AFTER_SECONDS`` fails the request at once (``RateLimitSpent``): the
  account's budget is spent for longer than a run should wait.
- ``X-Ratelimit-Remaining``: below half of ``X-Ratelimit-Total`` the requests are spaced out, more as it falls,
  until they go at the plan's own rate (``pacing_interval``); these waits count as throttled too.
- a timeout, a connection error or a ``5xx``, or a ``2xx`` whose body the caller finds is not what it asked
  for (``check``): tried again after ``backoff_seconds``, doubled each time (at most ``MAX_BACKOFF_SECONDS``),
  up to ``retries`` times; then the request fails (``FetchFailed``).
- ``401``/``403``: the key is refused (``ApiKeyRefused``); any other ``4xx`` fails at once, except a ``404``
  the caller expects (a deleted agent's details).

The key is only ever in the ``Authorization`` header: never in a URL, a message or a log line.
"""
import datetime
import email.utils
import logging
import math
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import requests
from requests.adapters import HTTPAdapter

from pipeline.config import API_KEY_VARIABLE, ApiSettings, SettingError
from pipeline.errors import PipelineError

logger = logging.getLogger("luigi-interface.pipeline")

MAX_THROTTLES = 20  # 429s in a row for one request before it fails
MAX_BACKOFF_SECONDS = 60.0
MAX_RETRY_AFTER_SECONDS = 600.0  # a longer Retry-After fails the request: run again once the budget is back
RATE_WINDOW_SECONDS = 60.0  # Freshdesk's limits are per minute
USER_AGENT = "agents-pipeline (Freshdesk agents sync)"


class FetchFailed(PipelineError):
    """A request that still failed after its retries; the message names the request and what went wrong."""


class ApiKeyRefused(FetchFailed):
    """The API answered 401 or 403: the key is wrong or lacks the right to read agents."""


class RateLimitSpent(FetchFailed):
    """A 429 whose ``Retry-After`` is beyond ``MAX_RETRY_AFTER_SECONDS``: no request of the day can be sent before."""


@dataclass(frozen=True)
class Reply:
    url: str
    status: int
    body: bytes
    links: dict  # the Link header: {"next": "https://…"}


def pacing_interval(remaining: int | None, total: int | None, window_seconds: float = RATE_WINDOW_SECONDS) -> float:
    """Seconds between request starts for the rate budget left: none while half of it or more is left, then
    growing in step with what is used, up to the plan's own rate (``window / total``) when none is left."""
    if remaining is None or not total or total <= 0:
        return 0.0
    half = total / 2
    if remaining >= half:
        return 0.0
    return window_seconds / total * (1 - max(remaining, 0) / half)


def retry_after_seconds(value: str | None, fallback: float) -> float:
    """``Retry-After`` as seconds to wait: a number of seconds or an HTTP date; ``fallback`` when absent or bad."""
    if not value:
        return fallback
    try:
        seconds = float(value)
    except ValueError:
        try:
            seconds = email.utils.parsedate_to_datetime(value).timestamp() - time.time()
        except (TypeError, ValueError):
            return fallback
    return fallback if math.isnan(seconds) else max(seconds, 0.0)


def retry_time(seconds: float) -> str:
    """When a wait of ``seconds`` from now ends, in local time: ``14:05``, or with the date when not today."""
    try:
        end = datetime.datetime.now() + datetime.timedelta(seconds=math.ceil(seconds / 60) * 60)
    except OverflowError:
        return "much later (the API names no usable time)"
    return f"{end:%H:%M}" if end.date() == datetime.date.today() else f"{end:%Y-%m-%d %H:%M}"


def backoff_seconds(failures: int, first: float) -> float:
    """The wait after the ``failures``-th failure in a row: ``first``, doubled each time, at most
    ``MAX_BACKOFF_SECONDS``, and from half of that to all of it at random (so that connections spread out)."""
    ceiling = min(MAX_BACKOFF_SECONDS, first * 2 ** (failures - 1))
    return ceiling * random.uniform(0.5, 1.0)


class Pacer:
    """When the next request may start, shared by every connection: the pace the rate headers call for (and
    ``requests_per_minute``, when set), and the pause a 429 asks for. ``window_seconds``: the period the
    headers' budget is for (Freshdesk: a minute)."""

    def __init__(self, requests_per_minute: int = 0, clock=time.monotonic, sleep=time.sleep,
                 window_seconds: float = RATE_WINDOW_SECONDS):
        self.window_seconds = window_seconds
        self.floor = 60.0 / requests_per_minute if requests_per_minute else 0.0
        self.interval = self.floor
        self.next_start = 0.0
        self.clock, self.sleep = clock, sleep
        self.lock = threading.Lock()
        self.throttled_seconds = 0.0  # wall-clock time during which a request was held back
        self._held_until = 0.0

    def wait(self) -> float:
        """Wait for this request's turn; returns the seconds waited."""
        with self.lock:
            now = self.clock()
            start = max(now, self.next_start)  # never earlier than the turn handed out before
            self.next_start = start + self.interval
            if start > now:  # the waits of several connections overlap: count the time once
                self.throttled_seconds += start - max(now, self._held_until)
                self._held_until = start
        if start > now:
            self.sleep(start - now)
        return start - now

    def observe(self, headers) -> None:
        """Adjust the pace to the budget a response says is left."""
        remaining, total = _int(headers.get("X-Ratelimit-Remaining")), _int(headers.get("X-Ratelimit-Total"))
        with self.lock:
            self.interval = max(self.floor, pacing_interval(remaining, total, self.window_seconds))

    def hold(self, seconds: float) -> None:
        """No request starts for ``seconds`` (a 429's ``Retry-After``)."""
        with self.lock:
            self.next_start = max(self.next_start, self.clock() + seconds)


def _int(text: str | None) -> int | None:
    try:
        return int(text) if text is not None else None
    except ValueError:
        return None


class FreshdeskApi:
    """GET requests to one Freshdesk account; ``counts`` holds the requests sent, the retries and the throttled
    seconds. Each thread that calls ``get`` uses a connection of its own: at most ``connections`` threads do.
    ``rate_window_seconds``: the period of the rate-limit headers' budget (a minute; shorter for tests)."""

    def __init__(self, settings: ApiSettings, sleep=time.sleep, rate_window_seconds: float = RATE_WINDOW_SECONDS):
        if not settings.api_key:
            raise SettingError(f"{API_KEY_VARIABLE} is not set: fetching from {settings.base_url} needs the Freshdesk"
                              " API key (your profile settings in Freshdesk) in that environment variable")
        self.settings = settings
        self.pacer = Pacer(settings.requests_per_minute, sleep=sleep, window_seconds=rate_window_seconds)
        self.sleep = sleep
        self._counts = {"requests": 0, "retries": 0}
        self._counts_lock = threading.Lock()
        self._local = threading.local()
        self._sessions = []

    def _session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            session.mount("http://", HTTPAdapter(pool_connections=1, pool_maxsize=1, max_retries=0))
            session.mount("https://", HTTPAdapter(pool_connections=1, pool_maxsize=1, max_retries=0))
            # Freshdesk: the key as user name, any password. (requests drops it on a redirect to another host, and
            # reads HTTPS_PROXY and REQUESTS_CA_BUNDLE from the environment.)
            session.auth = (self.settings.api_key, "X")
            session.headers.update({"Accept": "application/json", "User-Agent": USER_AGENT})
            self._local.session = session
            with self._counts_lock:
                self._sessions.append(session)
        return session

    def close(self) -> None:
        with self._counts_lock:
            for session in self._sessions:
                session.close()
            self._sessions.clear()

    def _add(self, key: str, amount) -> None:
        with self._counts_lock:
            self._counts[key] += amount

    @property
    def counts(self) -> dict:
        """Requests sent, retries (after a timeout, a connection error or a 5xx), and the seconds (wall clock)
        during which requests were held back for the rate limit."""
        with self._counts_lock:
            return {**self._counts, "throttled_seconds": self.pacer.throttled_seconds}

    def get(self, url: str, missing_ok: bool = False, check: Callable[[bytes], str | None] | None = None) -> Reply:
        """The response to ``GET url`` (2xx, or 404 when ``missing_ok``), after retries and throttling. ``check``:
        why a 2xx body is not what was asked for (None when it is); such an answer is tried again like a 5xx."""
        failures = throttles = 0
        while True:
            self.pacer.wait()
            self._add("requests", 1)
            try:
                response = self._session().get(url, timeout=self.settings.timeout_seconds)
                body = response.content
            except requests.Timeout:
                problem = f"no answer within {self.settings.timeout_seconds:g} s"
            except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError) as error:
                problem = f"connection failed ({type(error).__name__})"
            else:
                self.pacer.observe(response.headers)
                status = response.status_code
                if status == 429:
                    throttles += 1
                    if throttles > MAX_THROTTLES:
                        raise FetchFailed(f"GET {url}: still 429 Too Many Requests after {MAX_THROTTLES} waits")
                    wait = retry_after_seconds(response.headers.get("Retry-After"), RATE_WINDOW_SECONDS)
                    if wait > MAX_RETRY_AFTER_SECONDS:
                        raise RateLimitSpent(
                            f"GET {url}: 429 Too Many Requests with Retry-After {wait:.0f} s, more than the"
                            f" {MAX_RETRY_AFTER_SECONDS:.0f} s a run waits: the account's API budget is spent (other"
                            " integrations, or a lower plan limit); nothing of the day was written, run the same"
                            f" command again after {retry_time(wait)}")
                    logger.info("Freshdesk rate limit reached (429): waiting %.0f s (Retry-After)", wait)
                    self.pacer.hold(wait)
                    continue
                wrong = check(body) if check is not None and 200 <= status < 300 else None
                if wrong:
                    problem = f"{status} {response.reason}, but {wrong}"
                elif 200 <= status < 300 or (status == 404 and missing_ok):
                    links = {rel: link["url"] for rel, link in response.links.items() if "url" in link}
                    return Reply(url, status, body, links)
                elif status in (401, 403):
                    raise ApiKeyRefused(f"GET {url}: {status} {response.reason}: Freshdesk refused the API key in"
                                        f" {API_KEY_VARIABLE} (wrong key, or an agent without the right to view"
                                        " agents)")
                elif status < 500:
                    raise FetchFailed(f"GET {url}: {status} {response.reason}{_said(body)}")
                else:
                    problem = f"{status} {response.reason}"
            failures += 1
            if failures > self.settings.retries:
                raise FetchFailed(f"GET {url}: {problem}, {failures} attempts")
            self._add("retries", 1)
            delay = backoff_seconds(failures, self.settings.backoff_seconds)
            logger.info("GET %s: %s; trying again in %.1f s (retry %d of %d)", url, problem, delay, failures,
                        self.settings.retries)
            self.sleep(delay)


def _said(body: bytes, limit: int = 200) -> str:
    """What an error response says, shortened, for the message."""
    text = body[:limit].decode("utf-8", "replace").strip().replace("\n", " ")
    return f" ({text}{'…' if len(body) > limit else ''})" if text else ""
