import { describe, expect, it } from 'vitest';
import type { DiskUsage } from '../../lib/types';
import { DISK_KINDS, canPrune, listLength, prunedMessage, reclaimableText } from './disk';

const usage: DiskUsage = {
  images: { count: 2, active: 1, size: 2_000_000, reclaimable: 900_000 },
  containers: { count: 1, active: 1, size: 0, reclaimable: 0 },
  volumes: { count: 0, active: 0, size: 0, reclaimable: 0 },
  buildCache: { count: 3, active: 0, size: 500, reclaimable: 500 },
  imageList: [
    { id: 'sha256:a', repoTags: ['berth/welcome:latest'], size: 1_100_000, sharedSize: 0, containers: 1 },
    { id: 'sha256:b', repoTags: [], size: 900_000, sharedSize: 0, containers: 0 },
  ],
  containerList: [{ id: 'c1', name: 'web', image: 'nginx', size: 0, state: 'running', status: 'Up' }],
  volumeList: [],
};

describe('disk usage logic', () => {
  it('prints reclaimable as the docker CLI does, percentage rounded down', () => {
    expect(reclaimableText(usage.images)).toBe('900 kB (45%)');
    expect(reclaimableText(usage.buildCache)).toBe('500 B (100%)');
    expect(reclaimableText(usage.volumes)).toBe('0 B');
  });

  it('offers a prune only when something is unused', () => {
    expect(canPrune(usage.images)).toBe(true);
    expect(canPrune(usage.containers)).toBe(false);
    expect(canPrune(usage.volumes)).toBe(false);
    expect(canPrune(usage.buildCache)).toBe(true);
  });

  it('knows each kind list length, in docker system df order', () => {
    expect(DISK_KINDS).toEqual(['images', 'containers', 'volumes', 'buildCache']);
    expect(DISK_KINDS.map((k) => listLength(usage, k))).toEqual([2, 1, 0, 0]);
  });

  it('says what a prune removed and freed', () => {
    expect(prunedMessage({ removed: ['a', 'b'], spaceReclaimed: 1_500_000 })).toEqual({
      key: 'disk.pruned',
      params: { n: 2, size: '1.50 MB' },
    });
    expect(prunedMessage({ removed: [], spaceReclaimed: 0 }).key).toBe('disk.prunedNothing');
  });
});
