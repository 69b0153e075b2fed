import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createCipheriv, randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getQueueToken } from '@nestjs/bullmq';
import { RuntimeJobsProducer, VERSIONS_QUEUE } from '@libs/jobs';
import { packKrt } from '@libs/krt';
import { DeployerClient } from '@libs/messaging';
import { RuntimesRepository } from '@libs/persistence';
import type { Queue } from 'bullmq';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { Harness } from './harness.js';

/** Issue #12: config values bound to their place and size, and no internal text for clients. */
describe('control-plane hardening', () => {
  let h: Harness;
  let work: string;
  let admin: string;

  const upload = async (runtimeId: string, krt: string) => {
    const form = new FormData();
    form.append('file', new Blob([await readFile(krt)]), 'version.krt');
    const response = await fetch(`${h.url}/api/v1/runtimes/${runtimeId}/versions`, {
      method: 'POST',
      headers: { ...h.authHeaders({ session: admin }), 'x-requested-with': 'test' },
      body: form,
    });
    expect(response.status, await response.clone().text()).toBe(201);
  };
  /** examples/greeter under another version name, with `files` added to its config. */
  const greeter = async (version: string, files: string[] = []) => {
    const dir = join(work, version);
    await cp('examples/greeter', dir, { recursive: true });
    const manifest = (await readFile(join(dir, 'kre.yaml'), 'utf8'))
      .replace('version: greeter-v1', `version: ${version}`)
      .replace(
        'config:\n  variables:\n    - GREETING\n',
        `config:\n  variables:\n    - GREETING\n${files.length ? `  files:\n${files.map((f) => `    - ${f}\n`).join('')}` : ''}`,
      );
    await writeFile(join(dir, 'kre.yaml'), manifest);
    const krt = join(work, `${version}.krt`);
    await packKrt(dir, krt, { prefix: h.env.KRE_PREFIX });
    return krt;
  };
  const setConfig = (runtimeId: string, versionName: string, values: Record<string, string>) =>
    h.gql(
      'mutation($input: UpdateConfigurationInput!) { updateVersionUserConfiguration(input: $input) { name } }',
      {
        input: {
          runtimeId,
          versionName,
          configurationVariables: Object.entries(values).map(([key, value]) => ({ key, value })),
        },
      },
      { session: admin },
    );
  const configOf = (runtimeId: string, name: string) =>
    h.gql<{
      version: { config: { vars: { key: string; value: string | null; isSet: boolean }[] } };
    }>(
      `query { version(runtimeId: "${runtimeId}", name: "${name}") { config { vars { key value isSet } } } }`,
      {},
      { session: admin },
    );
  const versions = () =>
    h
      .connection()
      .collection<{ _id: string; config: { key: string; value?: string }[] }>('versions');
  const sealedOf = async (id: string, key: string) =>
    (await versions().findOne({ _id: id }))!.config.find((c) => c.key === key)!.value!;
  const putSealed = async (id: string, key: string, value: string) => {
    const { config } = (await versions().findOne({ _id: id }))!;
    const i = config.findIndex((c) => c.key === key);
    await versions().updateOne({ _id: id }, { $set: { [`config.${i}.value`]: value } });
  };
  /** The log line carrying an error id (what an operator greps for). */
  const logLineOf = (errorId: unknown) => h.logs.lines.find((l) => l.includes(String(errorId)));

  beforeAll(async () => {
    h = await Harness.start();
    work = await mkdtemp(join(tmpdir(), 'kre-hardening-'));
    admin = await h.signIn(h.adminEmail);
    const created = await h.gql(
      'mutation { createRuntime(input: {id: "rt-h", name: "H", description: ""}) { id } }',
      {},
      { session: admin },
    );
    expect(created.errors).toBeUndefined();
    await h.get(RuntimesRepository).setStatus('rt-h', 'CREATED');
  });
  afterEach(() => {
    vi.restoreAllMocks();
  });
  afterAll(async () => {
    await h.close();
    await rm(work, { recursive: true, force: true });
  });

  describe('config values at rest', () => {
    it('a new version inherits a value sealed again for itself', async () => {
      await upload('rt-h', await greeter('greeter-v1'));
      expect((await setConfig('rt-h', 'greeter-v1', { GREETING: 'Hello' })).errors).toBeUndefined();
      await upload('rt-h', await greeter('greeter-v2'));

      expect((await configOf('rt-h', 'greeter-v2')).data?.version.config.vars).toEqual([
        { key: 'GREETING', value: 'Hello', isSet: true },
      ]);
      expect(await sealedOf('rt-h:greeter-v2', 'GREETING')).not.toBe(
        await sealedOf('rt-h:greeter-v1', 'GREETING'),
      );
    });

    it('a value copied in the database to another version does not open, and the client learns nothing of why', async () => {
      await putSealed('rt-h:greeter-v2', 'GREETING', await sealedOf('rt-h:greeter-v1', 'GREETING'));
      const result = await configOf('rt-h', 'greeter-v2');
      expect(result.errors?.[0]).toMatchObject({
        message: 'internal error',
        extensions: { code: 'INTERNAL_SERVER_ERROR' },
      });
      expect(logLineOf(result.errors?.[0]?.extensions?.errorId)).toMatch(
        /config value "GREETING" of version "greeter-v2" in runtime "rt-h" cannot be decrypted/,
      );
    });

    it('a value of the first format is refused, naming the key and saying to set it again', async () => {
      const iv = randomBytes(12);
      const cipher = createCipheriv(
        'aes-256-gcm',
        Buffer.from(h.env.CONFIG_ENCRYPTION_KEY, 'base64'),
        iv,
      );
      const data = Buffer.concat([cipher.update('Hello', 'utf8'), cipher.final()]);
      const legacy = ['v1', ...[iv, cipher.getAuthTag(), data].map((b) => b.toString('base64'))];
      await putSealed('rt-h:greeter-v2', 'GREETING', legacy.join(':'));

      const refused = await configOf('rt-h', 'greeter-v2');
      expect(refused.errors?.[0]?.extensions?.code).toBe('CONFLICT');
      expect(refused.errors?.[0]?.message).toMatch(
        /config value "GREETING" of version "greeter-v2" in runtime "rt-h" was stored in an old format.*set it again/,
      );
      expect((await setConfig('rt-h', 'greeter-v2', { GREETING: 'Hi' })).errors).toBeUndefined();
      expect((await configOf('rt-h', 'greeter-v2')).data?.version.config.vars).toEqual([
        { key: 'GREETING', value: 'Hi', isSet: true },
      ]);
    });
  });

  describe('config values up to 1 MiB', () => {
    // Through GraphQL, as a client sends them (the JSON body limit is above 1 MiB).
    const update = async (values: Record<string, string>) => {
      const result = await h.gql(
        'mutation($input: UpdateConfigurationInput!) { updateVersionUserConfiguration(input: $input) { config { completed } } }',
        {
          input: {
            runtimeId: 'rt-h',
            versionName: 'greeter-files',
            configurationVariables: Object.entries(values).map(([key, value]) => ({ key, value })),
          },
        },
        { session: admin },
      );
      return result.errors?.[0];
    };

    it('takes a 1 MiB file, and refuses a variable over 100 KiB naming it (variables are env vars)', async () => {
      await upload('rt-h', await greeter('greeter-files', ['MODEL_FILE']));
      const weights = randomBytes(512 * 1024).toString('hex'); // 1 MiB
      expect(await update({ MODEL_FILE: weights, GREETING: 'x' })).toBeUndefined();
      const vars = (await configOf('rt-h', 'greeter-files')).data?.version.config.vars ?? [];
      expect(vars.map((v) => [v.key, v.isSet, v.value?.length])).toEqual([
        ['GREETING', true, 1],
        ['MODEL_FILE', true, 1024 * 1024],
      ]);
      expect(vars[1].value === weights).toBe(true); // not toEqual: a failure would print 1 MiB

      expect(await update({ GREETING: 'g'.repeat(100 * 1024) })).toBeUndefined();
      const over = await update({ GREETING: 'g'.repeat(100 * 1024 + 1) });
      expect(over?.extensions?.code).toBe('BAD_USER_INPUT');
      expect(JSON.stringify(over)).toContain('input.configurationVariables.0.value');
      expect(JSON.stringify(over)).toMatch(
        /\\"GREETING\\" is a variable of 101 KiB; a variable may hold at most 100 KiB.*config\.files/,
      );
      const greeting = (await configOf('rt-h', 'greeter-files')).data?.version.config.vars[0];
      expect(greeting?.value?.length).toBe(100 * 1024); // the refused value changed nothing
    });
  });

  describe('internal errors', () => {
    const detail = 'connect ECONNREFUSED 10.11.12.13:6379';

    it('a queue failure answers a generic message and an error id; the log has the detail', async () => {
      vi.spyOn(h.get(RuntimeJobsProducer), 'add').mockRejectedValue(new Error(detail));
      const result = await h.gql(
        'mutation { createRuntime(input: {id: "rt-q", name: "Q", description: ""}) { id } }',
        {},
        { session: admin },
      );
      const [error] = result.errors ?? [];
      expect(error?.message).toBe('the job could not be queued: nothing was changed, try again');
      expect(error?.extensions).toMatchObject({ code: 'CONFLICT' });
      expect(error?.extensions?.errorId).toMatch(/^[0-9a-f-]{36}$/);
      expect(JSON.stringify(result)).not.toMatch(/ECONNREFUSED|10\.11\.12\.13/);
      expect(logLineOf(error?.extensions?.errorId)).toContain(detail);
      expect(await h.get(RuntimesRepository).find('rt-q')).toBeNull(); // rolled back
    });

    it('/health names each dependency and its status, never why it failed; the log says why', async () => {
      vi.spyOn(h.app.get<Queue>(getQueueToken(VERSIONS_QUEUE)), 'getJobCounts').mockRejectedValue(
        new Error(detail),
      );
      vi.spyOn(h.get(DeployerClient), 'status').mockRejectedValue(
        new Error('no responders: kre.svc.deployer.status'),
      );
      for (const path of ['/health', '/readyz']) {
        const response = await fetch(`${h.url}${path}`);
        expect(response.status).toBe(503);
        const text = await response.text();
        expect(JSON.parse(text)).toMatchObject({
          status: 'error',
          details: {
            mongo: { status: 'up' },
            redis: { status: 'down' },
            nats: { status: 'up' },
            deployer: { status: 'degraded' },
          },
        });
        expect(text).not.toMatch(/message|ECONNREFUSED|10\.11\.12\.13|responders/);
      }
      expect(h.logs.text()).toContain(`redis is down: ${detail}`);
      expect(h.logs.text()).toContain('deployer is degraded: no responders');

      vi.restoreAllMocks();
      const live = await fetch(`${h.url}/livez`);
      expect(await live.json()).toEqual({ status: 'ok' });
      // No deployer runs here: degraded (200), still without its error text.
      const ready = await fetch(`${h.url}/readyz`);
      expect(ready.status).toBe(200);
      const body = await ready.text();
      expect(JSON.parse(body)).toMatchObject({
        status: 'degraded',
        details: { redis: { status: 'up' } },
      });
      expect(body).not.toContain('message');
    });
  });
});
