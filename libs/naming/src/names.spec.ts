import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { K8S_NAME_MAX, Names, hashedK8sName, slugify } from './names.js';

describe(Names.name, () => {
  const sut = new Names('kre');

  it('derives the names of the architecture table', () => {
    expect(sut.workflowStream('demo', 'v1', 'wf')).toBe('KRE_demo_v1_wf');
    expect(sut.entrypointSubject('demo', 'v1', 'wf')).toBe('kre.demo.wf.v1.wf.entrypoint');
    expect(sut.nodeSubject('demo', 'v1', 'wf', 'etl')).toBe('kre.demo.wf.v1.wf.etl');
    expect(sut.nodeSubject('demo', 'v1', 'wf', 'etl', 'odd')).toBe('kre.demo.wf.v1.wf.etl.odd');
    expect(sut.consumer('model', 'etl', 'odd')).toBe('model_etl_odd');
    expect(sut.consumer('etl', 'entrypoint')).toBe('etl_entrypoint');
    expect(sut.obsStream('demo')).toBe('KRE_demo_OBS');
    expect(sut.obsSubject('demo', 'logs')).toBe('kre.demo.obs.logs');
    expect(sut.dataSubject('demo', 'find')).toBe('kre.demo.data.find');
    expect(sut.tracesSubject('demo')).toBe('kre.demo.traces');
    expect(sut.projectBucket('demo', 'v1')).toBe('kre_demo_v1');
    expect(sut.nodeBucket('demo', 'v1', 'wf', 'etl')).toBe('kre_demo_v1_wf_etl');
    expect(sut.krtBucket('demo')).toBe('kre_demo_krt');
    expect(sut.gatewayBucket()).toBe('kre_gateway');
    expect(sut.invocationKeysBucket()).toBe('kre_invocation_keys');
    expect(sut.invocationKeyUsedSubject()).toBe('kre.svc.gateway.key-used');
    expect(sut.versionActivitySubject()).toBe('kre.svc.gateway.activity');
    expect(sut.wakeRequestSubject()).toBe('kre.svc.gateway.wake');
    expect(sut.platformDb()).toBe('kre');
    expect(sut.runtimeDb('demo')).toBe('kre_demo');
    expect(sut.runtimeDataDb('demo')).toBe('kre_demo_data');
    expect(sut.namespace('demo')).toBe('kre-demo');
  });

  it('keeps two installations apart', () => {
    const other = new Names('kre2');
    expect(other.runtimeDb('demo')).not.toBe(sut.runtimeDb('demo'));
    expect(other.workflowStream('demo', 'v1', 'wf')).not.toBe(
      sut.workflowStream('demo', 'v1', 'wf'),
    );
    expect(other.entrypointSubject('demo', 'v1', 'wf')).not.toBe(
      sut.entrypointSubject('demo', 'v1', 'wf'),
    );
  });

  /** A name as the KRT rules allow it: `[a-z0-9-]`, starting with a letter, no `--`. */
  const name = fc
    .stringMatching(/^[a-z][a-z0-9-]{0,11}$/)
    .filter((n) => !n.includes('--') && !n.endsWith('-'));
  const tuple = fc.tuple(name, name, name, name);

  it('never maps two different (runtime, version, workflow, node) tuples to one name', () => {
    fc.assert(
      fc.property(tuple, tuple, ([rt1, v1, wf1, n1], [rt2, v2, wf2, n2]) => {
        fc.pre(rt1 !== rt2 || v1 !== v2 || wf1 !== wf2 || n1 !== n2);
        const derive = (rt: string, v: string, wf: string, n: string) => [
          sut.workflowStream(rt, v, wf),
          sut.entrypointSubject(rt, v, wf),
          sut.nodeSubject(rt, v, wf, n),
          sut.nodeBucket(rt, v, wf, n),
        ];
        const one = derive(rt1, v1, wf1, n1);
        const two = derive(rt2, v2, wf2, n2);
        // Names that depend only on (runtime, version, workflow) may coincide when only the
        // node differs; the node's own names never do.
        const sameWorkflow = rt1 === rt2 && v1 === v2 && wf1 === wf2;
        expect(one[2]).not.toBe(two[2]);
        expect(one[3]).not.toBe(two[3]);
        if (!sameWorkflow) {
          expect(one[0]).not.toBe(two[0]);
          expect(one[1]).not.toBe(two[1]);
        }
      }),
      { numRuns: 2_000 },
    );
  });

  it('tells apart tuples whose parts join to the same text', () => {
    const tuples = [
      ['a', 'b-c', 'd'],
      ['a-b', 'c', 'd'],
      ['a', 'b', 'c-d'],
      ['a', 'bc', 'd'],
    ] as const;
    const streams = new Set(tuples.map(([rt, v, wf]) => sut.workflowStream(rt, v, wf)));
    const subjects = new Set(tuples.map(([rt, v, wf]) => sut.entrypointSubject(rt, v, wf)));
    expect(streams.size).toBe(tuples.length);
    expect(subjects.size).toBe(tuples.length);
  });
});

describe(slugify.name, () => {
  it.each([
    ['Execute DL Model', 'execute-dl-model'],
    ['New prediction', 'new-prediction'],
    ['  ETL -- step #2 ', 'etl-step-2'],
    ['***', ''],
  ])('%j → %j', (input, expected) => expect(slugify(input)).toBe(expected));
});

describe(hashedK8sName.name, () => {
  it('fits a DNS label and stays unique when the readable part is cut', () => {
    const long = 'x'.repeat(60);
    const a = hashedK8sName(['v1', long, 'node-a']);
    const b = hashedK8sName(['v1', long, 'node-b']);
    expect(a.length).toBeLessThanOrEqual(K8S_NAME_MAX);
    expect(a).toMatch(/^v-[a-z0-9-]*[a-z0-9]-[0-9a-f]{6}$/);
    expect(a).not.toBe(b);
  });

  it('tells apart tuples that join to the same text', () => {
    expect(hashedK8sName(['a-b', 'c'])).not.toBe(hashedK8sName(['a', 'b-c']));
  });
});
