"""Realistic raw days in the exact Freshdesk API v2 shape and layout, with day-to-day churn.

    python -m bench.synth --agents 100000 --days 30 --start 2024-01-01 --out DIR --seed 1 [--details-per-file 100]

Each day: list pages of 100 active agents (``agents/1.json`` …) and the details of every agent ever
known, one file per agent as the API gives them (``agent_details/<id>.json``) or arrays of
``--details-per-file``. From one day to the next, at the given rates (fractions of the agents):
deactivations (missing from the list; some also flagged ``deactivated``), reactivations, new agents,
edited fields (name, e-mail, job title; ``updated_at`` advances), duplicates (an agent listed twice)
and invalid records of every kind the pipeline rejects. The same seed writes the same files.
"""
import argparse
import datetime
import json
import random
from pathlib import Path

FIRST_NAMES = ["Alex", "Priya", "Jonas", "Mei", "Omar", "Lucia", "Sam", "Zoë", "Kwame", "Ana", "Liam", "Yuki",
               "Fatima", "Noah", "Ingrid", "Mateo", "Aisha", "Chen", "Olga", "Ravi"]
LAST_NAMES = ["Morgan", "Raman", "Weber", "Tanaka", "Haddad", "Alves", "Okafor", "Müller", "Mensah", "Silva",
              "O'Brien", "Sato", "Khan", "Smith", "Berg", "García", "Bello", "Wang", "Ivanova", "Patel"]
TITLES = [None, "IT Support", "Support Team Lead", "Billing \"Tier 2\"", "Agent", "Escalations"]
ZONES = ["Eastern Time (US & Canada)", "London", "Berlin", "Tokyo", "Mumbai", "Sydney"]

# What each kind of invalid record does to a valid one.
INVALID_KINDS = {
    "id_missing": lambda r: r.pop("id"),
    "id_string": lambda r: r.update(id=str(r["id"])),
    "id_zero": lambda r: r.update(id=0),
    "contact_not_object": lambda r: r.update(contact="n/a"),
    "email_invalid": lambda r: r["contact"].update(email=r["contact"]["email"].replace("@", " at ")),
    "name_empty": lambda r: r["contact"].update(name=""),
    "boolean_string": lambda r: r.update(available="yes"),
    "timestamp_invalid": lambda r: r.update(updated_at="2024/01/01 10:00"),
}


def timestamp(moment: datetime.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


class Agent:
    __slots__ = ("id", "name", "email", "title", "zone", "created", "updated", "active", "flagged")

    def __init__(self, agent_id: int, rng: random.Random, now: datetime.datetime):
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        self.id = agent_id
        self.name = f"{first} {last}"
        self.email = f"{first.lower()}.{last.lower().replace(chr(39), '')}.{agent_id % 100000}@example.com"
        self.title = rng.choice(TITLES)
        self.zone = rng.choice(ZONES)
        self.created = self.updated = now - datetime.timedelta(seconds=rng.randrange(3 * 365 * 86400))
        self.active, self.flagged = True, False

    def list_record(self) -> dict:
        """A "List All Agents" record."""
        return {
            "available": False, "occasional": False, "id": self.id, "ticket_scope": 1,
            "created_at": timestamp(self.created), "updated_at": timestamp(self.updated),
            "last_active_at": timestamp(self.updated), "available_since": None, "type": "support_agent",
            "contact": {
                "active": True, "email": self.email, "job_title": self.title, "language": "en",
                "last_login_at": timestamp(self.updated), "mobile": None, "name": self.name, "phone": None,
                "time_zone": self.zone, "created_at": timestamp(self.created), "updated_at": timestamp(self.created),
            },
            "deactivated": self.flagged, "signature": None, "freshchat_agent": False, "focus_mode": True,
            "agent_operational_status": "available",
        }

    def details_record(self) -> dict:
        """A "View an Agent" response: the list record plus the detail-only fields."""
        record = self.list_record()
        record["contact"]["avatar"] = None
        record.update(org_agent_id=str(self.id * 7919 % 10**18), group_ids=[69000521031], org_group_ids=[None],
                      role_ids=[69000378065], skill_ids=[], scope=1,
                      availability=[{"channel": "ticket", "available": False, "available_since": None}])
        return record


def write_json(path: Path, document, pretty: bool = False) -> None:
    path.write_text(json.dumps(document, indent=2 if pretty else None, ensure_ascii=False), encoding="utf-8")


def pages(items: list, size: int):
    for start in range(0, len(items), size):
        yield start // size + 1, items[start:start + size]


class Generator:
    def __init__(self, agents: int, start: datetime.date, seed: int, rates: dict, details_per_file: int):
        self.rng = random.Random(seed)
        self.rates = rates
        self.details_per_file = details_per_file
        self.now = datetime.datetime.combine(start, datetime.time(6), tzinfo=datetime.timezone.utc)
        self.next_id = 11200000001
        self.agents = [self.new_agent() for _ in range(agents)]

    def new_agent(self) -> Agent:
        agent = Agent(self.next_id, self.rng, self.now)
        self.next_id += 1
        return agent

    def sample(self, population: list, rate: float) -> list:
        count = min(len(population), round(len(population) * rate))
        return self.rng.sample(population, count) if count else []

    def churn(self) -> None:
        """Advance one day."""
        self.now += datetime.timedelta(days=1)
        active = [a for a in self.agents if a.active]
        inactive = [a for a in self.agents if not a.active]
        for agent in self.sample(active, self.rates["deactivate"]):
            agent.active = False
            agent.flagged = self.rng.random() < 0.3  # some are flagged by the source too
            agent.updated = self.now
        for agent in self.sample(inactive, self.rates["reactivate"]):
            agent.active, agent.flagged, agent.updated = True, False, self.now
        for agent in self.sample(active, self.rates["edit"]):
            field = self.rng.choice(("name", "email", "title"))
            if field == "name":
                agent.name = f"{agent.name.split()[0]} {self.rng.choice(LAST_NAMES)}"
            elif field == "email":
                agent.email = f"{agent.id}.{self.rng.randrange(10**6)}@example.org"
            else:
                agent.title = self.rng.choice(TITLES)
            agent.updated = self.now
        self.agents += [self.new_agent() for _ in range(round(len(self.agents) * self.rates["new"]))]

    def write_day(self, day_dir: Path) -> dict:
        (day_dir / "agents").mkdir(parents=True)
        (day_dir / "agent_details").mkdir()
        listed = [a.list_record() for a in self.agents if a.active]
        for record in self.sample(listed, self.rates["duplicate"]):  # listed again, as paging shifts
            listed.insert(self.rng.randrange(len(listed) + 1), dict(record))
        details = [a.details_record() for a in self.agents]
        kinds = list(INVALID_KINDS)
        invalid = self.sample(range(len(details)), self.rates["invalid"])
        for n, index in enumerate(invalid):  # every kind in turn
            INVALID_KINDS[kinds[n % len(kinds)]](details[index])
        for number, page in pages(listed, 100):
            write_json(day_dir / "agents" / f"{number}.json", page, pretty=True)
        if self.details_per_file == 1:  # named after the agent, as the URL it was fetched from
            for agent, record in zip(self.agents, details, strict=True):
                write_json(day_dir / "agent_details" / f"{agent.id}.json", record)
        else:
            for number, page in pages(details, self.details_per_file):
                write_json(day_dir / "agent_details" / f"page-{number}.json", page)
        return {"listed": len(listed), "details": len(details), "invalid": len(invalid)}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--agents", type=int, default=1000, help="agents known on the first day")
    parser.add_argument("--days", type=int, default=3, help="number of consecutive days to write")
    parser.add_argument("--start", type=datetime.date.fromisoformat, default=datetime.date(2024, 1, 1),
                        help="first day (YYYY-MM-DD)")
    parser.add_argument("--out", type=Path, required=True, help="raw root to write <YYYY-MM-DD>/ folders into")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--details-per-file", type=int, default=1,
                        help="1: one details file per agent, as the API gives them; N: arrays of N")
    for name, default in (("deactivate", 0.01), ("reactivate", 0.05), ("new", 0.002), ("edit", 0.01),
                          ("duplicate", 0.001), ("invalid", 0.0005)):
        parser.add_argument(f"--{name}-rate", type=float, default=default, help=f"per day (default {default})")
    args = parser.parse_args(argv)
    rates = {name: getattr(args, f"{name}_rate") for name in
             ("deactivate", "reactivate", "new", "edit", "duplicate", "invalid")}
    generator = Generator(args.agents, args.start, args.seed, rates, args.details_per_file)
    for n in range(args.days):
        if n:
            generator.churn()
        day = args.start + datetime.timedelta(days=n)
        counts = generator.write_day(args.out / day.isoformat())
        print(f"{day}: {counts['listed']:,} listed, {counts['details']:,} details, {counts['invalid']:,} invalid")


if __name__ == "__main__":
    main()
