import { fileURLToPath } from 'node:url';
import { validateKrtDirectory } from '@libs/krt';
import { testEnv } from '@libs/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DataPlane, type Endpoint, type VersionSpec, grpcClient, postJson } from './harness.js';

const examples = fileURLToPath(new URL('../../examples/', import.meta.url));

/** A version of an example KRT, from its manifest (what the deployer derives from it). */
async function exampleVersion(
  folder: string,
  runtimeId: string,
  config: Record<string, string> = {},
): Promise<VersionSpec> {
  const krtDir = `${examples}${folder}`;
  const { krt } = await validateKrtDirectory(krtDir);
  return {
    runtimeId,
    version: krt.version,
    krtDir,
    proto: krt.entrypoint.proto,
    config,
    workflows: krt.workflows.map((wf) => ({
      name: wf.name,
      rpc: wf.entrypoint,
      exitpoint: wf.exitpoint,
      nodes: wf.nodes.map((node) => ({
        name: node.name,
        displayName: node.displayName,
        src: node.src,
        subscriptions: node.subscriptions,
        replicas: node.replicas,
        objectStore: node.objectStore,
      })),
    })),
  };
}

describe('the example KRTs, directly and through the gateway', () => {
  const env = testEnv();
  const dp = new DataPlane(env);
  let greeter: VersionSpec;
  let classifier: VersionSpec;
  let greeterEp: Endpoint;
  let classifierEp: Endpoint;
  let gateway: Endpoint;

  beforeAll(async () => {
    await dp.connect();
    greeter = await exampleVersion('greeter', 'hello', { GREETING: 'Hola' });
    classifier = await exampleVersion('classifier', 'tickets');
    const [g, c] = [await dp.provision(greeter), await dp.provision(classifier)];
    await Promise.all([dp.startRunners(g), dp.startRunners(c)]);
    [greeterEp, classifierEp, gateway] = await Promise.all([
      dp.startEntrypoint(g),
      dp.startEntrypoint(c),
      dp.startGateway(),
    ]);
    await dp.route('hello', greeter.version, greeterEp);
    await dp.route('tickets', classifier.version, classifierEp);
  });
  afterAll(async () => {
    await dp.close();
  });

  it('greeter (KRT v1, three sequential nodes, a config variable) over HTTP and gRPC', async () => {
    for (const url of [`http://${greeterEp.http}/Greet`, `http://${gateway.http}/hello/Greet`])
      expect((await postJson(url, { name: '  Ada   Lovelace ' })).body).toEqual({
        greeting: 'Hola, Ada Lovelace!',
      });
    for (const [address, md] of [
      [greeterEp.grpc, {}],
      [gateway.grpc, { 'kre-runtime': 'hello' }],
    ] as const) {
      const c = grpcClient(`${greeter.krtDir}/${greeter.proto}`, [greeter.krtDir], address);
      const { response, error } = await c.call('Greet', { name: '' }, md);
      c.close();
      expect(error).toBeUndefined();
      expect(response).toEqual({ greeting: 'Hola, stranger!' });
    }
  });

  it('classifier (KRT v2): branches and channels route as declared', async () => {
    const classify = (text: string) =>
      postJson(`http://${gateway.http}/tickets/Classify`, { id: text.slice(0, 8), text });
    expect((await classify('I need a REFUND for this invoice')).body).toEqual({
      id: 'I need a',
      label: 'billing',
    });
    // Urgent: classifier → channel `urgent` → escalation → reply.
    expect((await classify('Login is DOWN for everyone')).body).toEqual({
      id: 'Login is',
      label: 'account',
      escalated: true,
      team: 'on-call',
    });
    const c = grpcClient(
      `${classifier.krtDir}/${classifier.proto}`,
      [classifier.krtDir],
      classifierEp.grpc,
    );
    const { response } = await c.call('Classify', { id: 't1', text: 'hello there' });
    c.close();
    expect(response).toEqual({ id: 't1', label: 'general', escalated: false, team: '' });
  });

  it('classifier feedback: errors reach the client, the object store keeps what was sent', async () => {
    expect(await postJson(`http://${classifierEp.http}/SendFeedback`, { id: 'f1' })).toMatchObject({
      status: 500,
      body: { message: expect.stringContaining('feedback needs an id and a label') as string },
    });
    expect(
      (await postJson(`http://${classifierEp.http}/SendFeedback`, { id: 'f2', label: 'billing' }))
        .body,
    ).toEqual({
      stored: true,
    });
  });
});
