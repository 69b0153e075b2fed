import { describe, expect, it } from 'vitest';
import {
  TRANSITIONAL_STATUSES,
  VERSION_TRANSITIONS,
  VersionStatus,
  jobOutOf,
  statusAfter,
} from './versions.js';

describe('the lifecycle table decides jobs and end statuses', () => {
  it('names the job that takes each transitional status forward, and none for the others', () => {
    expect(TRANSITIONAL_STATUSES.map((s) => [s, jobOutOf(s)])).toEqual([
      [VersionStatus.STARTING, 'start'],
      [VersionStatus.STOPPING, 'stop'],
      [VersionStatus.DELETING, 'delete'],
    ]);
    for (const status of Object.values(VersionStatus))
      if (!TRANSITIONAL_STATUSES.includes(status)) expect(jobOutOf(status)).toBeUndefined();
  });

  it('ends each job where VERSION_TRANSITIONS says', () => {
    expect(statusAfter('start')).toBe(VERSION_TRANSITIONS.start.end);
    expect(statusAfter('stop')).toBe(VersionStatus.STOPPED);
    expect(statusAfter('publish')).toBe(VersionStatus.PUBLISHED);
    expect(statusAfter('unpublish')).toBe(VersionStatus.STARTED);
  });
});
