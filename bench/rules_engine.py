"""Rule engine throughput: RuleWorkerPool (subprocess, batched) next to bare durable_rules
in-process on the same rules; prints medians and ratios. Also the long differential run.

    python bench/rules_engine.py [--events 20000] [--repeat 5] [--batch 1000]
    python bench/rules_engine.py --differential 20000 [--seed N]
"""

from __future__ import annotations

import argparse
import copy
import importlib.util
import random
import statistics
import sys
import time
from pathlib import Path

from durable.engine import Host, MessageNotHandledException

from engines.rule.worker import RuleWorkerPool

SCHEMAS = {"payment": {"amount": "money", "channel": "select"},
           "event:txn": {"card": "text", "amount": "money"},
           "event:login": {"card": "text"}}


class BareHost(Host):
    """Stock durable_rules Host whose actions only count."""

    fired = 0

    def get_action(self, action_name):
        def act(c):
            BareHost.fired += 1
        return act


def bare_rate(rulesets: dict, ruleset: str, messages: list[dict]) -> float:
    host = BareHost()
    host.set_rulesets(copy.deepcopy(rulesets))
    start = time.perf_counter()
    for message in messages:
        try:
            host.post(ruleset, message)
        except MessageNotHandledException:
            pass
    return len(messages) / (time.perf_counter() - start)


def pool_rate(rules: list[dict], events: list[dict], batch: int) -> tuple[float, int]:
    with RuleWorkerPool(SCHEMAS) as pool:
        pool.load(rules)
        pool.match(events[:10])  # start the worker outside the timing
        fired = 0
        start = time.perf_counter()
        for i in range(0, len(events), batch):
            results = pool.match(events[i:i + batch])
            assert all(r.ok for r in results)
            fired += len(results)
        return len(events) / (time.perf_counter() - start), fired


def scenario_filter(n: int, rng: random.Random):
    amounts = [rng.randint(0, 300_000) for _ in range(n)]
    channels = [rng.choice(["alipay", "wechat", "unionpay"]) for _ in range(n)]
    bare = {"f": {"r": {"all": [{"m": {"$and": [{"$gt": {"amount": 100_000}},
                                               {"channel": "alipay"}, {"_k": 1}]}}],
                         "run": "a"}}}
    messages = [{"amount": a, "channel": c, "_k": 1}
                for a, c in zip(amounts, channels, strict=True)]
    rule = {"key": "big", "name": "big", "entity": "payment",
            "trigger": {"type": "record_created"}, "actions": [],
            "condition": {"all": [{"field": "amount", "op": "gt", "value": "1000.00"},
                                  {"field": "channel", "op": "eq", "value": "alipay"}]}}
    events = [{"ref": i, "trigger": "record_created", "entity": "payment", "ts": 1000,
               "data": {"amount": f"{a // 100}.{a % 100:02d}", "channel": c}}
              for i, (a, c) in enumerate(zip(amounts, channels, strict=True))]
    return bare, "f", messages, [rule], events


def scenario_join(n: int, rng: random.Random):
    """login then txn on the same card: bare = a durable_rules 2-event join (with the
    `_k` guard term); pool = the sequence pattern."""
    cards = [f"c{rng.randint(0, 400)}" for _ in range(n // 2)]
    bare = {"j": {"r": {"all": [
        {"first": {"$and": [{"t": "login"}, {"_k": 1}]}},
        {"second": {"$and": [{"t": "txn"}, {"card": {"first": "card"}},
                             {"_k": {"first": "_k"}}]}}], "run": "a"}}}
    messages, events = [], []
    for i, card in enumerate(cards):
        messages += [{"t": "login", "card": card, "_k": 1}, {"t": "txn", "card": card, "_k": 1}]
        events += [{"ref": f"l{i}", "trigger": "event", "type": "login", "ts": i,
                    "data": {"card": card}},
                   {"ref": f"t{i}", "trigger": "event", "type": "txn", "ts": i,
                    "data": {"card": card, "amount": "1.00"}}]
    rule = {"key": "seq", "name": "seq", "trigger": {"type": "event", "event_type": "txn"},
            "actions": [], "condition": {"pattern": "sequence", "key": "card",
                                         "first": "login", "within_s": 60}}
    return bare, "j", messages, [rule], events


def scenario_velocity(n: int, rng: random.Random):
    """>3 txns per card in 60 s: bare = a `count` rule per card context (durable_rules has
    no working sliding window in 2.0.28, so no expiry: it does less work); pool = count
    pattern over a true 60 s window."""
    cards = [rng.randint(0, 500) for _ in range(n)]
    bare = {"v": {"r": {"all": [{"m": {"$and": [{"t": "txn"}, {"_k": 1}]}}], "count": 4,
                        "run": "a"}}}
    messages = [{"sid": str(c), "id": i, "t": "txn", "_k": 1} for i, c in enumerate(cards)]
    rule = {"key": "vel", "name": "vel", "trigger": {"type": "event", "event_type": "txn"},
            "actions": [], "condition": {"pattern": "count", "key": "card", "window_s": 60,
                                         "op": "gt", "n": 3}}
    events = [{"ref": i, "trigger": "event", "type": "txn", "ts": i // 50,
               "data": {"card": f"c{c}", "amount": "1.00"}} for i, c in enumerate(cards)]
    return bare, "v", messages, [rule], events


def run_bench(n: int, repeat: int, batch: int) -> None:
    print(f"{n} events per run, {repeat} runs, pool batches of {batch}; medians in events/s")
    print(f"{'scenario':<12}{'bare in-process':>18}{'worker pool':>14}{'ratio':>8}")
    for name, make in (("filter", scenario_filter), ("2-event join", scenario_join),
                       ("velocity 60s", scenario_velocity)):
        bare_rates, pool_rates = [], []
        for r in range(repeat):
            bare, ruleset, messages, rules, events = make(n, random.Random(r))
            bare_rates.append(bare_rate(bare, ruleset, messages))
            pool_rates.append(pool_rate(rules, events, batch)[0])
        b, p = statistics.median(bare_rates), statistics.median(pool_rates)
        print(f"{name:<12}{b:>18,.0f}{p:>14,.0f}{p / b:>8.2f}")


def run_differential(count: int, seed: int) -> int:
    path = Path(__file__).resolve().parent.parent / "tests/engines/rule/rule_cases.py"
    spec = importlib.util.spec_from_file_location("rule_cases", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["rule_cases"] = module
    spec.loader.exec_module(module)
    start = time.perf_counter()
    with RuleWorkerPool() as pool:
        mismatches, stats = module.run_differential(pool, module.make_cases(seed, count),
                                                    parts=max(8, count // 500))
    print(f"differential: {count} rules, seed {seed}, {stats['events']} events, "
          f"{stats['fires']} fires, {len(mismatches)} mismatches, "
          f"{time.perf_counter() - start:.1f}s")
    for line in mismatches[:20]:
        print("  ", line)
    return 1 if mismatches else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--differential", type=int, default=0, metavar="N")
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args()
    if args.differential:
        seed = args.seed if args.seed is not None else random.SystemRandom().randrange(10**9)
        return run_differential(args.differential, seed)
    run_bench(args.events, args.repeat, args.batch)
    return 0


if __name__ == "__main__":
    sys.exit(main())
