import { describe, expect, it } from 'vitest';
import { parseRoute, paths } from '../src/router.tsx';

describe(parseRoute.name, () => {
  it('maps each portal path to its page, and back', () => {
    expect(parseRoute('/')).toEqual({ page: 'runtimes' });
    expect(parseRoute('/signin')).toEqual({ page: 'signin' });
    expect(parseRoute('/runtimes/rt-1')).toEqual({
      page: 'runtime',
      runtimeId: 'rt-1',
      tab: 'versions',
    });
    expect(parseRoute('/runtimes/rt-1/keys')).toEqual({
      page: 'runtime',
      runtimeId: 'rt-1',
      tab: 'keys',
    });
    expect(parseRoute('/runtimes/rt-1/versions/new')).toEqual({
      page: 'newVersion',
      runtimeId: 'rt-1',
    });
    expect(parseRoute('/runtimes/rt-1/versions/v%201/logs')).toEqual({
      page: 'version',
      runtimeId: 'rt-1',
      versionName: 'v 1',
      tab: 'logs',
    });
    expect(parseRoute(paths.version('rt-1', 'v 1', 'metrics'))).toMatchObject({
      tab: 'metrics',
      versionName: 'v 1',
    });
    expect(parseRoute('/runtimes/rt-1/nope')).toEqual({ page: 'notFound' });
    expect(parseRoute('/elsewhere')).toEqual({ page: 'notFound' });
  });
});
