"""Extraction time of a day against the local Freshdesk server, with a plan's rate limit and an internet latency.

    python -m bench.extract [--agents 10000] [--deactivated 500] [--rate-limit 400] [--latency 0.25]
                            [--connections 4]

The server (bench.freshdesk_server) lists ``--agents`` agents and holds ``--deactivated`` more (details only),
all of them known from the day before. The day is fetched with ExtractAgents' own code (pipeline.extract) into
a temporary folder. Reported: the wall time, the requests, retries and throttled seconds, and the ratio to the
floor, the least time the API allows for those requests: the rate limit's (a fixed one-minute window: the
first minute's budget at once, then a budget a minute) or the latency's (list pages one after another, details
over the connections), whichever is longer.
"""
import argparse
import datetime
import math
import shutil
import tempfile
import time
from pathlib import Path

from bench.freshdesk_server import Account, FakeFreshdesk
from pipeline.config import ApiSettings
from pipeline.extract import PER_PAGE, extract_day, requests_per_day
from pipeline.freshdesk import FreshdeskApi

KEY = "bench-key"


def floor_seconds(pages: int, details: int, rate_limit: int | None, latency: float, connections: int) -> float:
    """The least time the API allows: its rate limit's, or the latency's, whichever is longer."""
    requests = pages + details
    by_rate = (math.ceil(requests / rate_limit) - 1) * 60.0 if rate_limit else 0.0
    by_latency = pages * latency + math.ceil(details / connections) * latency
    return max(by_rate, by_latency)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--agents", type=int, default=10_000, help="listed agents (default 10,000)")
    parser.add_argument("--deactivated", type=int, default=500,
                        help="known agents not listed: one details call each (default 500)")
    parser.add_argument("--rate-limit", type=int, default=400,
                        help="requests per minute; 0: none (default 400, Freshdesk's Pro plan)")
    parser.add_argument("--latency", type=float, default=0.25, help="seconds each answer takes (default 0.25)")
    parser.add_argument("--connections", type=int, default=4, help="[freshdesk] connections (default 4)")
    args = parser.parse_args(argv)
    account = Account.synthetic(args.agents, args.deactivated)
    known = set(account.details)
    work = Path(tempfile.mkdtemp(prefix="agents-bench-extract-"))
    try:
        with FakeFreshdesk(account, KEY, rate_limit=args.rate_limit or None, latency_seconds=args.latency) as server:
            api = FreshdeskApi(ApiSettings(server.base_url, KEY, connections=args.connections))
            started = time.perf_counter()
            manifest = extract_day(api, work / "day", datetime.date.today(), known)
            seconds = time.perf_counter() - started
            api.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    pages, details = len(manifest["pages"]), manifest["details"]["requested"]
    floor = floor_seconds(pages, details, args.rate_limit or None, args.latency, args.connections)
    print(f"agents listed {args.agents:,}, known not listed {args.deactivated:,}; rate limit "
          f"{args.rate_limit or 'none'}/min, latency {args.latency:g} s, {args.connections} connections")
    print(f"pages {pages:,} ({manifest['list_records']:,} records), details {manifest['details']['fetched']:,} "
          f"of {details:,}; requests {manifest['requests']:,} (expected {requests_per_day(args.agents, details):,}), "
          f"retries {manifest['retries']}, throttled {manifest['throttled_seconds']:.1f} s")
    print(f"extraction {seconds:.1f} s; floor {floor:.1f} s; ratio {seconds / floor if floor else float('nan'):.2f}")
    if args.rate_limit:
        every = args.agents + args.deactivated + math.ceil(args.agents / PER_PAGE)
        print(f"(a details call for every agent instead: {every:,} requests, at least "
              f"{(math.ceil(every / args.rate_limit) - 1):,} minutes at this rate limit)")


if __name__ == "__main__":
    main()
