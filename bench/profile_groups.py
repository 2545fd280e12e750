#!/usr/bin/env python3
"""Groups a `perf script` dump of the floor child (bench/src/driver/floor.rs) into the parts of the
AWS SDK's request path, for docs/performance.md "Where the floor's time goes".

    perf script -i perf.data --pid PID --no-inline -F comm,pid,tid,period,ip,sym,dso | \
        python3 bench/profile_groups.py

Two views. *self*: each sample goes to the group of its leaf frame (the function on the CPU).
*inclusive by component*: each sample goes to the innermost frame that belongs to one of the SDK's
components (signing, JSON, HTTP client, tracing, interceptors/orchestrator); a malloc called from
the signer counts for signing there, while the *self* view puts it under allocation.
"""
import re
import sys
from collections import Counter

# Leaf groups, first match wins (on "symbol (dso)").
SELF_GROUPS = [
    ("allocation (mimalloc/glibc malloc, free, realloc)",
     r"\b(malloc|free|cfree|realloc|calloc|_int_malloc|_int_free|_int_realloc|malloc_consolidate|"
     r"unlink_chunk|tcache|mi_[a-z_]+|_mi_[a-z_]+|__rust_alloc|__rust_dealloc|__rust_realloc|"
     r"__rdl_alloc|__rdl_dealloc|__rdl_realloc|alloc::raw_vec|RawVecInner)"),
    ("memcpy/memmove/memset/strlen", r"(memcpy|memmove|memset|__memcmp|memcmp|bcmp|strlen|memchr)"),
    ("kernel (syscalls, TCP loopback, scheduler)", r"\[kernel"),
    ("SigV4 signing (canonical request, SHA-256, HMAC, hex)",
     r"(aws_sigv4|sha2::|hmac|aws_lc|sha256|SHA256|hex::|percent_encoding|form_urlencoded)"),
    ("JSON (de)serialization (aws_smithy_json, protocol_serde)",
     r"(aws_smithy_json|serde_json|protocol_serde|_deser|deser_|ser_|Deserialize|json_token)"),
    ("HTTP client (hyper, hyper-util pool, http, h1 parse, tower)",
     r"(hyper|httparse|\bhttp::|http_body|tower|aws_smithy_http_client|h2::|rustls|want::|try_lock)"),
    ("tracing (spans, events, callsite checks)", r"(tracing|valuable)"),
    ("tokio (scheduler, timers, I/O driver)", r"(tokio::|mio::|parking_lot|futures_)"),
    ("SDK orchestrator, interceptors, config bag, endpoint, retry",
     r"(aws_smithy_runtime|aws_smithy_types|aws_smithy_async|aws_runtime|aws_sdk_sqs|aws_types|"
     r"aws_smithy_http|aws_credential_types|aws_smithy_observability|TypeErasedBox|ConfigBag|Layer)"),
    ("std/core (fmt, strings, hashing, Arc)", r"(core::|alloc::|std::|<&T as|fmt|hashbrown|Arc)"),
]

# Component frames for the inclusive view, first match wins for one frame.
COMPONENTS = [
    ("SigV4 signing", r"(aws_sigv4|SigV4Signer|sigv4)"),
    ("JSON serialize request", r"(protocol_serde::shape_\w*input|ser_\w*input|serialize_input|"
     r"RequestSerializer|json_ser)"),
    ("JSON deserialize response", r"(protocol_serde::shape_\w*output|de_\w*(http_response|output)|"
     r"deserialize_nonstreaming|ResponseDeserializer|aws_smithy_json::deserialize)"),
    ("HTTP client (hyper, pool, connection task)", r"(hyper|aws_smithy_http_client|tower::|httparse)"),
    ("tracing", r"(tracing_core|tracing_subscriber|tracing::)"),
    ("endpoint resolution", r"(endpoint|Endpoint)"),
    ("user agent, invocation id, recursion detection, request info interceptors",
     r"(user_agent|UserAgent|invocation_id|InvocationId|recursion_detection|RecursionDetection|"
     r"request_info|RequestInfo|service_clock_skew|ServiceClockSkew)"),
    ("retry strategy, token bucket, timeouts", r"(retries|Retry|retry|timeout|Timeout|token_bucket)"),
    ("identity (credentials cache)", r"(identity|Identity|credentials)"),
    ("stalled-stream protection", r"(stalled_stream|StalledStream|MinimumThroughput|minimum_throughput)"),
    ("SDK orchestrator (config bag, interceptors, runtime plugins)",
     r"(aws_smithy_runtime|aws_smithy_types|aws_runtime|aws_sdk_sqs|aws_smithy_runtime_api)"),
    ("the floor's own loop", r"eventferry_bench"),
    ("tokio", r"(tokio::|mio::)"),
]

SELF_RE = [(n, re.compile(p)) for n, p in SELF_GROUPS]
COMP_RE = [(n, re.compile(p)) for n, p in COMPONENTS]
ALLOC_RE = SELF_RE[0][1]


def classify(frame, table):
    for name, rx in table:
        if rx.search(frame):
            return name
    return None


def main():
    self_c, comp_c, alloc_in = Counter(), Counter(), Counter()
    total = 0
    frames, period = [], 0

    def flush():
        nonlocal total
        if not frames:
            return
        total += period
        leaf = frames[0]
        group = classify(leaf, SELF_RE) or "other"
        self_c[group] += period
        comp = None
        for f in frames:
            comp = classify(f, COMP_RE)
            if comp:
                break
        comp = comp or ("kernel / outside the SDK" if "[kernel" in leaf else "other")
        comp_c[comp] += period
        if group.startswith("allocation"):
            alloc_in[comp] += period

    for line in sys.stdin:
        if not line.strip():
            flush()
            frames, period = [], 0
            continue
        if not line.startswith(("\t", " ")):
            flush()
            frames = []
            m = re.search(r"\s(\d+)\s*$", line.strip()) or re.search(r"\s(\d+)\s", line)
            period = int(m.group(1)) if m else 1
            continue
        parts = line.strip().split(None, 1)
        frames.append(parts[1] if len(parts) > 1 else parts[0])
    flush()

    def table(title, counter):
        print(f"\n{title} ({total} samples' periods)")
        for name, v in counter.most_common():
            print(f"  {100.0 * v / total:5.1f} %  {name}")

    table("self (leaf frame)", self_c)
    table("inclusive by component (innermost SDK component frame)", comp_c)
    table("allocation, by the component that called it", alloc_in)


if __name__ == "__main__":
    main()
