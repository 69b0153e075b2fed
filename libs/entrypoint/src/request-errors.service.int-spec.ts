import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PayloadCodec, RECORD_ID, RpcError, connectNats, decodeRecord } from '@libs/messaging';
import { Names } from '@libs/naming';
import { testEnv } from '@libs/testing';
import type { NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RequestErrorsService } from './request-errors.service.js';
import { RpcCalls } from './rpc-calls.service.js';
import { loadVersionProto } from './version-proto.loader.js';
import { WorkflowClient } from './workflow.client.js';

const PROTO = `syntax = "proto3";
package greeter;
message Req { string name = 1; }
message Res { string greeting = 1; }
service Entrypoint { rpc Greet (Req) returns (Res); }
`;

/**
 * The entrypoint's failed calls in the version's logs, on the real NATS: a call its workflow
 * cannot take (no stream) is an ERROR line, a request that does not fit the rpc a WARN one, each
 * with the request id, source ENTRYPOINT and node `entrypoint`.
 */
describe(RequestErrorsService.name, () => {
  const env = testEnv();
  const names = new Names(env.KRE_PREFIX);
  const rt = 'ep-errors';
  let root: string;
  let nc: NatsConnection;
  let client: WorkflowClient;
  let sut: RpcCalls;
  const lines: Record<string, unknown>[] = [];

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'kre-ep-errors-'));
    await writeFile(join(root, 'greeter.proto'), PROTO);
    const proto = loadVersionProto(join(root, 'greeter.proto'), root);
    nc = await connectNats({ url: env.NATS_URL, credentials: env.NATS_CREDS, name: 'ep' });
    nc.subscribe(names.obsSubject(rt, 'logs'), {
      callback: (error, msg) => {
        if (!error) lines.push(decodeRecord('logs', msg.data));
      },
    });
    await nc.flush();
    client = new WorkflowClient(nc, names.entrypointReplySubject(rt, 'v1', 'test'), {
      // No stream takes this subject: the call cannot be sent.
      Greet: { workflow: 'wf', stream: 'NO_SUCH_STREAM', subject: `${env.KRE_PREFIX}.nowhere` },
    });
    client.start();
    sut = new RpcCalls(
      proto,
      client,
      new PayloadCodec(proto.root),
      5_000,
      new RequestErrorsService(nc, `${names.obsPrefix(rt)}.logs`, { runtimeId: rt, version: 'v1' }),
    );
  });

  afterAll(async () => {
    client?.stop();
    await nc?.drain();
    await rm(root, { recursive: true, force: true });
  });

  it('records a call that failed, with its request id and code, then answers the client the same', async () => {
    const failure = sut.callJson('Greet', { name: 'Ada' }, { requestId: 'req-unavailable' });
    await expect(failure).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    await expect(
      sut.callJson('Greet', { nope: 1 }, { requestId: 'req-bad' }),
    ).rejects.toBeInstanceOf(RpcError);
    await expect.poll(() => lines.length, { timeout: 5_000 }).toBe(2);
    const [unavailable, bad] = lines;
    expect(unavailable).toMatchObject({
      level: 'LOG_LEVEL_ERROR',
      source: 'LOG_SOURCE_ENTRYPOINT',
      requestId: 'req-unavailable',
      origin: { runtimeId: rt, version: 'v1', node: 'entrypoint' },
      fields: { rpc: 'Greet', code: 'UNAVAILABLE' },
    });
    expect(unavailable.message).toMatch(/^Greet failed \(UNAVAILABLE\): cannot send the request/);
    expect(unavailable.id).toMatch(RECORD_ID);
    expect(bad).toMatchObject({
      level: 'LOG_LEVEL_WARN',
      requestId: 'req-bad',
      fields: { rpc: 'Greet', code: 'INVALID_ARGUMENT' },
    });
  });
});
