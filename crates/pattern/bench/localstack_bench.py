"""Time LocalStack's EventBridge pattern engine on the benchmark sample (run by the Rust bench).

usage: localstack_bench.py SPEC.json
SPEC: {"events": "<jsonl path>", "rule_sets": {"<type>": ["<pattern JSON text>", ...]}}
Prints {"<type>": {"seconds": s, "events": n, "counts": [per rule], "error": null | "..."}}.
Each event is parsed once (json.loads, included in the time) and tested against every rule.
"""
import json
import sys
import time

from localstack.services.events.event_rule_engine import EventPatternCompiler, EventRuleEngine


def main():
    spec = json.load(open(sys.argv[1]))
    events = [line for line in open(spec["events"]) if line.strip()]
    engine = EventRuleEngine()
    out = {}
    for rtype, patterns in spec["rule_sets"].items():
        try:
            compiled = [EventPatternCompiler().compile_event_pattern(p) for p in patterns]
        except Exception as e:  # LocalStack rejects the rule
            out[rtype] = {"seconds": 0.0, "events": 0, "counts": [], "error": str(e)}
            continue
        counts = [0] * len(compiled)
        start = time.perf_counter()
        for text in events:
            ev = json.loads(text)
            for i, c in enumerate(compiled):
                if engine.evaluate_pattern_on_event(c, ev):
                    counts[i] += 1
        seconds = time.perf_counter() - start
        out[rtype] = {"seconds": seconds, "events": len(events), "counts": counts, "error": None}
    json.dump(out, sys.stdout)


main()
