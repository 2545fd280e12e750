#!/usr/bin/env python3
"""Inclusive shares of named stages in a `perf script` dump of the floor child: the share of
samples with a frame of that stage anywhere on the stack (stages nest, so they do not add up).

    perf script -i perf.data --pid PID --no-inline -F comm,pid,tid,period,ip,sym,dso | \
        python3 bench/profile_frames.py
"""
import re
import sys

STAGES = [
    ("whole operation (orchestrator::invoke)", r"orchestrator::invoke"),
    ("SigV4 signing (SigV4Signer::sign_http_request)", r"SigV4Signer as .*sign_http_request|aws_sigv4::"),
    ("request serialization (ser_*_input, SerializeRequest)",
     r"SerializeRequest|shape_\w+_input|ser_\w+_input|ser_\w+_headers"),
    ("response deserialization (DeserializeResponse, de_*)",
     r"DeserializeResponse|deserialize_nonstreaming|shape_\w+::de_|aws_smithy_json::deserialize"),
    ("reading the response body (read_body, SdkBody)", r"read_body|SdkBody|collect"),
    ("HTTP client: hyper, hyper-util, pool", r"hyper::|hyper_util::|aws_smithy_http_client::"),
    ("endpoint resolution (orchestrate_endpoint)", r"orchestrate_endpoint|resolve_endpoint|apply_endpoint"),
    ("identity resolution (LazyCache)", r"resolve_identity|LazyCache|identity::"),
    ("interceptor hooks (Interceptors::*)", r"interceptors::Interceptors|SharedInterceptor"),
    ("  user-agent interceptor", r"UserAgentInterceptor|user_agent"),
    ("  recursion-detection interceptor", r"RecursionDetection"),
    ("  invocation-id / request-info interceptors", r"InvocationId|RequestInfo"),
    ("runtime plugins and components (apply_client_configuration, merge_from)",
     r"apply_client_configuration|apply_operation_configuration|RuntimeComponentsBuilder|runtime_plugin"),
    ("config bag (ConfigBag, Layer, TypeErasedBox)", r"config_bag|ConfigBag|Layer|TypeErased"),
    ("retry strategy (should_attempt, token bucket)", r"retries::|RetryStrategy|token_bucket|should_attempt"),
    ("timeouts (timer registration: Sleep, TimerEntry)", r"Sleep>|TimerEntry|sleep_until|timer::"),
    ("stalled-stream protection (MinimumThroughput)", r"MinimumThroughput|stalled_stream|minimum_throughput"),
    ("tracing (span enter/exit, dispatch)", r"tracing_core::|tracing::span|tracing::dispatcher|tracing_subscriber"),
    ("getenv (per-request environment reads)", r"\bgetenv\b"),
    ("allocation (leaf in malloc/free/realloc)", None),
    ("kernel (syscall entry on the stack)", r"entry_SYSCALL|\[kernel"),
]
ALLOC = re.compile(r"\b(malloc|free|cfree|realloc|calloc|_int_malloc|_int_free|_int_realloc|"
                   r"malloc_consolidate|unlink_chunk|mi_\w+|_mi_\w+|__rdl_\w+|__rust_\w*alloc)\b")


def main():
    stage_re = [(n, re.compile(p) if p else None) for n, p in STAGES]
    hits = {n: 0 for n, _ in STAGES}
    total = 0
    for block in sys.stdin.read().split("\n\n"):
        lines = [line for line in block.split("\n") if line.strip()]
        if len(lines) < 2:
            continue
        period = int(lines[0].split()[-1])
        frames = [line.strip().split(None, 1)[-1] for line in lines[1:]]
        total += period
        stack = "\n".join(frames)
        for name, rx in stage_re:
            if rx is None:
                if ALLOC.search(frames[0]):
                    hits[name] += period
            elif rx.search(stack):
                hits[name] += period
    for name, _ in STAGES:
        print(f"  {100.0 * hits[name] / total:5.1f} %  {name}")


if __name__ == "__main__":
    main()
