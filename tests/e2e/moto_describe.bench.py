"""What moto's DescribeInstances costs at 500 instances: `.venv/bin/python tests/e2e/moto_describe.bench.py`.

Not a test: prints the figures docs/BENCHMARKS.md quotes ("Release run 2"). Starts a moto server
on a free loopback port, runs 500 + 4 instances tagged as one cluster's, and times each way the
functions ask for instances (twice each): the whole fleet by the ownership filters, one
operation's 4 by a tag filter, the same 4 by an instance-id filter and by InstanceIds.
"""

import socket
import subprocess
import sys
import time
from pathlib import Path

import boto3

with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
server = subprocess.Popen([str(Path(sys.executable).parent / "moto_server"), "-p", str(port)],
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
try:
    time.sleep(3)
    ec2 = boto3.client("ec2", endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1",
                       aws_access_key_id="testing", aws_secret_access_key="testing")
    ami = ec2.describe_images()["Images"][0]["ImageId"]

    def run(count, op):
        tags = [{"Key": "Cluster", "Value": "c"}, {"Key": "ManagedBy", "Value": "smartscale"}, {"Key": "op", "Value": op}]
        r = ec2.run_instances(ImageId=ami, MinCount=count, MaxCount=count, InstanceType="t3.small",
                              TagSpecifications=[{"ResourceType": "instance", "Tags": tags}])
        return [i["InstanceId"] for i in r["Instances"]]

    for _ in range(5):
        run(100, "a")
    ids = run(4, "b")
    own = [{"Name": "tag:Cluster", "Values": ["c"]}, {"Name": "tag:ManagedBy", "Values": ["smartscale"]},
           {"Name": "instance-state-name", "Values": ["pending", "running"]}]
    ways = [
        ("the fleet by the ownership filters", {"Filters": own}),
        ("one operation's by a tag filter", {"Filters": own + [{"Name": "tag:op", "Values": ["b"]}]}),
        ("the same by an instance-id filter", {"Filters": own + [{"Name": "instance-id", "Values": ids}]}),
        ("the same by InstanceIds", {"InstanceIds": ids}),
    ]
    print("| request | instances | seconds |\n|---|---:|---:|")
    for label, kw in ways:
        for _ in range(2):
            t = time.time()
            n = sum(len(r["Instances"]) for page in ec2.get_paginator("describe_instances").paginate(**kw)
                    for r in page["Reservations"])
            print(f"| {label} | {n} | {time.time() - t:.3f} |")
finally:
    server.terminate()
