import type { Krt, KrtArchive, KrtIssue, KrtWorkflow } from '@libs/krt';

/** `line 3, column 5` when the issue has a position in the manifest. */
function where(issue: KrtIssue): string {
  return issue.line === undefined ? '' : ` (line ${issue.line}, column ${issue.column ?? 1})`;
}

/** One line per finding: severity, field path, position, message. */
export function formatIssues(issues: readonly KrtIssue[]): string[] {
  return issues.map(
    (i) =>
      `  ${i.severity === 'error' ? 'error  ' : 'warning'} ${i.path || '(manifest)'}${where(i)}: ${i.message}`,
  );
}

/** `3 errors, 1 warning`. */
export function countIssues(issues: readonly KrtIssue[]): string {
  const errors = issues.filter((i) => i.severity === 'error').length;
  const warnings = issues.length - errors;
  const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
  return warnings
    ? `${plural(errors, 'error')}, ${plural(warnings, 'warning')}`
    : plural(errors, 'error');
}

function workflowTitle(w: KrtWorkflow): string {
  const name = w.displayName === w.name ? w.name : `"${w.displayName}" (${w.name})`;
  return `${name}, rpc ${w.entrypoint}`;
}

/** The short summary of `validate`: version, workflows with their node counts, warnings. */
export function formatSummary(archive: KrtArchive): string[] {
  const { krt } = archive;
  const lines = [
    `valid KRT ${krt.krtVersion}: version ${krt.version} (${krt.manifest}, ${archive.files.length} files)`,
  ];
  for (const w of krt.workflows) {
    lines.push(
      `  workflow ${workflowTitle(w)}: ${w.nodes.length} node${w.nodes.length === 1 ? '' : 's'}`,
    );
  }
  if (krt.warnings.length) {
    lines.push(`${krt.warnings.length} warning${krt.warnings.length === 1 ? '' : 's'}:`);
    lines.push(...formatIssues(krt.warnings));
  } else {
    lines.push('no warnings');
  }
  return lines;
}

/** The JSON of a valid KRT for `validate --json`. */
export function summaryJson(archive: KrtArchive): Record<string, unknown> {
  const { krt } = archive;
  return {
    valid: true,
    krtVersion: krt.krtVersion,
    version: krt.version,
    manifest: krt.manifest,
    files: archive.files.length,
    workflows: krt.workflows.map((w) => ({
      name: w.name,
      displayName: w.displayName,
      entrypoint: w.entrypoint,
      exitpoint: w.exitpoint,
      nodes: w.nodes.length,
    })),
    warnings: krt.warnings,
  };
}

/**
 * Each workflow as a graph, one edge per line, in the order the manifest declares the nodes:
 * `entrypoint -> etl`, `classifier -[urgent]-> escalation`, and the exitpoint to the reply.
 */
export function formatGraph(krt: Krt): string[] {
  const lines = [`KRT ${krt.krtVersion}, version ${krt.version}: ${krt.description}`];
  for (const w of krt.workflows) {
    lines.push('', `workflow ${workflowTitle(w)}`);
    lines.push('  nodes:');
    for (const n of w.nodes) {
      const traits = [
        n.displayName === n.name ? '' : `"${n.displayName}"`,
        n.src,
        n.replicas > 1 ? `${n.replicas} replicas` : '',
        n.gpu ? 'gpu' : '',
        n.batch ? `batches of up to ${n.batch.maxSize} within ${n.batch.maxLatencyMs} ms` : '',
        n.objectStore ? `object store ${n.objectStore.name} (${n.objectStore.scope})` : '',
        n.name === w.exitpoint ? 'exitpoint' : '',
      ].filter(Boolean);
      lines.push(`    ${n.name}  ${traits.join(', ')}`);
    }
    lines.push('  graph:');
    for (const n of w.nodes) {
      for (const s of n.subscriptions) {
        lines.push(`    ${s.node} ${s.channel ? `-[${s.channel}]->` : '->'} ${n.name}`);
      }
    }
    lines.push(`    ${w.exitpoint} -> reply to ${w.entrypoint}`);
  }
  return lines;
}
