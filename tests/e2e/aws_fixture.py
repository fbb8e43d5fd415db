"""AWS side of the end-to-end runs: the synthesized stack's resources, made in one moto server.

Usage: aws_fixture.py COMMAND JSON  (prints one JSON object on stdout)

  deploy   {"template", "cluster", "workers", "k8s_credentials", "slack_url"}
           makes in moto (AWS_ENDPOINT_URL, IAM authorization still off) what CloudFormation
           would make from the template's own resource definitions: the VPC and its subnets,
           the security groups, the state table (key schema, billing, TTL), the secrets (values
           generated as the template says), the KMS key and the alert topic, the worker role,
           instance profile and launch template (with its settings and tags), and every IAM role
           with its policies (intrinsics resolved to the physical ids just made). Then it does
           what happens after a deploy: the master stores the Kubernetes credentials, the
           operator stores the Slack webhook, the cluster has `workers` running workers launched
           from the template. It subscribes an SQS queue to the topic (the rig reads alerts
           there), creates the rig's own administrator user, and gets each Lambda role's
           credentials with STS AssumeRole. The caller then turns IAM authorization on.
           Prints the physical ids, each function's resolved environment and credentials, both
           definitions with their substitutions resolved, and the administrator's keys.
  inspect  {"cluster", "table", "queue_url"}
           what a test asserts on: the cluster's instances, its state item, and every SNS message
           that reached the queue so far.
  tags     {"instance_ids"}
           each instance's tags (for the IAM condition keys aws:ResourceTag/*).
  call     {"endpoint", "credentials", "service", "operation", "params"}
           one API call with the given credentials; prints {"ok": result} or {"error": code, "message"}.
  launch   {"subnet", "tags"}
           runs one instance as the rig's administrator, not from the worker launch template,
           tagged with `tags` only (none: untagged).
"""

import base64
import json
import os
import secrets
import string
import sys
import time
import uuid
from datetime import datetime, timezone

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

REGION = os.environ.get("AWS_REGION", "us-east-1")
ACCOUNT = "123456789012"
PARTITION = "aws"
ZONES = ["us-east-1a", "us-east-1b", "us-east-1c"]


def client(service, endpoint=None, credentials=None):
    kw = {}
    if credentials:
        kw = {
            "aws_access_key_id": credentials["AccessKeyId"],
            "aws_secret_access_key": credentials["SecretAccessKey"],
            "aws_session_token": credentials.get("SessionToken"),
        }
    # One attempt, a long read: moto answers one request at a time, slowly under load, and a
    # retried create would find its own first attempt's resource.
    config = Config(connect_timeout=10, read_timeout=600, retries={"total_max_attempts": 1})
    return boto3.client(service, region_name=REGION, endpoint_url=endpoint or os.environ["AWS_ENDPOINT_URL"], config=config, **kw)


class Unsupported(Exception):
    """An intrinsic or attribute the rig cannot resolve: the template uses something new."""


class Stack:
    """The template's resources as made in moto, and the resolver of its intrinsic functions."""

    def __init__(self, template, stack_name):
        self.t = template
        self.stack_name = stack_name
        self.refs = {}  # logical id -> Ref value
        self.attrs = {}  # (logical id, attribute) -> value
        self.params = {}

    def of_type(self, kind):
        return {k: r for k, r in self.t["Resources"].items() if r["Type"] == kind}

    def resolve(self, v):
        if isinstance(v, list):
            return [self.resolve(x) for x in v]
        if not isinstance(v, dict):
            return v
        if len(v) != 1:
            return {k: self.resolve(x) for k, x in v.items()}
        (fn, arg), = v.items()
        if fn == "Ref":
            pseudo = {
                "AWS::Region": REGION,
                "AWS::AccountId": ACCOUNT,
                "AWS::Partition": PARTITION,
                "AWS::URLSuffix": "amazonaws.com",
                "AWS::StackName": self.stack_name,
                "AWS::NoValue": None,
            }
            if arg in pseudo:
                return pseudo[arg]
            if arg in self.params:
                return self.params[arg]
            if arg in self.refs:
                return self.refs[arg]
            raise Unsupported(f"Ref {arg}: no stand-in was made for it")
        if fn == "Fn::GetAtt":
            key = (arg[0], arg[1])
            if key in self.attrs:
                return self.attrs[key]
            raise Unsupported(f"Fn::GetAtt {arg[0]}.{arg[1]}: no stand-in was made for it")
        if fn == "Fn::Join":
            parts = self.resolve(arg[1])
            return arg[0].join(str(p) for p in parts)
        if fn == "Fn::Select":
            return self.resolve(arg[1])[int(arg[0])]
        if fn == "Fn::GetAZs":
            return ZONES
        if fn == "Fn::Base64":
            return base64.b64encode(str(self.resolve(arg)).encode()).decode()
        if fn == "Fn::Sub" and isinstance(arg, str):
            out = arg
            for name in self.refs | {"AWS::Region": 0, "AWS::AccountId": 0, "AWS::Partition": 0}:
                token = "${" + name + "}"
                if token in out:
                    out = out.replace(token, str(self.resolve({"Ref": name})))
            if "${" in out:
                raise Unsupported(f"Fn::Sub {arg}")
            return out
        if fn.startswith("Fn::"):
            raise Unsupported(f"{fn} is not resolved by the rig")
        return {fn: self.resolve(arg)}


def generated_secret(spec):
    """A value as Secrets Manager's GenerateSecretString makes it."""
    alphabet = string.ascii_letters + string.digits
    if not spec.get("ExcludePunctuation"):
        alphabet += "!#$%&*+-.:;<=>?@^_~"
    value = "".join(secrets.choice(alphabet) for _ in range(int(spec.get("PasswordLength", 32))))
    if "SecretStringTemplate" in spec:
        doc = json.loads(spec["SecretStringTemplate"])
        doc[spec["GenerateStringKey"]] = value
        return json.dumps(doc)
    return value


def make_network(s):
    ec2 = client("ec2")
    for lid, r in s.of_type("AWS::EC2::VPC").items():
        vpc = ec2.create_vpc(CidrBlock=r["Properties"]["CidrBlock"])["Vpc"]["VpcId"]
        s.refs[lid] = vpc
        default = ec2.describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [vpc]}, {"Name": "group-name", "Values": ["default"]}])
        s.attrs[(lid, "DefaultSecurityGroup")] = default["SecurityGroups"][0]["GroupId"]
    for lid, r in s.of_type("AWS::EC2::Subnet").items():
        p = s.resolve(r["Properties"])
        sub = ec2.create_subnet(VpcId=p["VpcId"], CidrBlock=p["CidrBlock"], AvailabilityZone=p["AvailabilityZone"])
        s.refs[lid] = sub["Subnet"]["SubnetId"]
    for lid, r in s.of_type("AWS::EC2::SecurityGroup").items():
        p = s.resolve(r["Properties"])
        gid = ec2.create_security_group(GroupName=f"{s.stack_name}-{lid}", Description=p["GroupDescription"], VpcId=p["VpcId"])["GroupId"]
        s.refs[lid] = gid
        s.attrs[(lid, "GroupId")] = gid


def make_data(s):
    ddb = client("dynamodb")
    for lid, r in s.of_type("AWS::DynamoDB::Table").items():
        p = s.resolve(r["Properties"])
        name = p.get("TableName") or f"{s.stack_name}-{lid}"
        ddb.create_table(
            TableName=name,
            AttributeDefinitions=p["AttributeDefinitions"],
            KeySchema=p["KeySchema"],
            BillingMode=p.get("BillingMode", "PROVISIONED"),
        )
        if p.get("TimeToLiveSpecification", {}).get("Enabled"):
            ddb.update_time_to_live(TableName=name, TimeToLiveSpecification=p["TimeToLiveSpecification"])
        s.refs[lid] = name
        s.attrs[(lid, "Arn")] = f"arn:{PARTITION}:dynamodb:{REGION}:{ACCOUNT}:table/{name}"
    sm = client("secretsmanager")
    for lid, r in s.of_type("AWS::SecretsManager::Secret").items():
        p = s.resolve(r["Properties"])
        arn = sm.create_secret(
            Name=p.get("Name") or f"{lid}-{uuid.uuid4().hex[:6]}",
            Description=p.get("Description", ""),
            SecretString=generated_secret(p.get("GenerateSecretString", {})),
        )["ARN"]
        s.refs[lid] = arn
    kms = client("kms")
    for lid, r in s.of_type("AWS::KMS::Key").items():
        p = s.resolve(r["Properties"])
        meta = kms.create_key(Description=p.get("Description", ""), Policy=json.dumps(p["KeyPolicy"]))["KeyMetadata"]
        s.refs[lid] = meta["KeyId"]
        s.attrs[(lid, "Arn")] = meta["Arn"]
    logs = client("logs")
    for lid, r in s.of_type("AWS::Logs::LogGroup").items():
        name = s.resolve(r["Properties"]).get("LogGroupName") or f"/{s.stack_name}/{lid}"
        logs.create_log_group(logGroupName=name)
        s.refs[lid] = name
        s.attrs[(lid, "Arn")] = f"arn:{PARTITION}:logs:{REGION}:{ACCOUNT}:log-group:{name}:*"
    ecr = client("ecr")
    for lid, r in s.of_type("AWS::ECR::Repository").items():
        repo = ecr.create_repository(repositoryName=s.resolve(r["Properties"]).get("RepositoryName") or lid.lower())["repository"]
        s.refs[lid] = repo["repositoryName"]
        s.attrs[(lid, "Arn")] = repo["repositoryArn"]
        s.attrs[(lid, "RepositoryUri")] = repo["repositoryUri"]
    sqs = client("sqs")
    for lid, r in s.of_type("AWS::SQS::Queue").items():
        name = s.resolve(r["Properties"]).get("QueueName") or f"{s.stack_name}-{lid}"
        url = sqs.create_queue(QueueName=name)["QueueUrl"]
        s.refs[lid] = url
        s.attrs[(lid, "Arn")] = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        s.attrs[(lid, "QueueName")] = name
    sns = client("sns")
    for lid, r in s.of_type("AWS::SNS::Topic").items():
        p = s.resolve(r["Properties"])
        attrs = {"DisplayName": p.get("DisplayName", "")}
        if p.get("KmsMasterKeyId"):
            attrs["KmsMasterKeyId"] = p["KmsMasterKeyId"]
        arn = sns.create_topic(Name=p.get("TopicName") or f"{s.stack_name}-{lid}", Attributes=attrs)["TopicArn"]
        s.refs[lid] = arn
        s.attrs[(lid, "TopicArn")] = arn


def role_policies(s, role_lid):
    """Every identity policy of a role: its inline Policies and the AWS::IAM::Policy resources naming it."""
    r = s.t["Resources"][role_lid]
    out = [(p["PolicyName"], s.resolve(p["PolicyDocument"])) for p in r["Properties"].get("Policies", [])]
    for lid, pr in s.of_type("AWS::IAM::Policy").items():
        if {"Ref": role_lid} in pr["Properties"].get("Roles", []):
            out.append((pr["Properties"]["PolicyName"], s.resolve(pr["Properties"]["PolicyDocument"])))
    return out


def make_iam(s):
    iam = client("iam")
    roles = s.of_type("AWS::IAM::Role")
    for lid, r in roles.items():
        name = r["Properties"].get("RoleName") or lid[:64]
        arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(s.resolve(r["Properties"]["AssumeRolePolicyDocument"])))["Role"]["Arn"]
        s.refs[lid] = name
        s.attrs[(lid, "Arn")] = arn
    for lid, r in s.of_type("AWS::IAM::InstanceProfile").items():
        prof = iam.create_instance_profile(InstanceProfileName=lid)["InstanceProfile"]
        for role in s.resolve(r["Properties"]["Roles"]):
            iam.add_role_to_instance_profile(InstanceProfileName=lid, RoleName=role)
        s.refs[lid] = lid
        s.attrs[(lid, "Arn")] = prof["Arn"]


def action_level(doc):
    """The policy as moto can enforce it: the same actions, on every resource, without conditions.

    moto evaluates EC2, DynamoDB, Secrets Manager and SNS calls against Resource "*" only, so a
    statement scoped to an ARN would never match there; the resources and conditions of the real
    documents are evaluated by the rig's IAM proxy (iam_proxy.mjs) instead. A Deny scoped by a
    resource or a condition is left to the proxy too: widened to every resource without its
    condition it would deny what the real policy allows.
    """
    statements = doc["Statement"] if isinstance(doc["Statement"], list) else [doc["Statement"]]

    def scoped(st):
        return "Condition" in st or "NotResource" in st or st.get("Resource") not in ("*", ["*"])

    return {
        "Version": doc.get("Version", "2012-10-17"),
        "Statement": [
            {k: v for k, v in st.items() if k not in ("Resource", "NotResource", "Condition")} | {"Resource": "*"}
            for st in statements
            if not (st.get("Effect") == "Deny" and scoped(st))
        ],
    }


def put_role_policies(s):
    """Policies last: their documents name resources made after the roles (the launch template)."""
    iam = client("iam")
    for lid in s.of_type("AWS::IAM::Role"):
        for name, doc in role_policies(s, lid):
            iam.put_role_policy(RoleName=s.refs[lid], PolicyName=name, PolicyDocument=json.dumps(action_level(doc)))


def make_launch_templates(s):
    ec2 = client("ec2")
    image = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    for pid, p in s.t.get("Parameters", {}).items():
        if p["Type"].startswith("AWS::SSM::Parameter::Value<AWS::EC2::Image::Id>"):
            s.params[pid] = image
        elif "Default" in p:
            s.params[pid] = p["Default"]
    for lid, r in s.of_type("AWS::EC2::LaunchTemplate").items():
        p = s.resolve(r["Properties"])
        lt = ec2.create_launch_template(LaunchTemplateName=p.get("LaunchTemplateName") or lid, LaunchTemplateData=p["LaunchTemplateData"])["LaunchTemplate"]
        s.refs[lid] = lt["LaunchTemplateId"]
        s.attrs[(lid, "LatestVersionNumber")] = str(lt["LatestVersionNumber"])
        s.attrs[(lid, "DefaultVersionNumber")] = str(lt["DefaultVersionNumber"])


def resource_policies(s):
    """The template's resource policies by resource ARN: KMS key policies and SNS topic policies."""
    out = {}
    for lid, r in s.of_type("AWS::KMS::Key").items():
        out[s.attrs[(lid, "Arn")]] = s.resolve(r["Properties"]["KeyPolicy"])
    for r in s.of_type("AWS::SNS::TopicPolicy").values():
        p = s.resolve(r["Properties"])
        for topic in p["Topics"]:
            out[topic] = p["PolicyDocument"]
    return out


def deploy(a):
    template = json.load(open(a["template"]))
    s = Stack(template, a.get("stack_name", "SmartScale-e2e"))
    make_network(s)
    make_data(s)
    make_iam(s)
    make_launch_templates(s)
    # The master is the cluster emulator here: no EC2 instance stands in for it. Its private
    # address only builds PROMETHEUS_URL, which the rig replaces (see deployment.mjs).
    for lid in s.of_type("AWS::EC2::Instance"):
        s.attrs[(lid, "PrivateIp")] = "192.0.2.10"
        s.refs[lid] = "i-0master0standin0"
    functions = {}
    for lid, r in s.of_type("AWS::Lambda::Function").items():
        p = r["Properties"]
        name = p.get("FunctionName")
        if not name:
            # CDK's own deploy-time handlers (custom resource providers) are not SmartScale steps.
            s.attrs[(lid, "Arn")] = f"arn:{PARTITION}:lambda:{REGION}:{ACCOUNT}:function:{lid}"
            continue
        arn = f"arn:{PARTITION}:lambda:{REGION}:{ACCOUNT}:function:{name}"
        s.refs[lid] = name
        s.attrs[(lid, "Arn")] = arn
        functions[name] = {"logical_id": lid, "arn": arn, "role": p["Role"]["Fn::GetAtt"][0]}
    for lid, r in s.of_type("AWS::StepFunctions::StateMachine").items():
        arn = f"arn:{PARTITION}:states:{REGION}:{ACCOUNT}:stateMachine:{r['Properties']['StateMachineName']}"
        s.refs[lid] = arn
        s.attrs[(lid, "Name")] = r["Properties"]["StateMachineName"]
    put_role_policies(s)
    for name, f in functions.items():
        p = template["Resources"][f["logical_id"]]["Properties"]
        f["environment"] = {k: str(v) for k, v in s.resolve(p.get("Environment", {}).get("Variables", {})).items()}
        f["role_arn"] = s.attrs[(f["role"], "Arn")]
        f["policies"] = [doc for _, doc in role_policies(s, f["role"])]
    machines = {}
    for lid, r in s.of_type("AWS::StepFunctions::StateMachine").items():
        p = r["Properties"]
        text = s.resolve(p["DefinitionString"])
        for key, value in s.resolve(p.get("DefinitionSubstitutions", {})).items():
            text = text.replace("${" + key + "}", str(value))
        machines[lid] = {"name": p["StateMachineName"], "arn": s.refs[lid], "definition": json.loads(text)}

    sm = client("secretsmanager")
    secret_of = {lid: s.refs[lid] for lid in s.of_type("AWS::SecretsManager::Secret")}
    k8s = next(v for k, v in secret_of.items() if k.startswith("K8sApiCredentials"))
    slack = next(v for k, v in secret_of.items() if k.startswith("SlackWebhook"))
    sm.put_secret_value(SecretId=k8s, SecretString=json.dumps(a["k8s_credentials"]))
    sm.put_secret_value(SecretId=slack, SecretString=a["slack_url"])

    topic = next(iter(s.of_type("AWS::SNS::Topic")))
    sqs = client("sqs")
    queue = sqs.create_queue(QueueName="e2e-rig-alerts")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    client("sns").subscribe(TopicArn=s.refs[topic], Protocol="sqs", Endpoint=queue_arn)

    # The workers' template is the one the functions launch from (their LAUNCH_TEMPLATE_ID).
    worker_lt = next(
        f["Properties"]["Environment"]["Variables"]["LAUNCH_TEMPLATE_ID"]["Ref"]
        for f in s.of_type("AWS::Lambda::Function").values()
        if isinstance(f["Properties"].get("Environment", {}).get("Variables", {}).get("LAUNCH_TEMPLATE_ID"), dict)
    )
    lt_data = s.resolve(template["Resources"][worker_lt]["Properties"]["LaunchTemplateData"])
    instance_tags = next(t["Tags"] for t in lt_data["TagSpecifications"] if t["ResourceType"] == "instance")
    subnets = functions[next(iter(functions))]["environment"]["WORKER_SUBNET_IDS"].split(",")
    ec2 = client("ec2")
    # Round-robin over the subnets, one RunInstances per subnet (a 500-worker bench cluster in
    # three calls rather than 500).
    instances = []
    for k, subnet in enumerate(subnets):
        count = len(range(k, a["workers"], len(subnets)))
        if count == 0:
            continue
        r = ec2.run_instances(
            LaunchTemplate={"LaunchTemplateId": s.refs[worker_lt]},
            MinCount=count,
            MaxCount=count,
            SubnetId=subnet,
            TagSpecifications=[{"ResourceType": "instance", "Tags": instance_tags}],
        )
        instances.extend(i["InstanceId"] for i in r["Instances"])

    iam = client("iam")
    iam.create_user(UserName="e2e-rig")
    iam.put_user_policy(
        UserName="e2e-rig",
        PolicyName="rig",
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}),
    )
    key = iam.create_access_key(UserName="e2e-rig")["AccessKey"]
    sts = client("sts")
    for name, f in functions.items():
        c = sts.assume_role(RoleArn=f["role_arn"], RoleSessionName=name[:64], DurationSeconds=43200)["Credentials"]
        f["credentials"] = {k: c[k] for k in ("AccessKeyId", "SecretAccessKey", "SessionToken")}

    role_of_profile = {
        s.attrs[(lid, "Arn")]: s.attrs[(s.t["Resources"][lid]["Properties"]["Roles"][0]["Ref"], "Arn")]
        for lid in s.of_type("AWS::IAM::InstanceProfile")
    }
    return {
        "functions": functions,
        "machines": machines,
        "table": next(v for k, v in s.refs.items() if k in s.of_type("AWS::DynamoDB::Table")),
        "topic": s.refs[topic],
        "topic_key_arn": next(iter(s.attrs[(k, "Arn")] for k in s.of_type("AWS::KMS::Key"))),
        "resource_policies": resource_policies(s),
        "queue_url": queue,
        "instances": instances,
        "launch_template": {"id": s.refs[worker_lt], "data": lt_data, "role_arn": role_of_profile[lt_data["IamInstanceProfile"]["Arn"]]},
        "admin": {"AccessKeyId": key["AccessKeyId"], "SecretAccessKey": key["SecretAccessKey"]},
        "physical": s.refs,
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
                    "type": i.get("InstanceType"),
                    "lifecycle": i.get("InstanceLifecycle"),
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
    forecast = client("dynamodb").get_item(
        TableName=a["table"], Key={"cluster_id": {"S": a["cluster"] + "#forecast"}}, ConsistentRead=True
    )
    forecast_item = {k: plain(v) for k, v in forecast.get("Item", {}).items()}
    return {"instances": instances, "item": item, "forecast": forecast_item, "sns": messages, "at": time.time()}


def tags(a):
    out = {i: {} for i in a["instance_ids"]}
    if not a["instance_ids"]:
        return out
    try:
        pages = client("ec2").get_paginator("describe_instances").paginate(InstanceIds=a["instance_ids"])
        for page in pages:
            for r in page["Reservations"]:
                for i in r["Instances"]:
                    out[i["InstanceId"]] = {t["Key"]: t["Value"] for t in i.get("Tags", [])}
    except ClientError:
        pass
    return out


def call(a):
    c = client(a["service"], endpoint=a["endpoint"], credentials=a["credentials"])
    try:
        r = getattr(c, a["operation"])(**a["params"])
        r.pop("ResponseMetadata", None)
        return {"ok": json.loads(json.dumps(r, default=str))}
    except ClientError as e:
        return {"error": e.response["Error"]["Code"], "message": e.response["Error"].get("Message", "")}


def launch(a):
    """An instance SmartScale did not launch: not from the worker template, with only `tags`."""
    ec2 = client("ec2")
    image = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    kw = {"TagSpecifications": [{"ResourceType": "instance", "Tags": a["tags"]}]} if a.get("tags") else {}
    r = ec2.run_instances(ImageId=image, InstanceType="t3.small", MinCount=1, MaxCount=1, SubnetId=a["subnet"], **kw)
    return {"instance_id": r["Instances"][0]["InstanceId"]}


def put_metrics(a):
    """The stand-in for CloudWatch Logs' EMF extraction: each record of `a["records"]` (what the
    functions logged, standins.mjs `emf()`) as PutMetricData in its namespace, with its timestamp,
    unit and dimension set.

    Sent in CloudWatch's query protocol (the one the functions' SDK speaks) and uncompressed:
    with IAM authorization on, moto verifies a form request's signature over the form it parsed,
    which fails for botocore's preferred JSON protocol and for a gzip-compressed body."""
    import botocore.model
    preferred = botocore.model.PRIORITY_ORDERED_SUPPORTED_PROTOCOLS
    botocore.model.PRIORITY_ORDERED_SUPPORTED_PROTOCOLS = ("query",) + preferred
    try:
        config = Config(connect_timeout=10, read_timeout=600, retries={"total_max_attempts": 1}, disable_request_compression=True)
        cw = boto3.client("cloudwatch", region_name=REGION, endpoint_url=os.environ["AWS_ENDPOINT_URL"], config=config)
    finally:
        botocore.model.PRIORITY_ORDERED_SUPPORTED_PROTOCOLS = preferred
    by_namespace = {}
    for r in a["records"]:
        by_namespace.setdefault(r["namespace"], []).append({
            "MetricName": r["name"],
            "Value": float(r["value"]),
            "Unit": r["unit"],
            "Timestamp": datetime.fromtimestamp(r["timestamp"] / 1000, tz=timezone.utc),
            "Dimensions": [{"Name": k, "Value": v} for k, v in r["dimensions"].items()],
        })
    for namespace, data in by_namespace.items():
        for i in range(0, len(data), 500):
            cw.put_metric_data(Namespace=namespace, MetricData=data[i:i + 500])
    return {"put": sum(len(d) for d in by_namespace.values())}


COMMANDS = {"deploy": deploy, "inspect": inspect, "tags": tags, "call": call, "launch": launch, "put_metrics": put_metrics}

if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in COMMANDS:
        sys.exit(f"usage: {sys.argv[0]} {{{'|'.join(COMMANDS)}}} JSON")
    print(json.dumps(COMMANDS[sys.argv[1]](json.loads(sys.argv[2]))))
