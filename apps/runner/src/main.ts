// Two programs, each loading only its own modules: `runner fetch-krt` (the workloads' one fetch
// step: local driver, Kubernetes init container) needs @libs/orchestrator, whose Kubernetes
// client alone is ~870 modules and ~0.5 s of CPU to load; the runner itself needs none of it,
// and a version start boots several runners at once (docs/lifecycle.md, "Performance").
if (process.argv[2] === 'fetch-krt') {
  const { fetchKrtCommand } = await import('./fetch-krt.command.js');
  process.exit(await fetchKrtCommand());
}
// `runner shared`: a version's entrypoint and JavaScript nodes in one process (local driver).
if (process.argv[2] === 'shared') {
  const { sharedCommand } = await import('./shared.command.js');
  await sharedCommand();
} else {
  const { runnerCommand } = await import('./runner.command.js');
  await runnerCommand();
}
