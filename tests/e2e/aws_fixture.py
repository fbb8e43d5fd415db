"""AWS side of the end-to-end runs, against moto server (AWS_ENDPOINT_URL).

Usage: aws_fixture.py COMMAND JSON  (prints one JSON object on stdout)

  setup    {"cluster", "table", "workers", "emulator_url", "slack_url"}
           creates what a deployed SmartScale finds in its account: the state table (shared by all
           scenarios, one item per cluster), a VPC with a subnet per zone, the worker launch
           template, the Kubernetes credentials and Slack webhook secrets, the alert topic (with an
           SQS queue subscribed, so the test can read what was published), and the cluster's
           running workers, tagged as SmartScale tags them.
  inspect  {"cluster", "table", "queue_url"}
           what a test asserts on: the cluster's instances, its state item, and every SNS message
           that reached the queue so far.
"""

import json
import os
import sys
import time

import boto3
from botocore.exceptions import ClientError

REGION = os.environ.get("AWS_REGION", "us-east-1")
ZONES = ["us-east-1a", "us-east-1b"]


def client(service):
    return boto3.client(service, region_name=REGION, endpoint_url=os.environ["AWS_ENDPOINT_URL"])


def ensure_table(name):
    ddb = client("dynamodb")
    try:
        ddb.create_table(
            TableName=name,
            AttributeDefinitions=[{"AttributeName": "cluster_id", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "cluster_id", "KeyType": "HASH"}],
            BillingMode="PAY_PER_REQUEST",
        )
    except ClientError as e:
        if e.response["Error"]["Code"] != "ResourceInUseException":
            raise


def setup(a):
    cluster = a["cluster"]
    ensure_table(a["table"])
    ec2 = client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{i}.0/24", AvailabilityZone=z)["Subnet"]["SubnetId"]
        for i, z in enumerate(ZONES)
    ]
    image = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    template = ec2.create_launch_template(
        LaunchTemplateName=f"{cluster}-workers",
        LaunchTemplateData={"ImageId": image, "InstanceType": "t3.small"},
    )["LaunchTemplate"]["LaunchTemplateId"]

    sm = client("secretsmanager")
    creds = sm.create_secret(
        Name=f"{cluster}/k8s",
        SecretString=json.dumps({"server": a["emulator_url"], "token": "e2e-token"}),
    )["ARN"]
    slack = sm.create_secret(Name=f"{cluster}/slack", SecretString=a["slack_url"])["ARN"]

    sns, sqs = client("sns"), client("sqs")
    topic = sns.create_topic(Name=f"{cluster}-alerts")["TopicArn"]
    queue = sqs.create_queue(QueueName=f"{cluster}-alerts")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)

    tags = [
        {"Key": "Project", "Value": "smartscale"},
        {"Key": "ManagedBy", "Value": "smartscale"},
        {"Key": "Cluster", "Value": cluster},
    ]
    instances = []
    for i in range(a["workers"]):
        r = ec2.run_instances(
            LaunchTemplate={"LaunchTemplateId": template},
            MinCount=1,
            MaxCount=1,
            SubnetId=subnets[i % len(subnets)],
            TagSpecifications=[{"ResourceType": "instance", "Tags": tags}],
        )
        instances.append(r["Instances"][0]["InstanceId"])
    return {
        "template": template,
        "subnets": subnets,
        "k8s_secret": creds,
        "slack_secret": slack,
        "topic": topic,
        "queue_url": queue,
        "instances": instances,
    }


def plain(v):
    """A DynamoDB attribute value as plain JSON."""
    (kind, x), = v.items()
    if kind == "S":
        return x
    if kind == "N":
        return float(x) if "." in x else int(x)
    if kind == "BOOL":
        return x
    if kind == "NULL":
        return None
    if kind == "M":
        return {k: plain(w) for k, w in x.items()}
    if kind == "L":
        return [plain(w) for w in x]
    if kind in ("SS", "NS"):
        return sorted(x)
    return {kind: x}


def inspect(a):
    ec2 = client("ec2")
    instances = []
    pages = ec2.get_paginator("describe_instances").paginate(
        Filters=[{"Name": "tag:Cluster", "Values": [a["cluster"]]}]
    )
    for page in pages:
        for r in page["Reservations"]:
            for i in r["Instances"]:
                instances.append({
                    "id": i["InstanceId"],
                    "state": i["State"]["Name"],
                    "tags": {t["Key"]: t["Value"] for t in i.get("Tags", [])},
                })
    got = client("dynamodb").get_item(
        TableName=a["table"], Key={"cluster_id": {"S": a["cluster"]}}, ConsistentRead=True
    )
    item = {k: plain(v) for k, v in got.get("Item", {}).items()}
    messages = []
    sqs = client("sqs")
    while True:
        r = sqs.receive_message(QueueUrl=a["queue_url"], MaxNumberOfMessages=10, WaitTimeSeconds=0)
        batch = r.get("Messages", [])
        if not batch:
            break
        for m in batch:
            body = json.loads(m["Body"])
            messages.append({
                "subject": body.get("Subject"),
                "message": body.get("Message"),
                "attributes": {k: v.get("Value") for k, v in body.get("MessageAttributes", {}).items()},
            })
            sqs.delete_message(QueueUrl=a["queue_url"], ReceiptHandle=m["ReceiptHandle"])
    return {"instances": instances, "item": item, "sns": messages, "at": time.time()}


COMMANDS = {"setup": setup, "inspect": inspect}

if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in COMMANDS:
        sys.exit(f"usage: {sys.argv[0]} {{{'|'.join(COMMANDS)}}} JSON")
    print(json.dumps(COMMANDS[sys.argv[1]](json.loads(sys.argv[2]))))
