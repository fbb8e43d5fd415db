#!/usr/bin/env python3
"""Write the OpenMetrics history the live Prometheus test backfills (stdout).

Every value here is asserted by functions/core/tests/prometheus_live.rs; change both together.
Time line (T0 = END - 45 min, samples every 15 s, END = 2025-01-01T00:00:00Z):
  0-15 min   CPU 50% on both workers
  15-30 min  CPU 80% (the steady window)
  30-32 min  CPU 40% (the dip)
  32-45 min  CPU 80%
  from 38 min  pod app/pending-1 is Pending (0.5 cores, 256 MiB requested)
Memory 75% on the workers; the master (m1, control-plane) is busy and full and must be ignored.
Application: 10 req/s, 1 of them 5xx; latency histogram with p95 0.8125 s, p99 1.75 s. No RabbitMQ.
"""
import sys

END = 1735689600  # 2025-01-01T00:00:00Z
STEP = 15
T0 = END - 45 * 60


def cpu_busy(t):
    m = (t - T0) / 60
    if m < 15:
        return 0.5
    if 30 <= m < 32:
        return 0.4
    return 0.8


def main():
    out = []
    times = list(range(T0, END + STEP, STEP))

    def family(name, kind, rows, suffix=""):
        out.append(f"# TYPE {name} {kind}")
        for labels, fn in rows:
            for t in times:
                v = fn(t)
                if v is None:
                    continue
                out.append(f"{name}{suffix}{{{labels}}} {v!r} {t}")

    # Integrate idle seconds (1 - busy per CPU-second) so rates are exact per 15 s step.
    idle = {}
    acc = 0.0
    for t in times:
        idle[t] = acc
        acc += (1 - cpu_busy(t)) * STEP

    nodes = ["w1", "w2", "m1"]
    rows = []
    for n in nodes:
        for cpu in ("0", "1"):
            if n == "m1":
                rows.append((f'job="node-exporter",node="{n}",cpu="{cpu}",mode="idle"', lambda t: 0.0))
            else:
                rows.append((f'job="node-exporter",node="{n}",cpu="{cpu}",mode="idle"', lambda t: idle[t]))
    family("node_cpu_seconds", "counter", rows, "_total")

    gib = 1024 ** 3
    family("node_memory_MemTotal_bytes", "gauge",
           [(f'job="node-exporter",node="{n}"', (lambda t, v=(4 if n == "m1" else 8) * gib: float(v))) for n in nodes])
    family("node_memory_MemAvailable_bytes", "gauge",
           [(f'job="node-exporter",node="{n}"', (lambda t, v=(0 if n == "m1" else 2) * gib: float(v))) for n in nodes])

    family("kube_node_role", "gauge", [('node="m1",role="control-plane"', lambda t: 1.0)])
    cond = []
    for n in nodes:
        cond.append((f'node="{n}",condition="Ready",status="true"', lambda t: 1.0))
        cond.append((f'node="{n}",condition="Ready",status="false"', lambda t: 0.0))
        cond.append((f'node="{n}",condition="Ready",status="unknown"', lambda t: 0.0))
    family("kube_node_status_condition", "gauge", cond)

    pend_from = T0 + 38 * 60
    family("kube_pod_status_phase", "gauge", [
        ('namespace="app",pod="web-1",phase="Running"', lambda t: 1.0),
        ('namespace="app",pod="web-1",phase="Pending"', lambda t: 0.0),
        ('namespace="app",pod="pending-1",phase="Pending"', lambda t: 1.0 if t >= pend_from else None),
        ('namespace="app",pod="pending-1",phase="Running"', lambda t: 0.0 if t >= pend_from else None),
    ])
    family("kube_pod_info", "gauge", [
        ('namespace="app",pod="web-1",node="w1"', lambda t: 1.0),
        ('namespace="app",pod="pending-1",node=""', lambda t: 1.0 if t >= pend_from else None),
    ])
    family("kube_pod_container_resource_requests", "gauge", [
        ('namespace="app",pod="web-1",container="web",node="w1",resource="cpu",unit="core"', lambda t: 1.0),
        ('namespace="app",pod="pending-1",container="web",node="",resource="cpu",unit="core"',
         lambda t: 0.5 if t >= pend_from else None),
        ('namespace="app",pod="pending-1",container="web",node="",resource="memory",unit="byte"',
         lambda t: 268435456.0 if t >= pend_from else None),
    ])

    def linear(per_sec):
        return lambda t: float((t - T0) * per_sec)

    family("http_requests", "counter", [
        ('job="kubernetes-pods",pod="web-1",status="200"', linear(9)),
        ('job="kubernetes-pods",pod="web-1",status="500"', linear(1)),
    ], "_total")
    family("http_request_duration_seconds", "histogram", [
        ('job="kubernetes-pods",pod="web-1",le="0.1"', linear(50)),
        ('job="kubernetes-pods",pod="web-1",le="0.5"', linear(90)),
        ('job="kubernetes-pods",pod="web-1",le="1.0"', linear(98)),
        ('job="kubernetes-pods",pod="web-1",le="2.5"', linear(100)),
        ('job="kubernetes-pods",pod="web-1",le="+Inf"', linear(100)),
    ], "_bucket")
    out.append("# EOF")
    sys.stdout.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
