/** Table-driven tests of the dashboard query scanner. */
import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { metricNames } from '../lib/promql';

const CASES: { name: string; query: string; metrics: string[] }[] = [
  { name: 'recording rule alone', query: 'smartscale:cpu_utilisation:ratio', metrics: ['smartscale:cpu_utilisation:ratio'] },
  { name: 'label matcher values are not metrics', query: 'kube_pod_status_phase{phase="Pending", namespace=~"demo|default"}', metrics: ['kube_pod_status_phase'] },
  { name: 'functions, ranges and numbers', query: 'changes(smartscale:nodes_ready:count[2m]) > 0', metrics: ['smartscale:nodes_ready:count'] },
  { name: 'aggregation with grouping', query: 'histogram_quantile(0.50, sum by (le) (rate(http_request_duration_seconds_bucket[5m])))', metrics: ['http_request_duration_seconds_bucket'] },
  { name: 'binary operation with on()', query: 'sum(rate(http_requests_total{status=~"5.."}[2m])) / on(job) sum(rate(http_requests_total[2m]))', metrics: ['http_requests_total'] },
  { name: 'grafana variables are ignored', query: 'rate(node_cpu_seconds_total{mode="idle"}[$__rate_interval])', metrics: ['node_cpu_seconds_total'] },
  { name: 'two different metrics', query: '1 - node_memory_MemAvailable_bytes / node_memory_MemTotal_bytes', metrics: ['node_memory_MemAvailable_bytes', 'node_memory_MemTotal_bytes'] },
];

describe('metricNames', () => {
  for (const c of CASES) it(c.name, () => assert.deepEqual(metricNames(c.query), c.metrics));
});
