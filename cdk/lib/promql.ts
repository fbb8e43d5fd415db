/**
 * A small PromQL scanner for checking dashboards: it finds the metric names a query reads, so the
 * tests can check them against the recording rules and the allow-list of raw metrics. It is not a
 * full parser: it removes strings, label matchers, ranges, grouping clauses and function calls,
 * and what remains that looks like an identifier is a metric name.
 */

const KEYWORDS = new Set([
  'by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'bool', 'and', 'or', 'unless', 'offset',
  'sum', 'min', 'max', 'avg', 'count', 'stddev', 'stdvar', 'topk', 'bottomk', 'quantile', 'count_values', 'group',
  'inf', 'nan', 'le',
]);

/** Metric names (including recording-rule names such as `smartscale:cpu_utilisation:ratio`) read by `query`. */
export function metricNames(query: string): string[] {
  let q = query
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, ' ') // string literals
    .replace(/\{[^}]*\}/g, ' ') // label matchers
    .replace(/\[[^\]]*\]/g, ' ') // range and subquery selectors
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ') // grouping label lists
    .replace(/\$[A-Za-z_][A-Za-z0-9_]*|\$\{[^}]*\}/g, ' '); // Grafana variables ($__rate_interval, ${cluster})
  q = q.replace(/\b[0-9]+(\.[0-9]+)?(e[+-]?[0-9]+)?[smhdwy]?\b/gi, ' '); // numbers and durations
  const names = new Set<string>();
  for (const m of q.matchAll(/[A-Za-z_:][A-Za-z0-9_:]*/g)) {
    const name = m[0];
    const rest = q.slice(m.index! + name.length);
    if (/^\s*\(/.test(rest)) continue; // a function or aggregation call
    if (KEYWORDS.has(name.toLowerCase())) continue;
    names.add(name);
  }
  return [...names].sort();
}

/** Names recorded by a Prometheus rules file (its `record:` entries), parsed from YAML text. */
export function recordedNames(rulesYaml: unknown): string[] {
  const groups = ((rulesYaml as { groups?: { rules?: { record?: string }[] }[] })?.groups ?? []);
  return groups.flatMap((g) => (g.rules ?? []).map((r) => r.record).filter((r): r is string => typeof r === 'string'));
}
