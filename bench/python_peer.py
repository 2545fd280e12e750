"""The peer a user would otherwise write: a boto3 poller that receives from SQS, turns each
EventBridge event into a CloudEvent (HTTP binary mode), POSTs it, and batch-deletes what the sink
acknowledged. Run by the driver benchmark (bench/src/driver/python.rs) on the same queue contents
and sink as `eventferry drive`.

Prints `first` when the first batch arrives, then one JSON line when `--count` messages are
deleted: {"seconds": window, "messages": n}.
"""

import argparse
import json
import sys
import time

import boto3
import requests


def to_cloudevent(message, queue_arn):
    """Binary-mode headers and body, as `eventferry drive` maps an EventBridge event."""
    body = message["Body"]
    try:
        event = json.loads(body)
    except ValueError:
        event = None
    if isinstance(event, dict) and "detail-type" in event and "source" in event:
        headers = {
            "ce-specversion": "1.0",
            "ce-id": event["id"],
            "ce-source": "arn:aws:events:%s:%s:event-bus/default" % (event["region"], event["account"]),
            "ce-type": event["source"],
            "ce-time": event["time"],
            "ce-awsdetailtype": event["detail-type"],
            "ce-awsaccount": event["account"],
            "ce-awsregion": event["region"],
            "content-type": "application/json",
        }
        if len(event.get("resources") or []) == 1:
            headers["ce-subject"] = event["resources"][0]
        return headers, json.dumps(event).encode()
    ts = int(message.get("Attributes", {}).get("SentTimestamp", "0"))
    headers = {
        "ce-specversion": "1.0",
        "ce-id": message["MessageId"],
        "ce-source": queue_arn,
        "ce-type": "com.amazon.sqs.message",
        "ce-time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts / 1000)),
        "content-type": "application/json" if event is not None else "text/plain",
    }
    return headers, body.encode()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--queue-url", required=True)
    p.add_argument("--count", type=int, required=True)
    p.add_argument("--sink", required=True)
    p.add_argument("--endpoint", default="http://127.0.0.1:4566")
    p.add_argument("--wait", type=int, default=1)
    a = p.parse_args()

    sqs = boto3.client("sqs", endpoint_url=a.endpoint, region_name="us-east-1")
    queue_arn = sqs.get_queue_attributes(QueueUrl=a.queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    http = requests.Session()
    deleted = 0
    first = None
    while deleted < a.count:
        out = sqs.receive_message(
            QueueUrl=a.queue_url,
            MaxNumberOfMessages=10,
            WaitTimeSeconds=a.wait,
            MessageSystemAttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        messages = out.get("Messages", [])
        if not messages:
            continue
        if first is None:
            first = time.monotonic()
            print("first", flush=True)
        acked = []
        for i, m in enumerate(messages):
            headers, body = to_cloudevent(m, queue_arn)
            try:
                r = http.post(a.sink, data=body, headers=headers, timeout=30)
            except requests.RequestException as e:
                print("delivery failed: %s" % e, file=sys.stderr)
                continue
            if 200 <= r.status_code < 300:
                acked.append({"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]})
        if acked:
            out = sqs.delete_message_batch(QueueUrl=a.queue_url, Entries=acked)
            deleted += len(out.get("Successful", []))
    print(json.dumps({"seconds": time.monotonic() - first, "messages": deleted}), flush=True)
    # Alive until the benchmark closes our stdin: it reads our CPU and peak RSS from /proc now.
    sys.stdin.read()


if __name__ == "__main__":
    main()
