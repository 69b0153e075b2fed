import { flushCompileCache } from 'node:module';
import { loadEnvOrExit, type SharedWorkloads, sharedProcessEnv } from '@libs/config';
import { composeEntrypoint, entrypointEnvSchema } from '@libs/entrypoint';
import { initTracing } from '@libs/observability/workload';
import { type GroupMember, WorkloadGroup, runWorkload } from '@libs/workload';
import { z } from 'zod';
import type { HandlerModule } from './handler.model.js';
import { composeRunner } from './runner.composition.js';
import { runnerEnvSchema } from './runner.env.js';
import { loadNodeOrExit, prepareForUserCode } from './runner.command.js';
import { CaptureChannel } from './stdio.capture.js';

/**
 * `runner shared`: a version's shared process (the local driver's, docs/lifecycle.md, "Density"):
 * its entrypoint and JavaScript nodes (one replica each) on one NATS connection, with one set of
 * probes. Each member reads its own env (the process's, and its part of KRT_SHARED_WORKLOADS),
 * loads as its own program would, and logs and traces as it would alone: what a node's code
 * prints is that node's record, spans keep their service (`entrypoint`, `runner`). Exits 78 on a
 * bad env, 1 if a member cannot start.
 */
export async function sharedCommand(): Promise<void> {
  const { KRT_SHARED_WORKLOADS: members } = loadEnvOrExit(
    'runner shared',
    z.object(sharedProcessEnv),
  );
  const envOf = (member: SharedWorkloads[number]) => ({ ...process.env, ...member.env });
  const entrypoints = members
    .filter((m) => m.program === 'entrypoint')
    .map((m) => ({
      id: m.id,
      env: loadEnvOrExit(`entrypoint ${m.id}`, entrypointEnvSchema, envOf(m)),
    }));
  const nodes = members
    .filter((m) => m.program === 'runner')
    .map((m) => ({ id: m.id, env: loadEnvOrExit(`runner ${m.id}`, runnerEnvSchema, envOf(m)) }));
  // What they have in common (NATS, credentials, probes, logs) is the process's env.
  const host = entrypoints[0]?.env ?? nodes[0].env;
  await initTracing(
    [...(entrypoints.length ? ['entrypoint'] : []), ...(nodes.length ? ['runner'] : [])],
    host,
    { 'kre.runtime': host.KRT_RUNTIME_ID, 'kre.version': host.KRT_VERSION },
  );
  prepareForUserCode();
  const loaded: ((typeof nodes)[number] & {
    capture: CaptureChannel;
    handlerModule: HandlerModule;
  })[] = [];
  for (const node of nodes) {
    const capture = new CaptureChannel();
    loaded.push({ ...node, capture, handlerModule: await loadNodeOrExit(node.env, capture) });
  }
  try {
    await runWorkload({
      app: 'shared',
      env: host,
      connectionName: `shared-${host.KRT_RUNTIME_ID}-${host.KRT_VERSION}`,
      readinessKey: 'workloads',
      compose: (nc) =>
        new WorkloadGroup([
          ...entrypoints.map(({ id, env }): GroupMember => ({
            id,
            service: composeEntrypoint(env, { nc }),
            stopsFirst: true,
          })),
          ...loaded.map(({ id, env, capture, handlerModule }): GroupMember => ({
            id,
            service: composeRunner(env, { nc, handlerModule, capture }),
          })),
        ]),
    });
  } catch (error) {
    process.stderr.write(
      `runner shared: cannot start: ${error instanceof Error ? error.message : String(error)}\n`,
    );
    process.exit(1);
  }
  flushCompileCache();
}
