import { describe, expect, it } from 'vitest';
import { WorkloadGroup } from './workload-group.js';
import type { WorkloadService } from './workload.host.js';

/** A member that records when it starts and stops; its stop takes `stopMs`. */
function member(name: string, events: string[], stopMs = 0) {
  let ready = false;
  const service: WorkloadService = {
    start: () => {
      events.push(`start ${name}`);
      ready = true;
      return Promise.resolve();
    },
    stop: async () => {
      events.push(`stop ${name}`);
      await new Promise((done) => setTimeout(done, stopMs));
      ready = false;
      events.push(`stopped ${name}`);
    },
    readiness: () => ({ ready, reason: ready ? 'serving' : 'not bound' }),
  };
  return service;
}

describe(WorkloadGroup.name, () => {
  it('is ready when every member is, naming the first that is not', async () => {
    const events: string[] = [];
    const group = new WorkloadGroup([
      { id: 'entrypoint', service: member('entrypoint', events), stopsFirst: true },
      { id: 'wf.a', service: member('a', events) },
    ]);
    expect(group.readiness()).toEqual({ ready: false, reason: 'entrypoint: not bound' });
    await group.start();
    expect(group.readiness()).toEqual({ ready: true, reason: '2 workloads serve' });
  });

  it('stops the entrypoint first, and its nodes only once it has finished', async () => {
    const events: string[] = [];
    const group = new WorkloadGroup([
      { id: 'wf.a', service: member('a', events) },
      { id: 'entrypoint', service: member('entrypoint', events, 20), stopsFirst: true },
      { id: 'wf.b', service: member('b', events) },
    ]);
    await group.start();
    events.length = 0;
    await group.stop();
    expect(events.slice(0, 2)).toEqual(['stop entrypoint', 'stopped entrypoint']);
    expect(events.slice(2).sort()).toEqual(['stop a', 'stop b', 'stopped a', 'stopped b']);
    expect(group.readiness()).toEqual({ ready: false, reason: 'wf.a: not bound' });
  });
});
