import { UnrecoverableError } from 'bullmq';
import { describe, expect, it } from 'vitest';
import type { DeployerEnv } from './deployer.env.js';
import { RuntimeProvisioningService } from './runtime-provisioning.service.js';

/** The service with its boundaries faked: the catalog, NATS, the databases and the driver. */
function service(options: { isolates: boolean; singleTenant: boolean; existing: string[] }) {
  const prepared: string[] = [];
  const runtimes = {
    find: (id: string) => Promise.resolve({ _id: id }),
    get: (id: string) => Promise.resolve({ _id: id }),
    list: () => Promise.resolve(options.existing.map((id) => ({ _id: id }))),
    setStatus: () => Promise.resolve(),
  };
  const driver = {
    isolatesRuntimes: options.isolates,
    prepareRuntime: (id: string) => Promise.resolve(void prepared.push(id)),
  };
  const none = () => Promise.resolve();
  const sut = new RuntimeProvisioningService(
    runtimes as never,
    {} as never,
    {} as never,
    { provisionRuntime: none } as never,
    { create: none } as never,
    driver as never,
    { KRE_SINGLE_TENANT: options.singleTenant } as DeployerEnv,
  );
  const create = (id: string) => sut.create({ runtimeId: id, by: 'test' }, none);
  return { create, prepared };
}

describe('runtime creation where runtimes cannot be kept apart (deployer not root)', () => {
  it('refuses a second runtime, naming the first and the way out, and makes nothing', async () => {
    const { create, prepared } = service({
      isolates: false,
      singleTenant: false,
      existing: ['a', 'b'],
    });
    const failure = create('b').catch((error: unknown) => error);
    expect(await failure).toBeInstanceOf(UnrecoverableError);
    expect(String(await failure)).toMatch(/"a" exists.*KRE_SINGLE_TENANT=true/);
    expect(prepared).toEqual([]);
  });

  it('creates the first runtime, any runtime with KRE_SINGLE_TENANT, and any where runtimes are isolated', async () => {
    for (const options of [
      { isolates: false, singleTenant: false, existing: ['a'] },
      { isolates: false, singleTenant: true, existing: ['a', 'b'] },
      { isolates: true, singleTenant: false, existing: ['a', 'b'] },
    ]) {
      const { create, prepared } = service(options);
      await create(options.existing.at(-1)!);
      expect(prepared).toEqual([options.existing.at(-1)]);
    }
  });
});
